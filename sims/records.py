"""Run records: the public, numpy-readable contract between simulations, figures and paper checks.

One run is one directory ``<results>/<sim>/<run-key>/`` holding

* ``record.json`` — ``schema``, ``sim``, ``key``, ``config`` (the full run configuration), ``seeds``,
  ``status`` (``"ok"`` or ``"failed"``), ``error`` (for failed runs), ``metrics`` (scalars), ``versions``,
  ``git`` (revision and dirty flag), ``device``, ``dtype`` and ``timings`` (start, end, seconds);
* ``arrays.npz`` — the tensors a reader needs to re-check the run, ensemble axis first (the keys each
  simulation writes are listed in the README).

Both files are written to a temporary name and ``os.replace``-d into place, ``arrays.npz`` first and
``record.json`` last, so a directory with a ``record.json`` always has complete arrays: a sweep that is
killed and restarted skips its finished runs and loses none. ``table.csv`` in ``<results>/<sim>/`` holds one
row per run (flattened config and metrics) for ``pandas.read_csv``.

This module imports only the standard library and numpy, so readers (figures, paper checks, anyone
re-checking a run) never need torch.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ARRAYS_FILE",
    "RECORD_FILE",
    "SCHEMA_VERSION",
    "TABLE_FILE",
    "RunRecord",
    "RunStore",
    "git_revision",
    "load_records",
    "run_key",
    "to_jsonable",
    "versions",
]

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"
ARRAYS_FILE = "arrays.npz"
TABLE_FILE = "table.csv"


def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses, tuples, numpy scalars/arrays and paths to plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _canonical(obj: Any) -> Any:
    """Numbers as floats (so ``lr=1`` and ``lr=1.0`` give one key); booleans stay booleans."""
    if isinstance(obj, dict):
        return {k: _canonical(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_canonical(v) for v in obj]
    if isinstance(obj, int) and not isinstance(obj, bool):
        return float(obj)
    return obj


def run_key(config: Any, prefix: str = "") -> str:
    """A stable key for a configuration: ``<prefix>-<12 hex digits of SHA-256 of its canonical JSON>``
    (numbers compared as floats)."""
    blob = json.dumps(_canonical(to_jsonable(config)), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
    return f"{prefix}-{digest}" if prefix else digest


@cache
def git_revision() -> dict[str, Any]:
    """The git revision of the advsim checkout (``None`` outside one) and whether it is dirty."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = (
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=here,
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
            != ""
        )
        return {"revision": rev, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}


@cache
def versions() -> dict[str, str | None]:
    """Versions of Python, advsim and the numerical packages (read from metadata, nothing imported)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in ("advsim", "numpy", "torch", "scipy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _atomic_write(path: Path, write: Any) -> None:
    """Write via ``write(file_obj)`` to a temp file in the same directory, fsync, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True)
class RunRecord:
    """One run's record, as read back from disk."""

    path: Path
    data: dict[str, Any]

    @property
    def key(self) -> str:
        """The run key (directory name)."""
        return str(self.data["key"])

    @property
    def config(self) -> dict[str, Any]:
        """The run configuration."""
        return dict(self.data["config"])

    @property
    def metrics(self) -> dict[str, Any]:
        """Scalar metrics."""
        return dict(self.data.get("metrics", {}))

    @property
    def status(self) -> str:
        """``"ok"`` or ``"failed"``."""
        return str(self.data["status"])

    def arrays(self) -> dict[str, np.ndarray]:
        """All arrays of the run (loaded eagerly; files are small)."""
        with np.load(self.path / ARRAYS_FILE, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}


class RunStore:
    """The records of one simulation under ``<root>/<sim>/``."""

    def __init__(self, root: str | Path, sim: str) -> None:
        self.root = Path(root)
        self.sim = sim
        self.dir = self.root / sim

    def run_dir(self, key: str) -> Path:
        """The directory of run ``key``."""
        return self.dir / key

    def is_done(self, key: str) -> bool:
        """True when run ``key`` finished successfully (its ``record.json`` says ``ok``)."""
        path = self.run_dir(key) / RECORD_FILE
        if not path.is_file():
            return False
        try:
            return bool(json.loads(path.read_text())["status"] == "ok")
        except (json.JSONDecodeError, KeyError, OSError):
            return False

    def write(
        self, key: str, record: Mapping[str, Any], arrays: Mapping[str, np.ndarray] | None = None
    ) -> Path:
        """Write a run atomically: arrays first, then the record. Returns the run directory."""
        run = self.run_dir(key)
        # a rerun must never leave an old "ok" record beside new arrays, nor old arrays beside a
        # new record: drop the record first (the run counts as unfinished until the new one lands)
        for stale in (run / RECORD_FILE, run / ARRAYS_FILE):
            if stale.exists() and (stale.name == RECORD_FILE or arrays is None):
                stale.unlink()
        if arrays is not None:
            payload: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
            _atomic_write(run / ARRAYS_FILE, lambda fh: np.savez_compressed(fh, **payload))
        body = {"schema": SCHEMA_VERSION, "sim": self.sim, "key": key, **to_jsonable(record)}
        text = json.dumps(body, indent=1, sort_keys=True, allow_nan=True)
        _atomic_write(run / RECORD_FILE, lambda fh: fh.write(text.encode()))
        return run

    def load(self, key: str) -> RunRecord:
        """Read run ``key``."""
        run = self.run_dir(key)
        return RunRecord(run, json.loads((run / RECORD_FILE).read_text()))

    def __iter__(self) -> Iterator[RunRecord]:
        if not self.dir.is_dir():
            return
        for run in sorted(self.dir.iterdir()):
            if (run / RECORD_FILE).is_file():
                yield RunRecord(run, json.loads((run / RECORD_FILE).read_text()))

    def records(self, *, status: str | None = "ok") -> list[RunRecord]:
        """All runs (with the given status; ``None`` for every status)."""
        return [r for r in self if status is None or r.status == status]

    def write_table(self) -> Path:
        """Write ``table.csv``: one row per run, config and metrics flattened with dotted names."""
        rows = []
        for r in self.records(status=None):
            row: dict[str, Any] = {
                "key": r.key,
                "status": r.status,
                "seconds": r.data.get("timings", {}).get("seconds"),
            }
            row.update(_flatten(r.config, "config"))
            row.update(_flatten(r.metrics, "metrics"))
            rows.append(row)
        cols: list[str] = []
        for row in rows:
            cols.extend(c for c in row if c not in cols)
        path = self.dir / TABLE_FILE

        def write(fh: Any) -> None:
            import io

            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=cols)
            w.writeheader()
            w.writerows(rows)
            fh.write(buf.getvalue().encode())

        _atomic_write(path, write)
        return path


def _flatten(obj: Any, prefix: str) -> dict[str, Any]:
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}"))
        return out
    if isinstance(obj, list):
        return {prefix: json.dumps(obj)}
    return {prefix: obj}


def load_records(results: str | Path, sim: str, scale: str | None = "latest") -> list[RunRecord]:
    """The successful runs of simulation ``sim`` under ``results``, at one scale.

    ``scale="latest"`` (default) keeps the scale of the most recently finished run, so that figures
    and checks never pool a quick sweep with a paper-scale one left in the same folder; ``None``
    keeps every scale.
    """
    records = RunStore(results, sim).records()
    if scale == "latest" and records:
        newest = max(records, key=lambda r: float(r.data.get("timings", {}).get("end", 0.0)))
        scale = newest.data.get("scale")
    if scale is None or scale == "latest":
        return records
    return [r for r in records if r.data.get("scale") == scale]
