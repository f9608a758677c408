"""Figure 09b — the course of the purification during adversarial training (simulation 09).

(a) The median over neurons of each neuron's dense mixture per unit of its norm, ``‖Mᵀv_i‖₁/‖w_i‖``,
against the steps of the training continued from the clean weights: ℓ∞ PGD-AT and FGM-AT at
``ε = k^{-3/2}``, ℓ2 PGD-AT at 0.25 and at half and all of the ℓ∞ ball's ℓ2 reach ``k^{-3/2}·√d``
(matched strength), and continued clean training; the line is the mean over members, the band their
range. (b) The median purity ``|c_ij*|/‖c_i‖`` along the same runs. The claims PUR-fgm-path and
PUR-l2-path read the ends and the last quarter of these curves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.records import load_records

SIM = "09_purification"
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "gray")
ROWS = {
    "sparse-pgd_linf": "ℓ∞ PGD-AT",
    "sparse-fgm_linf": "ℓ∞ FGM-AT",
    "sparse-pgd_l2": "ℓ2 PGD-AT, 0.25",
    "sparse-pgd_l2_half": "ℓ2 PGD-AT, half the reach",
    "sparse-pgd_l2_full": "ℓ2 PGD-AT, the reach",
    "sparse-none": "continued clean training",
}


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 09b."""
    runs = {r.config["condition"]: r for r in load_records(results, SIM)}
    fig, axes = new_figure(2)
    for i, (key, label) in enumerate(ROWS.items()):
        r = runs.get(key)
        if r is None or "at_path_mixture" not in r.arrays():
            continue
        a = r.arrays()
        steps = np.asarray(a["at_path_steps"])
        for ax, name in zip(axes, ("at_path_mixture", "at_path_purity"), strict=True):
            med = np.median(np.asarray(a[name], float), axis=-1)  # (T, M)
            style = ":" if key == "sparse-none" else "-"
            ax.plot(steps, med.mean(axis=1), style, color=COLORS[i], label=label)
            ax.fill_between(steps, med.min(axis=1), med.max(axis=1), color=COLORS[i], alpha=0.15)
    axes[0].set(
        xlabel="steps of the continued training",
        ylabel=r"median $\|M^\top v_i\|_1 / \|w_i\|$",
        title="(a) dense mixture",
    )
    axes[1].set(
        xlabel="steps of the continued training",
        ylabel=r"median purity $|c_{ij^*}|/\|c_i\|$",
        title="(b) purity",
    )
    axes[0].legend(fontsize=7)
    return save(fig, out, "fig09_purification_dynamics")


FIGURE = FigureSpec(
    stem="fig09_purification_dynamics",
    sims=(SIM,),
    caption="The purification's course: dense mixture and purity through each continued training.",
    make=make,
)
