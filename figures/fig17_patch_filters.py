"""Figure 17 — the neurons of a network trained on natural-image patches, as 8×8 filters, before and
after adversarial training (simulation 17; Allen-Zhu & Li 2020's Figure 6 on real patches).

(a) For the first member of the teacher-label run with PGD-AT (ℓ∞): the twelve neurons of largest
clean-trained norm as filters — clean-trained ``w_i`` (top row), the same neuron after adversarial
training ``w_i'`` (middle row) — and the learned dictionary atom on which the clean neuron puts its
largest coefficient (bottom row, with the neuron's purity ``|c_ij*|/‖c_i‖`` before → after). Each
filter has its own symmetric red–blue scale. (b) Per neuron over all members, the dense mixture
``‖Mᵀv‖₁/‖w‖`` after the continued training against before, for PGD-AT, FGM-AT and continued clean
training (the diagonal: no change; PUR-patch-purify asks for a fall of 2×, the dashed line).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.gridspec import SubplotSpec

from figures.registry import FigureSpec
from figures.style import save, set_theme
from sims.measure import neuron_decomposition
from sims.records import RunRecord, load_records

SIM = "17_patch_purification"
#: Neurons drawn in panel (a).
SHOWN = 12
SCATTER = (
    ("teacher-pgd_linf", "PGD-AT (ℓ∞)"),
    ("teacher-fgm_linf", "FGM-AT (ℓ∞)"),
    ("teacher-none", "continued clean training"),
)


def _rel_l1(a: dict[str, np.ndarray], key: str) -> np.ndarray:
    dec = neuron_decomposition(a[key], a["dictionary"], a["w_star"])
    return np.asarray(dec["mixture_l1"] / np.linalg.norm(a[key], axis=-1))


def _filters(fig: Figure, spec: SubplotSpec, a: dict[str, np.ndarray]) -> None:
    W, Wat, M = np.asarray(a["W_clean"])[0], np.asarray(a["at_W"])[0], np.asarray(a["dictionary"])
    before = neuron_decomposition(W[None], M, a["w_star"])
    after = neuron_decomposition(Wat[None], M, a["w_star"])
    pick = np.argsort(-np.linalg.norm(W, axis=1), kind="stable")[:SHOWN]
    grid = spec.subgridspec(3, len(pick), wspace=0.08, hspace=0.25)
    coef = W @ M
    for col, i in enumerate(pick):
        j = int(np.abs(coef[i]).argmax())
        atom = M[:, j] * np.sign(coef[i, j])
        pur = f"{before['purity'][0, i]:.2f}→{after['purity'][0, i]:.2f}"
        for row, (img, label) in enumerate(
            ((W[i], "clean w"), (Wat[i], "after AT w'"), (atom, f"atom j*\n{pur}"))
        ):
            ax = fig.add_subplot(grid[row, col])
            v = float(np.abs(img).max()) or 1.0
            ax.imshow(img.reshape(8, 8), cmap="RdBu_r", vmin=-v, vmax=v)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 2:
                ax.set_xlabel(pur, fontsize=5)
            if col == 0:
                ax.set_ylabel(label.split("\n")[0], fontsize=6)


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 17."""
    runs: dict[str, RunRecord] = {str(r.config["condition"]): r for r in load_records(results, SIM)}
    set_theme()
    fig = plt.figure(figsize=(11.0, 3.6))
    outer = fig.add_gridspec(
        1, 2, left=0.03, right=0.98, top=0.9, bottom=0.14, width_ratios=(2.2, 1.0), wspace=0.2
    )
    law = runs.get("teacher-pgd_linf")
    if law is not None:
        _filters(fig, outer[0], law.arrays())
        fig.text(
            0.01, 0.96, "(a) neurons as 8×8 filters: clean, after PGD-AT, nearest atom", fontsize=8
        )
    bx = fig.add_subplot(outer[1])
    hi = 0.0
    for cond, label in SCATTER:
        if cond in runs:
            a = runs[cond].arrays()
            x, y = _rel_l1(a, "W_clean").ravel(), _rel_l1(a, "at_W").ravel()
            bx.scatter(x, y, s=3, alpha=0.4, label=label)
            hi = max(hi, float(x.max()), float(y.max()))
    if hi > 0:
        line = np.array([0.0, hi])
        bx.plot(line, line, "k-", lw=0.8)
        bx.plot(line, line / 2, "k--", lw=0.8, label="a 2× fall")
        bx.legend(fontsize=6, markerscale=3)
    bx.set(
        xlabel=r"clean $\|M^\top v\|_1/\|w\|$",
        ylabel=r"after $\|M^\top v\|_1/\|w\|$",
        title="(b) dense mixture per neuron",
    )
    return save(fig, out, "fig17_patch_filters", tight=False)


FIGURE = FigureSpec(
    stem="fig17_patch_filters",
    sims=(SIM,),
    caption="Patch-network neurons as 8×8 filters before and after adversarial training, with their "
    "dense mixtures on the learned dictionary.",
    make=make,
)
