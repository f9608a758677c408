"""Figure 08 — dense mixtures after clean training scale like k/d (simulation 08).

Median ``|c_ij'/c_ij*|`` over neurons and members (a) against ``k`` at ``d = 64`` and (b) against ``d`` at
``k = 4``, for both threshold readings, with the derived ``k/d`` of :func:`theory.purification.mixture_ratio`
(dashed) and the shuffled-label control (crosses).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.records import load_records
from theory import purification as th

SIM = "08_mixture_scaling"


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 08."""
    runs = load_records(results, SIM)
    fig, axes = new_figure(2)
    for ax, vary, fixed in ((axes[0], "k", "d"), (axes[1], "d", "k")):
        pts: dict[tuple[str, str], list[tuple[float, float]]] = {}
        fixed_counts: dict[int, int] = {}
        for r in runs:
            fixed_counts[r.config["setup"][fixed]] = (
                fixed_counts.get(r.config["setup"][fixed], 0) + 1
            )
        fixed_value = max(fixed_counts, key=lambda v: fixed_counts[v])
        for r in runs:
            s = r.config["setup"]
            if s[fixed] != fixed_value:
                continue
            key = (s["threshold_kind"], r.config["role"])
            pts.setdefault(key, []).append((s[vary], float(np.median(r.arrays()["mixture_ratio"]))))
        for (reading, role), xy in sorted(pts.items()):
            x, y = np.array(sorted(xy)).T
            control = role == "control"
            ax.plot(
                x,
                y,
                ":" if control else "-",
                marker="x" if control else "o",
                label=f"{reading} threshold" + (" (shuffled labels)" if control else ""),
            )
        xs = np.array(sorted({p[0] for v in pts.values() for p in v}))
        pred = [
            th.mixture_ratio(x, fixed_value) if vary == "k" else th.mixture_ratio(fixed_value, x)
            for x in xs
        ]
        ax.plot(xs, pred, "k--", lw=1, label="derived k/d")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel=f"${vary}$",
            ylabel=r"median $|c_{ij'}/c_{ij^*}|$",
            title=f"({'a' if vary == 'k' else 'b'}) ${fixed} = {fixed_value}$",
        )
        ax.legend(fontsize=7)
    return save(fig, out, "fig08_mixture_scaling")


FIGURE = FigureSpec(
    stem="fig08_mixture_scaling",
    sims=(SIM,),
    caption="Clean training leaves a dense mixture on every other atom; its size against k and d.",
    make=make,
)
