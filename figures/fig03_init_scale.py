"""Figure 03 — off-subspace gradient and flip radius against the init scale β (simulation 03).

(a) Median ``‖P⊥∇f‖`` per member against β on log axes (dots: members; line: median over members),
GD stopped at the first 100% training accuracy and at the margin 0.3 (the law) and Adam on a rotated
basis (the control), with the slope-1 prediction through the GD value at β = 1. (b) The minimal off-subspace flip radius found by the restricted minimum-norm attack
and the first-order radius ``r* = |f|/‖P⊥∇f‖``, per member medians.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.records import load_records
from theory import subspace as th

SIM = "03_init_scale"


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 03."""
    runs = load_records(results, SIM)
    fig, (ax, bx) = new_figure(2)
    for prefix, name in (
        ("gd-", "GD, to 100% accuracy"),
        ("gd_margin-", "GD, to margin 0.3"),
        ("adam-", "Adam, rotated (control)"),
    ):
        rs = sorted(
            (r for r in runs if str(r.config["condition"]).startswith(prefix)),
            key=lambda r: r.config["setup"]["first_scale"],
        )
        if not rs:
            continue
        betas = np.array([r.config["setup"]["first_scale"] for r in rs])
        g = [np.median(r.arrays()["grad_off"], axis=1) for r in rs]
        (line,) = ax.plot(betas, [np.median(v) for v in g], "-o", label=name)
        for b, v in zip(betas, g, strict=True):
            ax.scatter(np.full(len(v), b), v, s=8, alpha=0.4, color=line.get_color())
        if prefix == "gd-":
            ref = np.median(g[-1]) if betas[-1] == 1.0 else np.median(g[0])
            ax.plot(
                betas,
                ref * betas ** th.init_scale_slope() / betas.max(),
                "k--",
                lw=1,
                label="slope 1 (theory)",
            )
        rad = [
            np.nanmedian(
                np.where(np.isfinite(r.arrays()["flip_radius"]), r.arrays()["flip_radius"], np.nan),
                axis=1,
            )
            for r in rs
        ]
        rstar = []
        for r in rs:
            a = r.arrays()
            rstar.append(np.median(th.first_order_flip_radius(a["f_test"], a["grad_off"]), axis=1))
        (line2,) = bx.plot(betas, [np.nanmedian(v) for v in rad], "-o", label=f"{name}: attack")
        bx.plot(
            betas,
            [np.median(v) for v in rstar],
            ":",
            color=line2.get_color(),
            label=f"{name}: r* = |f|/‖P⊥∇f‖",
        )
        for b, v in zip(betas, rad, strict=True):
            bx.scatter(np.full(len(v), b), v, s=8, alpha=0.4, color=line2.get_color())
    ax.set(
        xscale="log",
        yscale="log",
        xlabel=r"init scale $\beta$",
        ylabel=r"median $\|P_\perp\nabla_x f\|$",
        title="(a) off-subspace gradient vs β",
    )
    ax.legend(fontsize=7)
    bx.set(
        xscale="log",
        yscale="log",
        xlabel=r"init scale $\beta$",
        ylabel=r"off-subspace flip radius ($\ell_2$)",
        title="(b) flip radius vs β",
    )
    bx.legend(fontsize=7)
    return save(fig, out, "fig03_init_scale")


FIGURE = FigureSpec(
    stem="fig03_init_scale",
    sims=(SIM,),
    caption="Smaller init: off-subspace gradient ∝ β, flip radius grows; not so for Adam.",
    make=make,
)
