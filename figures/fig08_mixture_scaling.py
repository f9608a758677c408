"""Figure 08 — dense mixtures and flip radii of clean-trained networks against k and d (simulation 08).

(a, b) Median ``|c_ij'/c_ij*|`` over neurons and members against ``k`` at the sweep's ``d`` and against
``d`` at ``k = 4``, with true labels (dots), the two shuffled-label controls (crosses) and the derived
``k/d`` of :func:`theory.purification.mixture_ratio` (dashed). (c, d) The clean nets' median minimal ℓ∞
and ℓ2 flip radii over the same sweeps (true labels, dots; shuffled labels, crosses) with the radius of
the paper's clean network with its threshold, :func:`theory.purification.clean_network_flip_radius_median`
(dashed), carrying the true-label nets' threshold as a share of one atom's signal
(:func:`paper_checks.purification.threshold_share`; the threshold is ``‖w‖/(2√k)``, or half of the
neuron's largest response while that is smaller). Open red circles in (a, b): levels the mixture checks leave out — nets that
did not fit their labels, or a sample in which the median atom pair shares no training point
(:func:`theory.purification.pair_cooccurrence`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import NullFormatter, ScalarFormatter

from figures.registry import FigureSpec
from figures.style import new_figure, save
from paper_checks.purification import fitted, pairs_meet, threshold_share
from sims.records import RunRecord, load_records
from theory import purification as th

SIM = "08_mixture_scaling"


def _arm(r: RunRecord) -> str:
    return str(r.config["condition"]).split("-")[0]


def _sweep(runs: list[RunRecord], fixed: str) -> tuple[int, list[RunRecord]]:
    """The runs at the value of ``fixed`` that most rows share (the sweep in the other size)."""
    counts: dict[int, int] = {}
    for r in runs:
        counts[r.config["setup"][fixed]] = counts.get(r.config["setup"][fixed], 0) + 1
    value = max(counts, key=lambda v: counts[v])
    return value, [r for r in runs if r.config["setup"][fixed] == value]


def _size_ticks(ax: object, xs: list[float]) -> None:
    """Ticks at the sweep's sizes, written as plain numbers on the log axis."""
    ax.set_xticks(xs)  # type: ignore[attr-defined]
    ax.xaxis.set_major_formatter(ScalarFormatter())  # type: ignore[attr-defined]
    ax.xaxis.set_minor_formatter(NullFormatter())  # type: ignore[attr-defined]


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 08."""
    runs = load_records(results, SIM)
    fig, axes = new_figure(4, width=4.2)
    for i, (vary, fixed) in enumerate((("k", "d"), ("d", "k"))):
        fixed_value, rows = _sweep(runs, fixed)
        ax = axes[i]
        pts: dict[str, list[tuple[float, float]]] = {}
        for r in rows:
            value = float(np.median(r.arrays()["mixture_ratio"]))
            pts.setdefault(_arm(r), []).append((r.config["setup"][vary], value))
        for arm, xy in sorted(pts.items(), key=lambda kv: kv[0] != "true"):
            x, y = np.array(sorted(xy)).T
            control = arm != "true"
            ax.plot(
                x, y, ":" if control else "-", marker="x" if control else "o", label=f"{arm} labels"
            )
        unread = sorted(
            (r.config["setup"][vary], float(np.median(r.arrays()["mixture_ratio"])))
            for r in rows
            if _arm(r) == "true" and (not fitted(r) or not pairs_meet(r))
        )
        if unread:
            ux, uy = np.array(unread).T
            ax.plot(
                ux,
                uy,
                "o",
                ms=11,
                mfc="none",
                color="C3",
                label="left out by the check",
            )
        xs = np.array(sorted({p[0] for v in pts.values() for p in v}))
        pred = [
            th.mixture_ratio(x, fixed_value) if vary == "k" else th.mixture_ratio(fixed_value, x)
            for x in xs
        ]
        ax.plot(xs, pred, "k--", lw=1, label="derived k/d")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel=f"${vary}$",
            ylabel=r"median $|c_{ij'}/c_{ij^*}|$",
            title=f"({'ab'[i]}) mixtures, ${fixed} = {fixed_value}$",
        )
        _size_ticks(ax, list(xs))
        ax.legend(fontsize=7)
        ax = axes[2 + i]
        for norm, color in (("linf", "C0"), ("l2", "C1")):
            key = f"flip_{norm}"
            label = "ℓ∞" if norm == "linf" else "ℓ2"
            for arm in ("true", "shuffled"):
                xy = sorted(
                    (r.config["setup"][vary], float(np.nanmedian(r.arrays()[key])))
                    for r in rows
                    if _arm(r) == arm and key in r.arrays()
                )
                if not xy:
                    continue
                x, y = np.array(xy).T
                control = arm != "true"
                ax.plot(
                    x,
                    y,
                    ":" if control else "-",
                    marker="x" if control else "o",
                    color=color,
                    label=f"{label}, {arm} labels",
                )
            level: dict[float, float] = {}
            for r in rows:
                share = threshold_share(r) if _arm(r) == "true" else None
                if share is not None:
                    level[float(r.config["setup"][vary])] = share
            derived = [
                th.clean_network_flip_radius_median(
                    int(x) if vary == "k" else int(fixed_value),
                    int(fixed_value) if vary == "k" else int(x),
                    norm,
                    share,
                )
                for x, share in sorted(level.items())
            ]
            ax.plot(sorted(level), derived, "--", color=color, lw=1, label=f"{label} derived")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel=f"${vary}$",
            ylabel="median minimal flip radius",
            title=f"({'cd'[i]}) clean net's radius, ${fixed} = {fixed_value}$",
        )
        _size_ticks(ax, list(xs))
        ax.legend(fontsize=6)
    return save(fig, out, "fig08_mixture_scaling")


FIGURE = FigureSpec(
    stem="fig08_mixture_scaling",
    sims=(SIM,),
    caption="Clean training leaves a dense mixture on every other atom: its size, and the clean net's "
    "flip radius, against k and d.",
    make=make,
)
