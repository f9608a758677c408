"""Figure 16 — adversarial examples of handwritten digits off and inside their PCA subspace
(simulation 16, Melamed, Yehudai & Vardi 2023 on real data).

(a) Test digits projected onto their PCA-10 subspace (first member of the GD net, β = 1): the digit,
its minimal ℓ2 flipping perturbation orthogonal to the subspace (``δ_off``), the flipped digit
``x + δ_off``, and the same inside the subspace (``δ_on``, ``x + δ_on``); the norm of each
perturbation (in standardised units, the ones the radii are measured in) is printed above it. Pictures
are in pixel intensities (:func:`sims.real_data.digits_pixels`, 0–16): digits share one grey scale
(clipped to 0–16), perturbations one red–blue scale per picture. (b) Median minimal flip radii off the
subspace, inside it and anywhere, and half the median distance to the nearest training digit of the
other class (the most any classifier right on both points could be robust to), for GD at β = 1 and
β = 1/16 on the projected and on the raw digits.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.gridspec import SubplotSpec

from figures.registry import FigureSpec
from figures.style import save, set_theme
from sims.real_data import digits_pixels
from sims.records import RunRecord, load_records

SIM = "16_digits_subspace"
#: Digits shown in panel (a).
SHOWN = 5
ROWS = (
    ("digits-gd", "projected, β = 1"),
    ("digits-small_init", "projected, β = 1/16"),
    ("raw-gd", "raw, β = 1"),
    ("raw-small_init", "raw, β = 1/16"),
)


def _by_condition(runs: list[RunRecord]) -> dict[str, RunRecord]:
    return {str(r.config["condition"]): r for r in runs}


def _median(v: np.ndarray) -> float:
    v = np.asarray(v, dtype=float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else float("nan")


def _pictures(fig: Figure, spec: SubplotSpec, a: dict[str, np.ndarray], seed: int) -> None:
    """Panel (a): rows of digit, δ_off, x + δ_off, δ_on, x + δ_on for member 0."""
    X = np.asarray(a["X_test"])
    d_off, d_on = np.asarray(a["delta_off"])[0], np.asarray(a["delta_on"])[0]
    zero = digits_pixels(np.zeros_like(X[0]), seed=seed)
    ok = np.flatnonzero(
        np.isfinite(a["r_off"][0, : len(d_off)]) & np.isfinite(a["r_on"][0, : len(d_on)])
    )[:SHOWN]
    grid = spec.subgridspec(max(len(ok), 1), 5, wspace=0.02, hspace=0.3)
    titles = ("digit x", "δ_off", "x + δ_off", "δ_on", "x + δ_on")
    for row, i in enumerate(ok):
        x = X[i]
        cells = (
            (digits_pixels(x, seed=seed), None, ""),
            (digits_pixels(d_off[i], seed=seed) - zero, "δ", f"‖δ‖={a['r_off'][0, i]:.2f}"),
            (digits_pixels(x + d_off[i], seed=seed), None, ""),
            (digits_pixels(d_on[i], seed=seed) - zero, "δ", f"‖δ‖={a['r_on'][0, i]:.2f}"),
            (digits_pixels(x + d_on[i], seed=seed), None, ""),
        )
        for col, (img, kind, note) in enumerate(cells):
            ax = fig.add_subplot(grid[row, col])
            if kind is None:
                ax.imshow(img.reshape(8, 8), cmap="gray_r", vmin=0.0, vmax=16.0)
            else:
                v = float(np.abs(img).max()) or 1.0
                ax.imshow(img.reshape(8, 8), cmap="RdBu_r", vmin=-v, vmax=v)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title((titles[col] + "\n" if row == 0 else "") + note, fontsize=6)


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 16."""
    runs = _by_condition(load_records(results, SIM))
    set_theme()
    fig = plt.figure(figsize=(10.0, 5.2))
    outer = fig.add_gridspec(
        1, 2, left=0.03, right=0.98, top=0.9, bottom=0.14, width_ratios=(1.2, 1.0), wspace=0.25
    )
    law = runs.get("digits-gd")
    if law is not None and "delta_off" in law.arrays():
        _pictures(fig, outer[0], law.arrays(), int(law.config["setup"]["seed"]))
        fig.text(0.02, 0.97, "(a) minimal flipping perturbations, projected digits", fontsize=8)
    bx = fig.add_subplot(outer[1])
    names = [(c, label) for c, label in ROWS if c in runs]
    x = np.arange(len(names))
    for j, (key, style, label) in enumerate(
        (
            ("r_off", "o", "r_off (⊥ to the subspace)"),
            ("r_on", "s", "r_on (in the subspace)"),
            ("r_any", "^", "r_any (anywhere)"),
        )
    ):
        bx.plot(
            x + 0.1 * (j - 1),
            [_median(runs[c].arrays()[key]) for c, _ in names],
            style,
            label=label,
        )
    bx.plot(
        x,
        [0.5 * _median(runs[c].arrays()["nn_other"]) for c, _ in names],
        "k_",
        ms=18,
        label="½ nearest other-class distance",
    )
    bx.set_xticks(x, [label for _, label in names], fontsize=7, rotation=15)
    bx.set(
        yscale="log", ylabel=r"median minimal $\ell_2$ flip radius", title="(b) radii by data and β"
    )
    bx.legend(fontsize=6)
    return save(fig, out, "fig16_digits_subspace", tight=False)


FIGURE = FigureSpec(
    stem="fig16_digits_subspace",
    sims=(SIM,),
    caption="Handwritten digits with their minimal off- and on-subspace adversarial perturbations; "
    "radii on projected and raw digits.",
    make=make,
)
