"""Figure 13 — catastrophic overfitting of fast AT on the map of published recipes (simulation 13).

(a) The final test PGD accuracy per cell (colour) with, as text, the collapse — the test PGD accuracy's
end below its peak over the checks where the net had trained, member mean (0 where that peak stayed
below 0.3) — and the end-state FGSM − PGD gap; rows: data set × method, columns: ε as a fraction of the
data's ℓ∞ cap; (b) the test-set trajectories of the cell that collapses most (with
no collapse: the one with the largest end-state FGSM − PGD gap): PGD-10 (solid), FGSM (dashed) and
clean accuracy, members' mean, with the guard's replayed stops (green) and PGD-AT's test PGD accuracy
at the same radius (dotted); (c) the gradient alignment
along training in the same cell and at the smallest radius of the same data and method.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.measure import end_below_peak
from sims.records import RunRecord, load_records

SIM = "13_overfitting_map"
#: Simulation 13's peak threshold (a member that never reached it cannot collapse).
PEAK_MIN = 0.3
#: A collapse of at least this (simulation 13's guard drop) is one.
COLLAPSE = 0.2


def _collapse(r: RunRecord) -> float:
    a = r.arrays()
    return float(
        end_below_peak(
            np.asarray(a["pgd"]),
            peak_min=PEAK_MIN,
            clean=np.asarray(a["clean"]),
            clean_min=float(r.metrics["clean_min"]),
        ).mean()
    )


def _gap(r: RunRecord) -> float:
    a = r.arrays()
    return float((np.asarray(a["fgsm"])[-1] - np.asarray(a["pgd"])[-1]).mean())


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 13."""
    runs = [r for r in load_records(results, SIM) if "pgd" in r.arrays()]
    fig, (ax, bx, cx) = new_figure(3, width=4.4)
    rows = sorted({(str(r.config["data"]), str(r.config["method"])) for r in runs})
    # an untrained net that puts every point in one class is trivially robust: the collapse is read
    # from the trained peak (clean accuracy beating the more frequent class's share by 0.1)
    fracs = sorted({float(r.config["frac"]) for r in runs})
    grid = np.full((len(rows), len(fracs)), np.nan)
    for r in runs:
        i, j = (
            rows.index((str(r.config["data"]), str(r.config["method"]))),
            fracs.index(float(r.config["frac"])),
        )
        grid[i, j] = float(np.asarray(r.arrays()["pgd"])[-1].mean())
        ax.text(
            j,
            i,
            f"{_collapse(r):.2f}\n{_gap(r):+.2f}",
            ha="center",
            va="center",
            fontsize=5,
            color="white" if grid[i, j] < 0.5 else "black",
        )
    im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto", origin="upper")
    ax.set_xticks(range(len(fracs)), [f"{f:g}" for f in fracs])
    ax.set_yticks(range(len(rows)), [f"{d} {m}" for d, m in rows], fontsize=6)
    ax.set(
        xlabel=r"$\varepsilon$ / cap ($\ell_\infty$)",
        title="(a) end test PGD acc.; collapse, FGSM gap",
    )
    ax.grid(False)
    fig.colorbar(im, ax=ax)
    if runs:
        fast = [r for r in runs if r.config["method"] != "pgd"]
        top = max(fast, key=_collapse)
        if _collapse(top) < COLLAPSE:  # nothing collapses: show the largest FGSM − PGD gap
            top = max(fast, key=_gap)
        a = top.arrays()
        steps = np.asarray(a["checks"])
        bx.plot(steps, np.asarray(a["pgd"]).mean(1), color="C3", label="PGD-10")
        bx.plot(steps, np.asarray(a["fgsm"]).mean(1), color="C0", ls="--", label="FGSM")
        bx.plot(steps, np.asarray(a["clean"]).mean(1), color="0.5", lw=1, label="clean")
        for ref in runs:
            if (
                ref.config["method"] == "pgd"
                and ref.config["data"] == top.config["data"]
                and ref.config["frac"] == top.config["frac"]
            ):
                pa = np.asarray(ref.arrays()["pgd"]).mean(1)
                bx.plot(np.asarray(ref.arrays()["checks"]), pa, color="C3", ls=":", label="PGD-AT")
        fired = np.asarray(a["guard_fired"])
        for c in fired[fired >= 0]:
            bx.axvline(steps[c], color="C2", lw=0.6, alpha=0.5)
        bx.set(
            xlabel="step",
            ylabel="test accuracy",
            ylim=(0, 1),
            title=f"(b) {top.config['condition']} (guard stops: green)",
        )
        bx.legend(fontsize=7)
        small = [
            r
            for r in runs
            if r.config["data"] == top.config["data"]
            and r.config["method"] == top.config["method"]
            and float(r.config["frac"]) == fracs[0]
        ]
        for r, color in ((top, "C3"), *((s, "C0") for s in small)):
            al = np.asarray(r.arrays()["align"])
            cx.plot(
                steps, np.nanmean(al, axis=1), color=color, label=f"ε/cap = {r.config['frac']:g}"
            )
        cx.set(xlabel="step", ylabel="gradient alignment", title="(c) alignment, same recipe")
        cx.legend(fontsize=7)
    return save(fig, out, "fig13_overfitting_map")


FIGURE = FigureSpec(
    stem="fig13_overfitting_map",
    sims=(SIM,),
    caption=(
        "Fast AT over recipes and radii: where test PGD accuracy collapses, the FGSM accuracy beside "
        "it, and the gradient alignment."
    ),
    make=make,
)
