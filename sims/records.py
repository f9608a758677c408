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

Strict JSON. ``record.json`` never holds a bare ``NaN`` or ``Infinity``: a non-finite number anywhere in
the record (a metric, mostly) is written as ``null`` and listed under ``nonfinite`` as
``{"path": [...keys...], "value": "NaN" | "Infinity" | "-Infinity"}``; :class:`RunRecord` puts the
floats back, so Python readers see what was written. ``array_keys`` lists the arrays of
``arrays.npz`` (``null`` when the run has none, e.g. a failed run). Arrays of Python objects are refused
on write (they would need pickle to read).

Damaged files. A run counts as done only when its ``record.json`` parses, says ``ok``, and its
``arrays.npz`` loads (every array, without pickle; checked once per file version and process); a run
whose arrays are damaged is recomputed by the next sweep. Readers (:func:`load_records`,
:meth:`RunStore.records`) skip a record that cannot be read, with one :class:`SkippedRecordWarning`
naming its path and the reason; :func:`skipped_records` lists every record skipped so far in this
process, for reports.

Concurrency. A sweep computes a run only while it holds the run's lock, ``<run>/.lock``
(:meth:`RunStore.lock`, a non-blocking ``flock``): two sweeps on one folder never compute the same run
twice. The kernel releases the lock when its process dies, even by ``kill -9``, so a stale lock never
blocks a restarted sweep (the lock file itself stays, holding the last owner's host and pid).
Temporary files are written beside their target (``.<name>~<host>~<pid>~<random>.tmp``) by a lock
holder; :meth:`RunStore.clean_temporary` removes those of runs nobody holds (a sweep calls it when it
starts). Run keys and simulation names are single path components: no separators, no ``..``.

This module imports only the standard library and numpy, so readers (figures, paper checks, anyone
re-checking a run) never need torch.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import json
import math
import os
import platform
import socket
import subprocess
import tempfile
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from sims.validate import AdvsimError, check_name, fail

try:  # POSIX advisory locks; the kernel drops them when the holder dies
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "ARRAYS_FILE",
    "LOCK_FILE",
    "RECORD_FILE",
    "SCHEMA_VERSION",
    "TABLE_FILE",
    "RunLock",
    "RunRecord",
    "RunStore",
    "SkippedRecordWarning",
    "clear_skipped_records",
    "git_revision",
    "load_records",
    "run_key",
    "skipped_records",
    "to_jsonable",
    "versions",
]

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"
ARRAYS_FILE = "arrays.npz"
TABLE_FILE = "table.csv"
LOCK_FILE = ".lock"
_TABLE_LOCK = ".table.lock"
_TMP_SUFFIX = ".tmp"


class SkippedRecordWarning(UserWarning):
    """A record that cannot be read was skipped (the message names its path and the reason)."""


#: Records skipped by readers in this process: path -> reason, in the order first seen.
_SKIPPED: dict[Path, str] = {}
#: Arrays files already checked in this process: file version (:func:`_signature`) -> None (ok) or
#: the reason.
_ARRAYS_CHECKED: dict[tuple[str, int, int, int, int, int], str | None] = {}
#: Arrays already read through :meth:`RunRecord.arrays` in this process, by file version
#: (:func:`_signature`), least recently used first; read-only, so that every reader sees the file's
#: numbers. Bounded by :data:`ARRAYS_CACHE_BYTES` (``_CACHED_BYTES`` is what it holds now).
_ARRAYS_CACHE: OrderedDict[tuple[str, int, int, int, int, int], dict[str, np.ndarray]] = OrderedDict()
_CACHED_BYTES = 0
#: The most bytes of arrays :meth:`RunRecord.arrays` keeps in memory (a report reads most records
#: several times: once per claim or figure that uses them).
ARRAYS_CACHE_BYTES = 1 << 30


def _signature(path: Path) -> tuple[str, int, int, int, int, int]:
    """One version of a file: its resolved path, device, inode, size and modification and change times
    (an atomic rewrite makes a new inode; raises ``OSError`` when the file is missing)."""
    st = path.stat()
    return (
        str(path.resolve()),
        st.st_dev,
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
    )


