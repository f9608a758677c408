"""Figure 12 — fast adversarial training against PGD-AT and clean training (simulation 12).

Robust accuracy (PGD-50, two restarts; mean over members, band: min–max) against the radius as a
multiple of the training ε, one panel per data set and norm; the legend gives each method's gradient
evaluations.
"""

from __future__ import annotations

from pathlib import Path

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.records import load_records

SIM = "12_fast_vs_pgd"
PANELS = (("subspace", "linf"), ("subspace", "l2"), ("sparse", "linf"), ("sparse", "l2"))
NAMES = {"clean": "clean", "fast": "fast AT", "pgd": "PGD-10 AT"}


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 12."""
    runs = load_records(results, SIM)
    fig, axes = new_figure(4, width=3.8)
    for ax, (data, norm) in zip(axes, PANELS, strict=True):
        for method, name in NAMES.items():
            r = next((r for r in runs if r.config["condition"] == f"{data}-{norm}-{method}"), None)
            if r is None:
                continue
            a = r.arrays()
            x = a["eps_grid"] / r.config["eps"]
            (line,) = ax.plot(
                x,
                a["robust"].mean(0),
                marker="o",
                label=f"{name} ({r.metrics['grad_evals']:.0f} grad. evals)",
            )
            ax.fill_between(
                x, a["robust"].min(0), a["robust"].max(0), alpha=0.15, color=line.get_color()
            )
        norm_tex = r"\ell_\infty" if norm == "linf" else r"\ell_2"
        ax.set(
            xlabel=r"radius / training $\varepsilon$",
            ylabel="robust accuracy",
            title=f"{data}, ${norm_tex}$",
            ylim=(-0.02, 1.02),
        )
        ax.legend(fontsize=6)
    return save(fig, out, "fig12_fast_vs_pgd")


FIGURE = FigureSpec(
    stem="fig12_fast_vs_pgd",
    sims=(SIM,),
    caption="Fast AT against PGD-AT: robust accuracy and cost in gradient evaluations.",
    make=make,
)
