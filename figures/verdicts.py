"""The verdict figure: a forest plot of every claim, the first thing in the paper-check report.

One block of rows per paper, one row per claim, one column per rung of the scale ladder. Each cell has its
own horizontal axis (claims measure different quantities): the claim's band shaded, the measured value as a
filled marker with its 95% interval, the negative controls as hollow markers with theirs, coloured by
verdict. Identities (exact, no interval) are written as text: their measured worst case against the band.

Drawn by ``python -m paper_checks`` from its JSON (the contract of :mod:`paper_checks.report`), so this
module needs no records and no claim code — only the verdicts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from figures.style import set_theme

__all__ = ["STEM", "draw_verdicts"]

STEM = "fig00_verdicts"
_COLOR = {"holds": "#1b9e77", "fails": "#d95f02", "inconclusive": "#7570b3"}
_ORDER = ("quick", "medium", "paper")


def _finite(xs: Sequence[Any]) -> list[float]:
    return [float(x) for x in xs if x is not None and math.isfinite(float(x))]


def _limits(entry: dict[str, Any]) -> tuple[float, float]:
    """An x-range covering the band's finite edges, the interval and the controls' intervals."""
    vals = _finite(entry["band"])
    vals += _finite([entry.get("measured"), *list(entry.get("ci") or [])])
    for c in entry["controls"]:
        vals += _finite([c.get("measured"), *list(c.get("ci") or [])])
    if not vals:
        return (-1.0, 1.0)
    lo, hi = min(vals), max(vals)
    pad = 0.15 * (hi - lo) if hi > lo else max(abs(lo) * 0.2, 0.05)
    return lo - pad, hi + pad


def _cell(ax: Any, entry: dict[str, Any] | None) -> None:
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=6, length=2, pad=1)
    ax.grid(False)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    if entry is None:
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        ax.text(0.5, 0.5, "not run", ha="center", va="center", fontsize=7, color="0.6",
                transform=ax.transAxes)
        return
    color = _COLOR.get(entry["verdict"], "0.3")
    if entry["kind"] == "identity" or entry.get("ci") is None:
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        m = entry.get("measured")
        lo, hi = entry["band"]
        band = f"≤ {hi:.0e}" if lo in (0.0, -math.inf) else f"in [{lo:.3g}, {hi:.3g}]"
        text = "no value" if m is None else f"exact: {m:.2g} {band}"
        ax.text(0.02, 0.5, f"{entry['verdict']} — {text}", ha="left", va="center", fontsize=7,
                color=color, transform=ax.transAxes)
        return
    x0, x1 = _limits(entry)
    blo, bhi = entry["band"]
    ax.axvspan(max(blo, x0), min(bhi, x1), color="#d9f0d3", zorder=0)
    ax.set_xlim(x0, x1)
    ax.set_ylim(-1, 1)
    lo, hi = entry["ci"]
    lo = x0 if lo is None else lo
    hi = x1 if hi is None else hi
    m = entry["measured"]
    ax.errorbar([m], [0.25], xerr=[[max(0.0, m - lo)], [max(0.0, hi - m)]], fmt="o", color=color, ms=4, lw=1.2,
                capsize=2)
    for k, c in enumerate(entry["controls"]):
        if c.get("measured") is None:
            continue
        cm = float(c["measured"])
        ci = c.get("ci")
        err = None
        if ci is not None:
            clo = x0 if ci[0] is None else ci[0]
            chi = x1 if ci[1] is None else ci[1]
            err = [[max(cm - clo, 0.0)], [max(chi - cm, 0.0)]]
        ax.errorbar([cm], [-0.35 - 0.2 * k], xerr=err, fmt="o", mfc="white",
                    mec=_COLOR.get(c["verdict"], "0.3"), color=_COLOR.get(c["verdict"], "0.3"),
                    ms=3.5, lw=0.8, capsize=1.5)


def draw_verdicts(data: dict[str, Any], out: Path, stem: str = STEM) -> list[Path]:
    """Draw the forest plot of ``data`` (the JSON of :func:`paper_checks.report.to_json`) to ``out``."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    set_theme()
    entries: list[dict[str, Any]] = data["claims"]
    found = {e["scale"] for e in entries}
    scales = [s for s in _ORDER if s in found] + sorted(found - set(_ORDER))
    ids: list[str] = []
    for e in entries:
        if e["id"] not in ids:
            ids.append(e["id"])
    by = {(e["id"], e["scale"]): e for e in entries}
    first = {e["id"]: e for e in reversed(entries)}
    papers: list[str] = []
    for i in ids:
        if first[i]["paper"] not in papers:
            papers.append(first[i]["paper"])
    rows: list[tuple[str, str | None]] = []  # ("paper", name) or ("claim", id)
    for paper in papers:
        rows.append(("paper", paper))
        rows += [("claim", i) for i in ids if first[i]["paper"] == paper]
    ncol = len(scales)
    fig = plt.figure(figsize=(2.2 + 3.0 * ncol, 0.42 * len(rows) + 0.9))
    grid = fig.add_gridspec(len(rows), ncol + 1, width_ratios=[1.4] + [2.0] * ncol, hspace=0.9,
                            wspace=0.08, left=0.01, right=0.99, top=1 - 0.5 / fig.get_figheight(),
                            bottom=0.35 / fig.get_figheight())
    for r, (what, name) in enumerate(rows):
        label = fig.add_subplot(grid[r, 0])
        label.axis("off")
        if what == "paper":
            label.text(0.0, 0.3, str(name), fontsize=8, fontweight="bold", ha="left", va="center")
            continue
        e = first[str(name)]
        label.text(0.0, 0.5, f"{name}", fontsize=7, ha="left", va="center")
        label.text(1.0, 0.5, e["kind"], fontsize=6, ha="right", va="center", color="0.45")
        for j, s in enumerate(scales):
            ax = fig.add_subplot(grid[r, j + 1])
            _cell(ax, by.get((str(name), s)))
    handles = [
        Line2D([], [], marker="o", ls="", color=c, label=v) for v, c in _COLOR.items()
    ] + [
        Line2D([], [], marker="o", ls="", mfc="white", mec="0.3", label="negative control"),
        Line2D([], [], marker="s", ls="", color="#d9f0d3", label="band", ms=8),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7, frameon=False)
    for j, s in enumerate(scales):
        fig.text((1.4 + 2.0 * (j + 0.5)) / (1.4 + 2.0 * ncol), 1 - 0.25 / fig.get_figheight(), s,
                 ha="center", va="center", fontsize=9, fontweight="bold")
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.png", out / f"{stem}.pdf"]
    fig.savefig(paths[0], dpi=130, metadata={"Software": None})
    fig.savefig(paths[1], metadata={"Creator": None, "Producer": None, "CreationDate": None})
    plt.close(fig)
    return paths

