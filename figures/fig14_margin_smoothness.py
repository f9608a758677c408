"""Figure 14 — PGD-AT, TRADES and bridged AT at matched robustness (simulation 14).

Every method is a curve over its knob (PGD-AT: the training radius; TRADES and BAT: β), drawn against its
robust accuracy at the training radius, so that models of equal robustness sit one above the other (the
comparison of :mod:`paper_checks.bat`): (a) the median ℓ2 margin (minimum-norm attack; a misclassified
point counts 0, as in the claims); (b) the mean
smoothness ``KL(p(x) ‖ p(x'))``; (c) the robust accuracy at the largest evaluated radius. Horizontal bars:
the spread (one standard deviation) of the robust accuracy over seeds. (d) Every row's robust accuracy at
the training radius along training (PGD-20, mean over members): whether a curve's points had stopped
moving when training ended.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.records import RunRecord, load_records

SIM = "14_margin_smoothness"
STYLE = {
    "pgd": ("PGD-AT (training radius)", "o", "-"),
    "trades": ("TRADES (β)", "s", "-"),
    "bat": ("BAT, m = 4 (β)", "^", "-"),
    "trades-seed1": ("TRADES, attack seed 1 (control)", "x", ":"),
}


def _knob(r: RunRecord) -> float:
    return float(r.config["frac"] if r.config["family"] == "pgd" else r.config["beta"])


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 14."""
    runs = load_records(results, SIM)
    fig, (ax, bx, cx, dx) = new_figure(4, width=4.4)
    eps = large = None
    for family, (label, marker, ls) in STYLE.items():
        curve = sorted((r for r in runs if r.config.get("family") == family), key=_knob)
        if not curve:
            continue
        x, sd, margin, kl, rl = [], [], [], [], []
        for r in curve:
            a = r.arrays()
            grid = np.asarray(a["eps_grid"], dtype=float)
            j = int(np.argmin(np.abs(grid - float(r.metrics["eps"]))))
            eps, large = grid[j], grid[-1]
            per_seed = np.asarray(a["robust"], dtype=float)
            x.append(per_seed[:, j].mean())
            sd.append(per_seed[:, j].std(ddof=1) if per_seed.shape[0] > 1 else 0.0)
            # the claims' margin: a misclassified point counts 0 (paper_checks.bat)
            margin.append(np.median(np.nan_to_num(np.asarray(a["margin"], dtype=float), nan=0.0)))
            kl.append(float(np.mean(a["smoothness"])))
            rl.append(per_seed[:, -1].mean())
        lines = ax.errorbar(
            x, margin, xerr=sd, marker=marker, ls=ls, ms=5, lw=1.2, capsize=2, label=label
        )
        color = lines[0].get_color()
        for axis, y in ((bx, kl), (cx, rl)):
            axis.errorbar(x, y, xerr=sd, marker=marker, ls=ls, ms=5, lw=1.2, capsize=2, color=color)
        for r in curve:
            a = r.arrays()
            if "robust_path" in a:
                path = np.asarray(a["robust_path"], dtype=float).mean(axis=1)
                dx.plot(a["path_steps"], path, marker=marker, ls=ls, ms=3, lw=0.8, color=color)
    shown = f"{eps:.3g}" if eps is not None else "ε"
    ax.set(
        xlabel=f"robust accuracy at the training radius {shown}",
        ylabel=r"median $\ell_2$ margin",
        title="(a) margin at matched robustness",
    )
    bx.set(
        xlabel=f"robust accuracy at {shown}",
        ylabel=r"mean KL$(p(x)\,\|\,p(x'))$",
        title="(b) smoothness",
    )
    cx.set(
        xlabel=f"robust accuracy at {shown}",
        ylabel=f"robust accuracy at {large:.3g}" if large is not None else "robust accuracy",
        title="(c) robustness at the largest radius",
    )
    dx.set(
        xlabel="training step",
        ylabel=f"robust accuracy at {shown}",
        title="(d) robustness along training",
    )
    ax.legend(fontsize=6)
    return save(fig, out, "fig14_margin_smoothness")


FIGURE = FigureSpec(
    stem="fig14_margin_smoothness",
    sims=(SIM,),
    caption=(
        "PGD-AT, TRADES and BAT at matched robustness: margin, smoothness and robustness at the largest "
        "radius against robust accuracy at the training radius; every row's robustness along training."
    ),
    make=make,
)
