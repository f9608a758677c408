"""Figure 05 — the universal off-subspace direction (simulation 05).

(a) Cosine of each test point's ``P⊥∇f(x)`` with ``g_univ = Σ_j a_j P⊥w_j(0)`` against the prediction
``√(ρ(x)/Σ_j a_j²)`` of :func:`theory.subspace.universal_direction_cosine`; controls as crosses.
(b) Fraction of each class flipped by its one perturbation ``−y·r·ĝ_univ`` against ``r`` in units of the
member's median first-order flip radius (median over members, band: min–max).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.records import load_records
from theory import subspace as th

SIM = "05_universal_direction"


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 05."""
    runs = sorted(
        load_records(results, SIM), key=lambda r: (r.config["role"], r.config["condition"])
    )
    fig, (ax, bx) = new_figure(2)
    for r in runs:
        a = r.arrays()
        control = r.config["role"] == "control"
        pred = th.universal_direction_cosine(a["rho"] / (a["a"] ** 2).sum(1)[:, None], 1.0)
        name = r.config["condition"] + (" (control)" if control else "")
        ax.scatter(
            pred.ravel(),
            a["cos_univ"].ravel(),
            s=6,
            alpha=0.4,
            marker="x" if control else "o",
            label=name,
        )
        for k, cls in enumerate(("+1", "−1")):
            frac = a["flip_frac"][:, :, k]
            (line,) = bx.plot(
                a["multiples"],
                np.median(frac, axis=0),
                "--" if control else "-",
                marker="o",
                ms=3,
                label=f"{name}, class {cls}",
            )
            bx.fill_between(
                a["multiples"], frac.min(0), frac.max(0), alpha=0.1, color=line.get_color()
            )
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="prediction")
    ax.set(
        xlabel=r"predicted $\sqrt{\rho(x)/\sum_j a_j^2}$",
        ylabel=r"$\cos(P_\perp\nabla f(x),\ g_{univ})$",
        title="(a) one shared direction",
    )
    ax.legend(fontsize=7, markerscale=2)
    bx.axvline(3.0, color="0.5", ls=":", lw=1)
    bx.axhline(0.9, color="0.5", ls=":", lw=1)
    bx.set(
        xlabel=r"perturbation norm / median $r^* = |f|/\|P_\perp\nabla f\|$",
        ylabel="fraction of the class flipped",
        title=r"(b) one perturbation $-y\,r\,\hat g_{univ}$",
    )
    bx.legend(fontsize=6)
    return save(fig, out, "fig05_universal_direction")


FIGURE = FigureSpec(
    stem="fig05_universal_direction",
    sims=(SIM,),
    caption="One direction from the initial weights aligns with every off-subspace "
    "gradient and flips each class.",
    make=make,
)
