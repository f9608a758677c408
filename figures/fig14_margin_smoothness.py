"""Figure 14 — margin and smoothness of PGD-AT, TRADES and bridged AT (simulation 14).

(a) Distribution of per-point ℓ2 margins (minimum-norm attack) per method; (b) mean smoothness
``KL(p(x) ‖ p(x'))`` against the median margin; (c) robust accuracy against the evaluation radius
(training ε dotted).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.records import load_records

SIM = "14_margin_smoothness"


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 14."""
    runs = sorted(
        load_records(results, SIM), key=lambda r: (r.config["role"], r.config["condition"])
    )
    fig, (ax, bx, cx) = new_figure(3, width=4.4)
    names, data = [], []
    for r in runs:
        a = r.arrays()
        name = r.config["condition"] + (" (control)" if r.config["role"] == "control" else "")
        m = a["margin"]
        names.append(name)
        data.append(m[np.isfinite(m)])
        marker = "x" if r.config["role"] == "control" else "o"
        bx.scatter(np.nanmedian(m), a["smoothness"].mean(), marker=marker, s=40, label=name)
        cx.plot(a["eps_grid"], a["robust"].mean(0), marker=marker, ms=4, label=name)
    if data:
        ax.boxplot(data, orientation="horizontal", showfliers=False)
        ax.set_yticks(range(1, len(names) + 1), names, fontsize=7)
        cx.axvline(runs[0].arrays()["eps_grid"][1], color="0.5", ls=":", lw=1)
    ax.set(xlabel=r"$\ell_2$ margin (minimum-norm attack)", title="(a) margins")
    bx.set(
        xlabel="median margin",
        ylabel=r"mean KL$(p(x)\,\|\,p(x'))$",
        title="(b) smoothness vs margin",
    )
    bx.legend(fontsize=6)
    cx.set(
        xlabel=r"$\ell_2$ radius",
        ylabel="robust accuracy",
        title="(c) robustness",
        ylim=(-0.02, 1.02),
    )
    cx.legend(fontsize=6)
    return save(fig, out, "fig14_margin_smoothness")


FIGURE = FigureSpec(
    stem="fig14_margin_smoothness",
    sims=(SIM,),
    caption="PGD-AT, TRADES and BAT: margins, smoothness and robust accuracy.",
    make=make,
)
