"""Figure 10 — robust accuracy of clean, adversarially trained, linear and NTK models (simulation 10).

(a) ℓ∞ robust accuracy (PGD-50, two restarts; mean over members, band: min–max) against the radius, the
derived window ``[k^{-3/2}, k^{-1/2}]`` shaded; (b) the ℓ2 analogue (the ℓ2-trained net from the ``medium``
scale up). Clean accuracy in the legend.
"""

from __future__ import annotations

from pathlib import Path

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.records import load_records
from theory import purification as th

SIM = "10_robust_window"
MODELS = {
    "clean": "clean",
    "at_linf": r"PGD-AT $\ell_\infty$",
    "at_l2": r"PGD-AT $\ell_2$",
    "linear": "linear",
    "ntk": "NTK",
}


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 10."""
    runs = [r for r in load_records(results, SIM) if r.config["condition"] == "sparse"]
    fig, axes = new_figure(2)
    for r in runs:
        a = r.arrays()
        k = r.config["setup"]["k"]
        lo, hi = th.robustness_window_linf(k)
        axes[0].axvspan(lo, hi, color="0.9", label="derived window" if r is runs[0] else None)
        for norm, ax in (("linf", axes[0]), ("l2", axes[1])):
            grid = a[f"{norm}_grid"]
            for m, label in MODELS.items():
                if f"{m}_{norm}_robust" not in a:  # quick trains no l2 net
                    continue
                acc = a[f"{m}_{norm}_robust"]
                (line,) = ax.plot(
                    grid,
                    acc.mean(0),
                    marker="o",
                    ms=3,
                    label=f"{label} (clean {a[m + '_test_acc'].mean():.2f})",
                )
                ax.fill_between(grid, acc.min(0), acc.max(0), alpha=0.15, color=line.get_color())
    axes[0].set(
        xscale="log",
        xlabel=r"$\ell_\infty$ radius $\tau$",
        ylabel="robust accuracy",
        title="(a) $\\ell_\\infty$",
    )
    axes[1].set(
        xscale="log", xlabel=r"$\ell_2$ radius", ylabel="robust accuracy", title="(b) $\\ell_2$"
    )
    for ax in axes:
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=6)
    return save(fig, out, "fig10_robust_window")


FIGURE = FigureSpec(
    stem="fig10_robust_window",
    sims=(SIM,),
    caption="Adversarial training buys robustness near k^{-3/2}; linear and NTK models have none.",
    make=make,
)
