"""The figure modules ``figures/figNN_name.py`` (each defines ``FIGURE``) and their runner.

A figure is redrawn only when the records it reads changed: the SHA-256 of their ``record.json`` files
(which name each run's arrays) is kept beside the PNG in ``.<stem>.hash``.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sims.records import RECORD_FILE

__all__ = ["FigureSpec", "all_figures", "draw"]

_PATTERN = re.compile(r"^(fig\d\d_[a-z0-9_]+)\.py$")


@dataclass(frozen=True)
class FigureSpec:
    """A figure: its file stem, the simulations whose records it reads, and how to draw it."""

    stem: str
    sims: tuple[str, ...]
    caption: str
    make: Callable[[Path, Path], list[Path]]  # (results, out) -> written files


def all_figures() -> list[FigureSpec]:
    """Every figure module, in order."""
    here = Path(__file__).parent
    stems = sorted(m.group(1) for p in here.iterdir() if (m := _PATTERN.match(p.name)))
    return [importlib.import_module(f"figures.{s}").FIGURE for s in stems]


def records_hash(results: Path, sims: tuple[str, ...]) -> str | None:
    """Content hash of the records of ``sims`` (None when there are none); a record that cannot be
    read enters the hash as its path and the error, so fixing it redraws the figure."""
    h = hashlib.sha256()
    found = False
    for sim in sims:
        for rec in sorted((results / sim).glob(f"*/{RECORD_FILE}")):
            try:
                h.update(rec.read_bytes())
            except OSError as exc:
                h.update(f"{rec}: {exc}".encode())
            found = True
    return h.hexdigest() if found else None


def draw(fig: FigureSpec, results: Path, out: Path, *, force: bool = False) -> str:
    """Draw ``fig`` if its records changed; returns ``'drawn'``, ``'unchanged'`` or ``'no records'``."""
    digest = records_hash(results, fig.sims)
    if digest is None:
        return "no records"
    stamp = out / f".{fig.stem}.hash"
    if (
        not force
        and stamp.is_file()
        and stamp.read_text() == digest
        and (out / f"{fig.stem}.png").is_file()
    ):
        return "unchanged"
    fig.make(results, out)
    stamp.write_text(digest)
    return "drawn"
