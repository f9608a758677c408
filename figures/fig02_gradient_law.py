"""Figure 02 — measured ``‖P⊥∇f(x)‖`` against the law ``√(σ_w² ρ(x) ℓ⊥)`` (simulation 02).

(a) One dot per test point and member, law runs coloured by co-dimension, negative controls as
crosses; the identity line is the prediction of :func:`theory.subspace.predicted_offsubspace_grad_norm`.
(b) The ratio measured/predicted per condition: median and 5–95% range (circles); diamonds: the RMS
``‖P⊥∇f‖`` over the ρ-free size ``√(σ_w² ℓ⊥ Σ_j a_j(0)² p̄)`` of
:func:`theory.subspace.expected_offsubspace_grad_norm` (init statistics and the measured share ``p̄`` of
active units), the part of claim MYV-gradlaw that tests "order one, not vanishing with d".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.records import load_records
from theory import subspace as th

SIM = "02_gradient_law"


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 02."""
    runs = sorted(
        load_records(results, SIM), key=lambda r: (r.config["role"], r.config["condition"])
    )
    fig, (ax, bx) = new_figure(2)
    lo, hi = np.inf, 0.0
    labels, meds, qlo, qhi, free = [], [], [], [], []
    for r in runs:
        s = r.config["setup"]
        a = r.arrays()
        pred = th.predicted_offsubspace_grad_norm(
            a["rho"], s["first_scale"] ** 2 / s["d"], s["d"] - s["k"]
        )
        meas = a["grad_off"]
        control = r.config["role"] == "control"
        ax.scatter(
            pred.ravel(),
            meas.ravel(),
            s=6 if not control else 9,
            alpha=0.5,
            marker="x" if control else "o",
            label=f"{r.config['condition']}" + (" (control)" if control else ""),
        )
        lo, hi = min(lo, pred.min(), meas.min()), max(hi, pred.max(), meas.max())
        ratio = (meas / pred).ravel()
        labels.append(r.config["condition"] + ("*" if control else ""))
        meds.append(np.median(ratio))
        qlo.append(np.percentile(ratio, 5))
        qhi.append(np.percentile(ratio, 95))
        size = th.expected_offsubspace_grad_norm(
            s["first_scale"] ** 2 / s["d"],
            s["d"] - s["k"],
            float((a["a0"] ** 2).sum(axis=1).mean()),
            float(a["active_share"].mean()),
        )
        free.append(float(np.sqrt(np.mean(meas**2)) / size))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="prediction")
    ax.set(
        xlabel=r"predicted $\sqrt{\sigma_w^2\,\rho(x)\,\ell_\perp}$",
        ylabel=r"measured $\|P_\perp \nabla_x f(x)\|$",
        title="(a) off-subspace gradient law",
    )
    ax.legend(fontsize=7, markerscale=2)
    y = np.arange(len(labels))
    bx.errorbar(
        meds,
        y,
        xerr=[np.subtract(meds, qlo), np.subtract(qhi, meds)],
        fmt="o",
        capsize=3,
        label="given ρ(x): median, 5–95%",
    )
    bx.plot(free, y, "D", color="C3", ms=5, label="ρ-free: RMS / √(σ²ℓ⊥Σa₀²p̄)")
    bx.legend(fontsize=7)
    bx.axvline(1.0, color="k", ls="--", lw=1)
    bx.axvspan(0.9, 1.1, color="0.85", zorder=0)
    bx.set_yticks(y, labels, fontsize=8)
    bx.set(
        xlabel="measured / predicted (median, 5–95%)", title="(b) ratio per condition (* control)"
    )
    return save(fig, out, "fig02_gradient_law")


FIGURE = FigureSpec(
    stem="fig02_gradient_law",
    sims=(SIM,),
    caption="Off-subspace gradients follow σ_w² ρ χ²_{ℓ⊥}; controls leave the law.",
    make=make,
)