def _read_arrays(path: Path, *, cache: bool) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` file at ``path`` (no pickle; reading checks each array's CRC),
    read-only; through the cache when ``cache`` (a file version already read is not read again)."""
    global _CACHED_BYTES
    sig = _signature(path) if cache else None
    if sig is not None and sig in _ARRAYS_CACHE:
        _ARRAYS_CACHE.move_to_end(sig)
        return dict(_ARRAYS_CACHE[sig])
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    size = 0
    for a in arrays.values():
        a.flags.writeable = False
        size += a.nbytes
    if sig is not None and size <= ARRAYS_CACHE_BYTES:
        _ARRAYS_CACHE[sig] = arrays
        _CACHED_BYTES += size
        while _CACHED_BYTES > ARRAYS_CACHE_BYTES:
            _, old = _ARRAYS_CACHE.popitem(last=False)
            _CACHED_BYTES -= sum(a.nbytes for a in old.values())
    return dict(arrays)


def skipped_records() -> list[tuple[Path, str]]:
    """Every record a reader skipped so far in this process, as ``(run directory, reason)`` pairs in
    the order first seen (for reports: :mod:`paper_checks` and :mod:`figures` list them)."""
    return list(_SKIPPED.items())


def clear_skipped_records() -> None:
    """Forget the records skipped so far (e.g. between two reports in one process)."""
    _SKIPPED.clear()


def _skip(run: Path, reason: str) -> None:
    """Register a skipped record and warn once per path and reason."""
    if _SKIPPED.get(run) != reason:
        _SKIPPED[run] = reason
        warnings.warn(f"skipping the record in {run}: {reason}", SkippedRecordWarning, stacklevel=3)


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
    if not isinstance(prefix, str):
        fail("prefix", "a string", prefix)
    try:
        blob = json.dumps(_canonical(to_jsonable(config)), sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        fail("config", "made of dataclasses, numbers, strings, lists and dicts", f"{exc}", raw=True)
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
    prefix = f".{path.name}~{_host()}~{os.getpid()}~"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=_TMP_SUFFIX)
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


@cache
def _host() -> str:
    return socket.gethostname().replace("~", "_") or "host"


def _strict(obj: Any, path: tuple[str, ...], found: list[dict[str, Any]]) -> Any:
    """``obj`` with every non-finite float replaced by ``None``, its path appended to ``found``."""
    if isinstance(obj, dict):
        return {k: _strict(v, (*path, str(k)), found) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_strict(v, (*path, str(i)), found) for i, v in enumerate(obj)]
    if isinstance(obj, float) and not math.isfinite(obj):
        found.append({"path": list(path), "value": json.dumps(obj)})
        return None
    return obj


def _restore(data: dict[str, Any]) -> None:
    """Put back the non-finite floats listed under ``nonfinite`` (see the module docstring)."""
    for item in data.get("nonfinite") or []:
        try:
            *parents, last = item["path"]
            node: Any = data
            for k in parents:
                node = node[int(k)] if isinstance(node, list) else node[k]
            value = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[item["value"]]
            if isinstance(node, list):
                node[int(last)] = value
            else:
                node[last] = value
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ValueError(f"bad nonfinite entry {item!r}") from exc


def _parse_record(run: Path) -> dict[str, Any]:
    """The parsed ``record.json`` of ``run``; raises ``ValueError``/``OSError`` with the reason."""
    text = (run / RECORD_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{RECORD_FILE} holds a {type(data).__name__}, not an object")
    for field in ("key", "status", "config"):
        if field not in data:
            raise ValueError(f"{RECORD_FILE} has no {field!r}")
    if data["status"] not in ("ok", "failed"):
        raise ValueError(f"status {data['status']!r} is neither 'ok' nor 'failed'")
    if not isinstance(data["config"], dict):
        raise ValueError("config is not an object")
    for field in ("metrics", "timings"):
        if field in data and not isinstance(data[field], dict):
            raise ValueError(f"{field} is not an object")
    _restore(data)
    return data


def _arrays_problem(run: Path, data: Mapping[str, Any]) -> str | None:
    """Why the arrays of a record cannot be used (``None`` when they can).

    A record with ``array_keys: null`` (or a failed one without the field) has no arrays; otherwise
    ``arrays.npz`` must load completely without pickle and hold the listed keys. Checked once per file
    version (:func:`_signature`) in this process.
    """
    keys = data.get("array_keys", "legacy")
    if keys is None or (keys == "legacy" and data.get("status") != "ok"):
        return None
    path = run / ARRAYS_FILE
    try:
        sig = _signature(path)
    except OSError as exc:
        return f"{ARRAYS_FILE} is missing ({exc.strerror})"
    if sig not in _ARRAYS_CHECKED:
        _ARRAYS_CHECKED[sig] = _load_problem(path)
    problem = _ARRAYS_CHECKED[sig]
    if problem is None and isinstance(keys, list):
        with np.load(path, allow_pickle=False) as z:
            missing = sorted(set(keys) - set(z.files))
        if missing:
            problem = f"{ARRAYS_FILE} lacks the arrays {missing}"
    return problem


def _load_problem(path: Path) -> str | None:
    try:
        _read_arrays(path, cache=False)  # reads, decompresses and checks the CRC of every array
    except Exception as exc:  # any failure to read is a reason to skip, never to crash
        return f"{ARRAYS_FILE} cannot be read ({type(exc).__name__}: {exc})"
    return None


@dataclass(frozen=True)
class RunRecord:
    """One run's record, as read back from disk (non-finite numbers restored, see the module
    docstring)."""

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
        """All arrays of the run, read-only (loaded eagerly; a file version already read in this process
        comes from memory: :data:`ARRAYS_CACHE_BYTES`). Copy an array before changing it."""
        try:
            return _read_arrays(self.path / ARRAYS_FILE, cache=True)
        except Exception as exc:
            raise AdvsimError(
                f"arrays of {self.path} must be readable; got {type(exc).__name__}: {exc}"
            ) from exc


class RunLock:
    """A held run lock (see :meth:`RunStore.lock`); :meth:`release` (or the ``with`` block) frees it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None

    def release(self) -> None:
        """Free the lock (idempotent). The lock file stays: removing it would race with a process
        about to lock it."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            if fcntl is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def _try_lock(path: Path) -> RunLock | None:
    """Take the lock file ``path`` without waiting, or return ``None`` when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if fcntl is None:  # pragma: no cover - no advisory locks: every lock succeeds
        return RunLock(path, fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # held by another process
        os.close(fd)
        return None
    except OSError as exc:  # a filesystem without locks: go on unlocked rather than skip every run
        _warn_no_locks(str(path.parent.parent), str(exc.strerror))
        return RunLock(path, fd)
    with contextlib.suppress(OSError):  # who holds it, for a human looking at a stuck folder
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{_host()} {os.getpid()} {time.time():.0f}\n".encode(), 0)
    return RunLock(path, fd)


@cache
def _warn_no_locks(folder: str, reason: str) -> None:
    """Warn once per folder that runs there cannot be locked."""
    warnings.warn(
        f"cannot lock the runs in {folder} ({reason}): without file locks two sweeps on this "
        "folder may compute the same run",
        RuntimeWarning,
        stacklevel=4,
    )


class RunStore:
    """The records of one simulation under ``<root>/<sim>/``.

    ``sim`` and every run key must be single path components (no ``/``, ``\\``, ``..``, NUL or
    leading dot), so nothing is ever written outside ``<root>/<sim>/``.
    """

    def __init__(self, root: str | Path, sim: str) -> None:
        if not isinstance(root, str | os.PathLike):
            fail("root", "a directory path", root)
        self.root = Path(root)
        self.sim = check_name("sim", sim)
        self.dir = self.root / sim

    def run_dir(self, key: str) -> Path:
        """The directory of run ``key``."""
        return self.dir / check_name("key", key)

    def lock(self, key: str) -> RunLock | None:
        """Try to take run ``key``'s lock, without waiting: a :class:`RunLock`, or ``None`` when
        another process holds it (it is computing the run). Released by the kernel if the holder
        dies, so a killed sweep never leaves a lock that blocks the next one."""
        return _try_lock(self.run_dir(key) / LOCK_FILE)

    def clean_temporary(self) -> int:
        """Remove the temporary files (``*.tmp``) that killed writers left in run directories nobody
        holds a lock on, and beside the table; returns how many were removed."""
        removed = 0
        if not self.dir.is_dir():
            return 0
        for run in sorted(p for p in self.dir.iterdir() if p.is_dir()):
            tmps = [p for p in run.iterdir() if p.name.endswith(_TMP_SUFFIX)]
            if not tmps:
                continue
            held = self.lock(run.name) if _is_name(run.name) else None
            if held is None:
                continue  # a live writer owns them (or the folder is no run of ours)
            with held:
                removed += _unlink_all(tmps)
        with contextlib.suppress(OSError):
            table_lock = _try_lock(self.dir / _TABLE_LOCK)
            if table_lock is not None:
                with table_lock:
                    removed += _unlink_all(
                        [p for p in self.dir.iterdir() if p.name.endswith(_TMP_SUFFIX)]
                    )
        return removed

    def is_done(self, key: str) -> bool:
        """True when run ``key`` finished successfully: its ``record.json`` parses and says ``ok``
        and its ``arrays.npz`` loads (a run with damaged arrays is not done, so it is recomputed)."""
        run = self.run_dir(key)
        if not (run / RECORD_FILE).is_file():
            return False
        try:
            data = _parse_record(run)
        except (OSError, ValueError, UnicodeDecodeError):
            return False
        return data["status"] == "ok" and _arrays_problem(run, data) is None

    def write(
        self, key: str, record: Mapping[str, Any], arrays: Mapping[str, np.ndarray] | None = None
    ) -> Path:
        """Write a run atomically: arrays first, then the record. Returns the run directory.

        Raises :class:`~sims.errors.AdvsimError` for an array of Python objects (it would need pickle
        to read) and for an array name that is not a non-empty string. Non-finite numbers in the
        record are written as ``null`` and listed under ``nonfinite``.
        """
        run = self.run_dir(key)
        payload: dict[str, Any] | None = None
        if arrays is not None:
            if not isinstance(arrays, Mapping):
                fail("arrays", "a mapping of names to arrays, or None", arrays)
            payload = {}
            for k, v in arrays.items():
                if not isinstance(k, str) or not k:
                    fail("array name", "a non-empty string", k)
                a = np.asarray(v)
                if a.dtype.hasobject:
                    fail(
                        f"arrays[{k!r}]",
                        "an array of numbers, booleans or strings (object arrays need pickle)",
                        a,
                    )
                payload[k] = a
        body = {"schema": SCHEMA_VERSION, "sim": self.sim, "key": key, **to_jsonable(record)}
        body["array_keys"] = None if payload is None else sorted(payload)
        found: list[dict[str, Any]] = []
        body = _strict(body, (), found)
        body["nonfinite"] = found
        text = json.dumps(body, indent=1, sort_keys=True, allow_nan=False)
        # a rerun must never leave an old "ok" record beside new arrays, nor old arrays beside a
        # new record: drop the record first (the run counts as unfinished until the new one lands)
        for stale in (run / RECORD_FILE, run / ARRAYS_FILE):
            if stale.exists() and (stale.name == RECORD_FILE or payload is None):
                stale.unlink()
        if payload is not None:
            arrays_out = payload
            _atomic_write(run / ARRAYS_FILE, lambda fh: np.savez_compressed(fh, **arrays_out))
        _atomic_write(run / RECORD_FILE, lambda fh: fh.write(text.encode()))
        return run

    def load(self, key: str) -> RunRecord:
        """Read run ``key``; raises :class:`~sims.errors.AdvsimError` naming the path and the reason
        when its record cannot be read."""
        run = self.run_dir(key)
        try:
            return RunRecord(run, _parse_record(run))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            fail(
                "key",
                f"a run with a readable {RECORD_FILE} in {self.dir}",
                f"{key!r} ({exc})",
                raw=True,
            )

    def _read(self, run: Path) -> RunRecord | None:
        """The record of ``run``, or ``None`` (registered as skipped, with a warning) when the
        record or, for a finished run, its arrays cannot be read."""
        try:
            data = _parse_record(run)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            _skip(run, f"{RECORD_FILE} cannot be read ({type(exc).__name__}: {exc})")
            return None
        problem = _arrays_problem(run, data)
        if problem is not None:
            _skip(run, problem)
            return None
        return RunRecord(run, data)

    def __iter__(self) -> Iterator[RunRecord]:
        """Every readable record, in key order (unreadable ones skipped, see :meth:`_read`)."""
        if not self.dir.is_dir():
            return
        for run in sorted(self.dir.iterdir()):
            if run.is_dir() and (run / RECORD_FILE).exists():
                rec = self._read(run)
                if rec is not None:
                    yield rec

    def records(self, *, status: str | None = "ok") -> list[RunRecord]:
        """All readable runs (with the given status; ``None`` for every status)."""
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

        lock = _try_lock(self.dir / _TABLE_LOCK)
        try:  # taken so that clean_temporary never removes a table being written
            _atomic_write(path, write)
        finally:
            if lock is not None:
                lock.release()
        return path


def _is_name(name: str) -> bool:
    try:
        check_name("key", name)
    except AdvsimError:
        return False
    return True


def _unlink_all(paths: list[Path]) -> int:
    n = 0
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            n += 1
    return n


def _flatten(obj: Any, prefix: str) -> dict[str, Any]:
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}"))
        return out
    if isinstance(obj, list):
        return {prefix: json.dumps(obj)}
    return {prefix: obj}


def _end_time(r: RunRecord) -> float:
    end = r.data.get("timings", {}).get("end", 0.0)
    return float(end) if isinstance(end, int | float) and math.isfinite(end) else 0.0


def load_records(results: str | Path, sim: str, scale: str | None = "latest") -> list[RunRecord]:
    """The successful, readable runs of simulation ``sim`` under ``results``, at one scale.

    A record that cannot be read (truncated JSON, missing or damaged arrays, object arrays) is skipped
    with a :class:`SkippedRecordWarning` naming its path and the reason, and listed by
    :func:`skipped_records`.

    ``scale="latest"`` (default) keeps the scale of the most recently finished run, so that figures
    and checks never pool a quick sweep with a paper-scale one left in the same folder; ``None``
    keeps every scale.
    """
    records = RunStore(results, sim).records()
    if scale == "latest" and records:
        newest = max(records, key=_end_time)
        scale = newest.data.get("scale")
    if scale is None or scale == "latest":
        return records
    return [r for r in records if r.data.get("scale") == scale]
