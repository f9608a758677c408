"""Figure 11 — the exact statistics of fast AT's one-step perturbations (simulation 11).

(a) Share of coordinates at ``±ε`` after one ℓ∞ FGSM-RS step against ``a = α/ε``, with the derived ``a/2``
(capped at 1) and plain FGSM (no random start) as a cross. (b) Empirical CDFs of the ℓ2 start radii at
``d = 100`` with the laws ``t`` and ``t^d``. (c) Share of ℓ2 fast steps ending on the sphere against ``d``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.records import load_records
from theory import fast_at as th

SIM = "11_fgsm_rs_statistics"


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 11."""
    runs = {r.config["condition"]: r for r in load_records(results, SIM)}
    fig, (ax, bx, cx) = new_figure(3, width=4.2)
    pts = sorted(
        (r.config["a"], r.arrays()["clip_share"].mean())
        for c, r in runs.items()
        if c.startswith("linf-a")
    )
    if pts:
        a, share = np.array(pts).T
        ax.plot(a, share, "o", label="measured")
        grid = np.linspace(0, 2.2, 50)
        ax.plot(
            grid, [th.fgsm_rs_clip_share(g) for g in grid], "k--", lw=1, label="derived min(1, a/2)"
        )
    if "linf-no_start" in runs:
        r = runs["linf-no_start"]
        ax.plot(
            [r.config["a"]], [r.arrays()["clip_share"].mean()], "x", ms=9, label="FGSM, no start"
        )
    ax.set(
        xlabel=r"$a = \alpha/\varepsilon$",
        ylabel=r"share of coordinates at $\pm\varepsilon$",
        title=r"(a) $\ell_\infty$ FGSM-RS",
    )
    ax.legend(fontsize=7)
    t = np.linspace(0, 1, 200)
    for start in ("radius", "uniform"):
        run = runs.get(f"l2-{start}-d100")
        if run is None:
            continue
        radii = np.sort(run.arrays()["start_radius"][0])
        (line,) = bx.plot(radii, np.linspace(0, 1, len(radii)), label=f"'{start}' start")
        bx.plot(t, th.start_radius_cdf(start, t, 100), "--", color=line.get_color(), lw=1)
    bx.set(
        xlabel=r"$\|\delta_0\|/\varepsilon$",
        ylabel="CDF",
        title=r"(b) $\ell_2$ start radii, $d = 100$ (dashed: law)",
    )
    bx.legend(fontsize=7)
    for start in ("radius", "uniform"):
        pts = sorted(
            (r.config["d"], r.arrays()["on_sphere"].mean())
            for c, r in runs.items()
            if c.startswith(f"l2-{start}-d")
        )
        if pts:
            d, on = np.array(pts).T
            cx.plot(d, on, "o-", label=f"'{start}' start, α = 1.25ε")
    if "l2-short_step" in runs:
        r = runs["l2-short_step"]
        cx.plot([r.config["d"]], [r.arrays()["on_sphere"].mean()], "x", ms=9, label="α = 0.5ε")
    cx.set(
        xscale="log", xlabel="$d$", ylabel="share on the sphere", title=r"(c) $\ell_2$ fast step"
    )
    cx.legend(fontsize=7)
    return save(fig, out, "fig11_fgsm_rs_statistics")


FIGURE = FigureSpec(
    stem="fig11_fgsm_rs_statistics",
    sims=(SIM,),
    caption="Fast AT's perturbations follow their exact laws: a/2 of coordinates clipped, ℓ2 steps on the sphere.",
    make=make,
)
