"""Figure 04 — weight decay and the off-subspace gradient (simulation 04).

(a) The factor ``‖P⊥∇f(x)‖ / ‖Σ_{j active} a_j P⊥w_j(0)‖`` (median per member, dots) against λ, with
the prediction ``(1 − ηλ)^t`` of :func:`theory.subspace.weight_decay_factor` (line), for both variants.
(b) The minimal off-subspace flip radius (median per member) against λ, with the control whose decay
skips the first layer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.records import RunRecord, load_records
from theory import subspace as th

SIM = "04_weight_decay"


def _base(a: dict[str, np.ndarray]) -> np.ndarray:
    return th.frozen_offsubspace_grad_norm(a["X_test"], a["W"], a["b"], a["a"], a["W0"], a["basis"])


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 04."""
    runs = load_records(results, SIM)
    fig, (ax, bx) = new_figure(2)

    def first_layer(r: RunRecord) -> bool:
        return bool(r.config["variant"] == "first_layer" and r.config["role"] == "law")

    def paper_code(r: RunRecord) -> bool:
        return bool(r.config["variant"] == "paper_code")

    def skips_w(r: RunRecord) -> bool:
        return bool(str(r.config["condition"]).startswith("no-W-decay"))

    groups = {
        "first layer (a fixed)": first_layer,
        "paper code (all decayed)": paper_code,
        "decay skips W (control)": skips_w,
    }
    positive = [
        r.config["setup"]["weight_decay"] for r in runs if r.config["setup"]["weight_decay"] > 0
    ]
    zero_at = min(positive) / 3 if positive else 1e-5  # where λ = 0 is drawn on the log axis
    for label, pick in groups.items():
        rs = sorted((r for r in runs if pick(r)), key=lambda r: r.config["setup"]["weight_decay"])
        if not rs:
            continue
        lam = np.array([r.config["setup"]["weight_decay"] for r in rs])
        x = np.where(lam > 0, lam, zero_at)
        if "control" not in label:
            fac = [np.median(r.arrays()["grad_off"] / _base(r.arrays()), axis=1) for r in rs]
            (line,) = ax.plot(x, [np.median(v) for v in fac], "o", label=f"{label}: measured")
            s = rs[0].config["setup"]
            grid = np.geomspace(x.min(), x.max(), 50)
            ax.plot(
                grid,
                th.weight_decay_factor(s["lr"], np.where(grid > x.min(), grid, 0.0), s["steps"]),
                "-",
                lw=1,
                color=line.get_color(),
                label=f"{label}: (1−ηλ)^t",
            )
        rad = [np.nanmedian(r.arrays()["flip_radius"], axis=1) for r in rs]
        (line2,) = bx.plot(x, [np.nanmedian(v) for v in rad], "-o", label=label)
        for xi, v in zip(x, rad, strict=True):
            bx.scatter(np.full(len(v), xi), v, s=8, alpha=0.4, color=line2.get_color())
    ax.set(
        xscale="log",
        xlabel=r"weight decay $\lambda$ (λ = 0 drawn at the left)",
        ylabel=r"$\|P_\perp\nabla f\| / \|\sum_{active} a_j P_\perp w_j(0)\|$",
        title=r"(a) off-subspace gradient factor",
    )
    ax.legend(fontsize=7)
    bx.set(
        xscale="log",
        yscale="log",
        xlabel=r"weight decay $\lambda$",
        ylabel=r"off-subspace flip radius ($\ell_2$)",
        title="(b) flip radius vs λ",
    )
    bx.legend(fontsize=7)
    return save(fig, out, "fig04_weight_decay")


FIGURE = FigureSpec(
    stem="fig04_weight_decay",
    sims=(SIM,),
    caption="Weight decay scales the off-subspace gradient by (1−ηλ)^t exactly and "
    "grows the off-subspace flip radius.",
    make=make,
)
