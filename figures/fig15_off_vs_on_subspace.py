"""Figure 15 — off- vs on-subspace flip radius (simulation 15, Melamed, Yehudai & Vardi's main result).

(a) At the largest ``d``, every correctly classified test point of every GD member (β = 1), sorted by
its nearest other-class distance: the minimal flip radius off the subspace (``r_off``), inside it
(``r_on``), unrestricted (``r_any``), and that distance and its half (the most any classifier right on
both points could be robust to). (b) Median radii against the co-dimension ``ℓ⊥`` at fixed ``k_P`` for
GD, with the controls' ``r_off``. (c) What MYV-off-scaling reads: the median radius per unit of output,
``r_off/|f|``, for GD and the controls, and the derived exponent
(:func:`theory.subspace.offsubspace_radius_exponent`) through the GD value at the smallest ℓ⊥.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from paper_checks.subspace import radius_per_output
from sims.records import RunRecord, load_records
from theory import subspace as th

SIM = "15_off_vs_on_subspace"


def _rows(runs: list[RunRecord], prefix: str) -> list[RunRecord]:
    return sorted(
        (r for r in runs if str(r.config["condition"]).startswith(prefix)),
        key=lambda r: r.config["setup"]["d"],
    )


def _median(v: np.ndarray) -> float:
    v = np.asarray(v, dtype=float)
    v = v[~np.isnan(v)]
    return float(np.median(v)) if v.size else float("nan")


def _per_output(r: RunRecord) -> np.ndarray:
    """``r_off / |f(x)|`` per member and point: what MYV-off-scaling reads, computed by its check's
    own function."""
    return radius_per_output(r.arrays())


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 15."""
    runs = load_records(results, SIM)
    fig, (ax, bx, cx) = new_figure(3, width=8.0)
    gd = _rows(runs, "gd-")
    if gd:
        a = gd[-1].arrays()
        nn = a["nn_other"].ravel()
        keep = ~np.isnan(a["r_off"].ravel())
        order = np.argsort(nn[keep], kind="stable")
        x = np.arange(order.size)
        for key, style, name in (
            ("r_off", "o", "r_off (⊥ to the subspace)"),
            ("r_on", "s", "r_on (in the subspace)"),
            ("r_any", "^", "r_any (anywhere)"),
        ):
            ax.scatter(x, a[key].ravel()[keep][order], s=6, marker=style, alpha=0.6, label=name)
        ax.plot(x, nn[keep][order], "k-", lw=1, label="nearest other-class point")
        ax.plot(x, 0.5 * nn[keep][order], "k:", lw=1, label="half of it")
        s = gd[-1].config["setup"]
        ax.set(
            yscale="log",
            xlabel="test point × member (sorted by nearest other-class distance)",
            ylabel=r"minimal $\ell_2$ flip radius",
            title=f"(a) d = {s['d']}, k = {s['k']}, β = 1",
        )
        ax.legend(fontsize=6)
        k = int(s["k"])
        codims = np.array([r.config["setup"]["d"] - k for r in gd], dtype=float)
        for key, style in (("r_off", "-o"), ("r_on", "-s"), ("r_any", "-^")):
            bx.plot(codims, [_median(r.arrays()[key]) for r in gd], style, label=f"GD: {key}")
        bx.plot(
            codims,
            [_median(r.arrays()["nn_other"]) for r in gd],
            "k-",
            lw=1,
            label="nearest other-class point",
        )
        cx.plot(codims, [_median(_per_output(r)) for r in gd], "-o", label="GD (β = 1)")
        if codims.size >= 2:
            ref = _median(_per_output(gd[0]))
            slope = th.offsubspace_radius_exponent(codims, k)
            cx.plot(
                codims,
                ref * (codims / codims[0]) ** slope,
                "k--",
                lw=1,
                label=f"exponent {slope:+.2f} (theory)",
            )
        for prefix, name in (
            ("small_init-", "β = 1/16"),
            ("unit_norm-", "unit-norm data"),
            ("fixed_variance-", "init variance fixed in d"),
        ):
            rows = _rows(runs, prefix)
            if rows:
                cs = [r.config["setup"]["d"] - k for r in rows]
                bx.plot(cs, [_median(r.arrays()["r_off"]) for r in rows], ":x", label=f"{name}: r_off")
                cx.plot(cs, [_median(_per_output(r)) for r in rows], ":x", label=name)
        for axis, ylabel, title in (
            (bx, "median flip radius", "(b) radii vs co-dimension"),
            (cx, r"median $r_{off}/|f(x)|$", "(c) off-subspace radius per unit output"),
        ):
            axis.set(
                xscale="log",
                yscale="log",
                xlabel=r"co-dimension $\ell_\perp = d - k_P$",
                ylabel=ylabel,
                title=title,
            )
            axis.legend(fontsize=6)
    return save(fig, out, "fig15_off_vs_on_subspace")


FIGURE = FigureSpec(
    stem="fig15_off_vs_on_subspace",
    sims=(SIM,),
    caption="Minimal flip radius off vs inside the data subspace, per point and against ℓ⊥.",
    make=make,
)
