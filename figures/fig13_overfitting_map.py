"""Figure 13 — catastrophic overfitting of fast AT (simulation 13).

(a) Final PGD-50 test robust accuracy over ``(α/ε, ε)`` without the guard (FGSM without a random start
as the last column); (b) the largest fall of the training batch's PGD robust accuracy below its peak
over the same grid; (c) the guard's robust-accuracy trajectories (guard off), one line per cell.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.records import load_records

SIM = "13_overfitting_map"


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 13."""
    runs = [r for r in load_records(results, SIM) if not r.config["guard"]]
    fig, (ax, bx, cx) = new_figure(3, width=4.2)
    epss = sorted({r.config["eps"] for r in runs})
    cols = sorted({r.config["a"] for r in runs if r.config["start"] == "uniform"})
    labels = [f"{a:g}" for a in cols] + ["FGSM"]
    final = np.full((len(epss), len(labels)), np.nan)
    fall = np.full_like(final, np.nan)
    for r in runs:
        i = epss.index(r.config["eps"])
        j = len(cols) if r.config["start"] == "none" else cols.index(r.config["a"])
        a = r.arrays()
        final[i, j] = a["robust"].mean()
        acc = a["guard_acc"]
        fall[i, j] = (np.maximum.accumulate(acc, axis=0) - acc).max()
        cx.plot(np.arange(len(acc)) * 10, acc.mean(1), lw=1, alpha=0.7)
    for axis, M, title in (
        (ax, final, "(a) final robust accuracy"),
        (bx, fall, "(b) largest fall below peak"),
    ):
        im = axis.imshow(
            M, cmap="viridis", vmin=0, vmax=1 if axis is ax else 0.5, aspect="auto", origin="lower"
        )
        axis.set_xticks(range(len(labels)), labels)
        axis.set_yticks(range(len(epss)), [f"{e:g}" for e in epss])
        axis.set(
            xlabel=r"$\alpha/\varepsilon$", ylabel=r"$\varepsilon$ ($\ell_\infty$)", title=title
        )
        axis.grid(False)
        fig.colorbar(im, ax=axis)
    cx.set(
        xlabel="step",
        ylabel="PGD-5 robust acc. (training batch)",
        title="(c) trajectories, guard off",
    )
    return save(fig, out, "fig13_overfitting_map")


FIGURE = FigureSpec(
    stem="fig13_overfitting_map",
    sims=(SIM,),
    caption="Fast AT over step size and radius: final robust accuracy and any collapse below the peak.",
    make=make,
)
