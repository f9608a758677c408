"""One look for every figure, and one way to save them (PNG + PDF, reproducible bytes)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.figure import Figure

__all__ = ["new_figure", "save", "set_theme"]


def set_theme() -> None:
    """The seaborn theme shared by all figures."""
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.1)


def new_figure(ncols: int = 1, *, width: float = 5.0, height: float = 3.6) -> tuple[Figure, list]:  # type: ignore[type-arg]
    """A figure with ``ncols`` side-by-side axes."""
    set_theme()
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, list(axes[0])


def save(fig: Figure, out: Path, stem: str, *, tight: bool = True) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` under ``out`` without timestamps (same data, same bytes);
    ``tight=False`` keeps a layout the figure set itself (nested grids of pictures)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.png", out / f"{stem}.pdf"]
    if tight:
        fig.tight_layout()
    fig.savefig(paths[0], dpi=130, metadata={"Software": None})
    fig.savefig(paths[1], metadata={"Creator": None, "Producer": None, "CreationDate": None})
    plt.close(fig)
    return paths
