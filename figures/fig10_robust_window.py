"""Figure 10 — robust accuracy of clean, adversarially trained, linear and NTK models across the
feasible range (simulation 10).

(a) ℓ∞ robust accuracy (PGD-50, two restarts; mean over members, band: min–max) against the radius as a
fraction of the data's ℓ∞ cap (half the median nearest other-class distance: beyond it no classifier is
robust on half the points), for the clean net, ℓ∞ PGD-AT at its training radii (dotted lines), ℓ∞ FGM-AT,
logistic regression and the NTK model; (b) the ℓ2 analogue against the ℓ2 cap (the ℓ2-trained net at the
``paper`` rung). Clean accuracy in the legend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.records import load_records

SIM = "10_robust_window"
BASELINES = {"pgd_l2": r"PGD-AT $\ell_2$", "linear": "linear", "ntk": "NTK"}


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 10."""
    runs = [r for r in load_records(results, SIM) if r.config["condition"] == "sparse"]
    fig, axes = new_figure(2)
    for r in runs:
        a = r.arrays()
        fracs = np.asarray(a["at_fracs"], dtype=float)
        models = {"clean": "clean"}
        models.update(
            {
                str(m): rf"PGD-AT $\ell_\infty$, {f:g} cap"
                for m, f in zip(a["at_models"], fracs, strict=True)
            }
        )
        fgm = f"{float(a['fgm_frac']):g}"
        models[str(a["fgm_model"])] = rf"FGM-AT $\ell_\infty$, {fgm} cap"
        models.update(BASELINES)
        for f in fracs:
            axes[0].axvline(f, color="0.6", ls=":", lw=0.8)
        for norm, ax in (("linf", axes[0]), ("l2", axes[1])):
            grid = np.asarray(a[f"{norm}_grid"], dtype=float)
            x = grid / float(a[f"{norm}_cap"])
            for m, label in models.items():
                if f"{m}_{norm}_robust" not in a:  # quick trains no l2 net
                    continue
                acc = a[f"{m}_{norm}_robust"]
                (line,) = ax.plot(
                    x,
                    acc.mean(0),
                    marker="o",
                    ms=3,
                    label=f"{label} (clean {a[m + '_test_acc'].mean():.2f})",
                )
                ax.fill_between(x, acc.min(0), acc.max(0), alpha=0.15, color=line.get_color())
        caps = (float(a["linf_cap"]), float(a["l2_cap"]))
    shown = [f" {c:.3g}" for c in caps] if runs else ["", ""]
    axes[0].set(
        xlabel=rf"$\ell_\infty$ radius / cap{shown[0]}",
        ylabel="robust accuracy",
        title="(a) $\\ell_\\infty$",
    )
    axes[1].set(
        xlabel=rf"$\ell_2$ radius / cap{shown[1]}", ylabel="robust accuracy", title="(b) $\\ell_2$"
    )
    for ax in axes:
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=6)
    return save(fig, out, "fig10_robust_window")


FIGURE = FigureSpec(
    stem="fig10_robust_window",
    sims=(SIM,),
    caption=(
        "Robust accuracy from 0 to the data's cap: PGD-AT and FGM-AT against the clean net, linear and "
        "NTK models."
    ),
    make=make,
)
