"""What a numbered simulation is, and the one loop that runs any of them into records.

A simulation module (``sims/NN_name.py``) defines ``SIM = Simulation(...)``: its number and name, the
paper and claim it serves, a config grid at each rung of the scale ladder (``quick`` for CI and the main
job, ``medium`` for an hour on a laptop-class machine, ``paper`` for the paper's setting) and a ``run``
function from one config to measurements. :func:`run_simulation` does the rest for every simulation alike: run keys, skipping finished runs, recording failures without
stopping the sweep, atomic records, the aggregate table and a progress bar.

Grouping. A simulation whose rows share shapes may also give ``group`` (a config's group key) and
``run_group`` (many configs, one batched ensemble: the members of every row side by side, each with its
own hyperparameters, e.g. per-member radii and steps of :class:`sims.methods.FastAT`). The sweep then
groups pending rows with equal keys automatically and runs each group as one ensemble; every row still
gets its own record, with what ``run`` alone would give (members are independent: the same numbers up to
float rounding, tested). A group that raises is rerun row by row, so one bad config fails alone.

Safety. A sweep first removes the temporary files that killed writers left behind, and computes a run
only while it holds the run's lock (:meth:`sims.records.RunStore.lock`): a second sweep on the same
folder skips the runs the first is computing (counted as ``busy``), so no run is computed twice. A
training member that diverges is flagged in its run's record (``diverged``: the flags of every
:func:`sims.training.train` call of the run); a group in which a member diverged is rerun row by row, so
each row's flags are its own.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import time
import traceback
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from sims.records import RunLock, RunStore, git_revision, run_key, to_jsonable, versions
from sims.validate import AdvsimError, check_bool, check_choice, check_device, check_int, fail

#: Seconds to wait for a Dask scheduler to answer before giving up (``ADVSIM_SCHEDULER_TIMEOUT``).
SCHEDULER_TIMEOUT = 10.0

__all__ = [
    "SCALES",
    "RunContext",
    "RunOutput",
    "Simulation",
    "SweepSummary",
    "check_out_dir",
    "check_scheduler",
    "execute_group",
    "first_of_group",
    "load_simulation",
    "make_batches",
    "member_seeds",
    "module_of",
    "one_row",
    "queue_order",
    "resolve_device",
    "run_simulation",
    "run_simulations",
    "torch_dtype",
]

#: The scale ladder: ``quick`` (CI and the main job), ``medium`` (about an hour on a 2-core machine, where
#: asymptotic claims should be visibly closer), ``paper`` (the papers' settings, for a GPU or a cluster).
SCALES = ("quick", "medium", "paper")
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def member_seeds(seed: int, n_seeds: int) -> list[int]:
    """The seeds of an ensemble's members for a run with base seed ``seed``.

    Member ``i`` gets ``10_000·seed + i``: distinct across members and across base seeds below 10 000
    members, and independent of the ensemble size (so ``--seeds`` only adds members).
    """
    seed = check_int("seed", seed, 0)
    n_seeds = check_int("n_seeds", n_seeds, 1, 9_999)
    return [10_000 * seed + i for i in range(n_seeds)]


def with_seeds(cfg: Any, n_seeds: int) -> Any:
    """``cfg`` with ``n_seeds`` members: on the config itself or on its ``setup`` field."""
    names = {f.name for f in dataclasses.fields(cfg)}
    if "n_seeds" in names:
        return dataclasses.replace(cfg, n_seeds=n_seeds)
    if "setup" in names:
        return dataclasses.replace(cfg, setup=with_seeds(cfg.setup, n_seeds))
    raise AdvsimError(f"config {type(cfg).__name__} has no n_seeds to override")


def torch_dtype(name: str) -> torch.dtype:
    """``'float32'`` or ``'float64'`` as a torch dtype."""
    return _DTYPES[check_choice("dtype", name, tuple(_DTYPES))]


def resolve_device(device: str) -> str:
    """Check that ``device`` can be used here: a known device type, present on this machine, on
    which a tensor can actually be allocated (``cpu`` always; ``cuda`` where a working GPU exists)."""
    if not isinstance(device, str):
        fail("device", "a device name such as 'cpu' or 'cuda'", device)
    check_choice("device", device.split(":")[0], ("cpu", "cuda", "mps"))
    dev = check_device("device", device)
    try:
        torch.zeros(1, device=dev).add_(1)
    except (RuntimeError, AssertionError) as exc:
        first = (str(exc).strip().splitlines() or ["error"])[0]
        fail(
            "device",
            "a device on which a tensor can be allocated",
            f"{device!r} ({first})",
            raw=True,
        )
    return device


def check_scheduler(address: str, timeout: float | None = None) -> None:
    """Raise :class:`AdvsimError` unless a Dask scheduler answers at ``address`` within ``timeout``
    seconds (default :data:`SCHEDULER_TIMEOUT`, or ``ADVSIM_SCHEDULER_TIMEOUT``): a plain TCP connect,
    so a wrong address fails in bounded time, before anything is computed."""
    import socket
    from urllib.parse import urlsplit

    if timeout is None:
        timeout = float(os.environ.get("ADVSIM_SCHEDULER_TIMEOUT", SCHEDULER_TIMEOUT))
    if not isinstance(address, str) or not address:
        fail("scheduler", "an address such as tcp://host:8786", address)
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if parts.scheme not in ("tcp", "tls") or not host or port is None:
        fail("scheduler", "an address such as tcp://host:8786 (tcp or tls, host and port)", address)
    allowed = f"the address of a Dask scheduler that answers within {timeout:g} s"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        fail("scheduler", allowed, f"{address!r} ({exc.strerror or type(exc).__name__})", raw=True)
    _connect(address, timeout).close()


def _connect(address: str, timeout: float) -> Any:
    """A Dask ``Client`` of the scheduler at ``address``; any failure to connect (refused, timed out,
    something else answering) becomes one :class:`AdvsimError`."""
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise AdvsimError("workers/scheduler need Dask: pip install 'dask[distributed]'") from exc
    try:
        return Client(address, timeout=timeout)  # type: ignore[no-untyped-call]
    except Exception as exc:  # whatever the peer did, the user gets one line
        first = (str(exc).strip().splitlines() or [""])[0][:120]
        fail(
            "scheduler",
            f"the address of a Dask scheduler that answers within {timeout:g} s",
            f"{address!r} ({type(exc).__name__}: {first})",
            raw=True,
        )


@dataclass(frozen=True)
class RunContext:
    """Where and how a run executes (not part of the run key)."""

    device: str = "cpu"
    progress: bool = False


@dataclass
class RunOutput:
    """What a simulation's ``run`` returns: scalar metrics and the arrays for ``arrays.npz``."""

    metrics: dict[str, float]
    arrays: dict[str, np.ndarray]


@dataclass(frozen=True)
class Simulation:
    """A numbered simulation.

    Attributes:
        number: two digits, e.g. ``"01"``.
        name: snake-case name, e.g. ``"frozen_weights"``.
        title: one line for ``python -m sims list``.
        paper: the paper (and theorem/figure) it serves.
        configs: ``configs(scale)`` gives the grid of frozen-dataclass configs; each has ``n_seeds``
            (or a ``setup`` field that has it).
        run: ``run(config, context)`` trains and measures one config.
        label: a short readable prefix for a config's run key.
        group: optional; ``group(config)`` is a key, equal for rows that ``run_group`` can batch.
        run_group: optional; ``run_group(configs, context)`` runs configs of one group as one batched
            ensemble and returns one :class:`RunOutput` per config, in order.
        variants: optional named changes of the data the whole grid can run under, ``{name: f}`` with
            ``f(config)`` the config under that variant (e.g. the dictionary variants of the
            feature-purification simulations, :data:`sims.purification_runs.DICTIONARY_VARIANTS`);
            a variant's records go to their own results directory (:func:`variant_out`).
    """

    number: str
    name: str
    title: str
    paper: str
    configs: Callable[[str], Sequence[Any]]
    run: Callable[[Any, RunContext], RunOutput]
    label: Callable[[Any], str] = field(default=lambda cfg: "run")
    group: Callable[[Any], Hashable] | None = None
    run_group: Callable[[Sequence[Any], RunContext], Sequence[RunOutput]] | None = None
    variants: Mapping[str, Callable[[Any], Any]] = field(
        default_factory=dict, hash=False, compare=False
    )

    def __post_init__(self) -> None:
        if not (isinstance(self.number, str) and len(self.number) == 2 and self.number.isdigit()):
            fail("number", "two digits, e.g. '01'", self.number)
        if not (isinstance(self.name, str) and self.name and self.name.replace("_", "a").isalnum()):
            fail("name", "a snake_case name of letters, digits and '_'", self.name)
        for attr in ("configs", "run", "label"):
            if not callable(getattr(self, attr)):
                fail(attr, "a callable", getattr(self, attr))
        if not isinstance(self.variants, Mapping):
            fail("variants", "a mapping of names to config transforms", self.variants)
        for vname, transform in self.variants.items():
            if not (isinstance(vname, str) and re.fullmatch(r"[a-z0-9_]+", vname)):
                fail("variant name", "lower-case letters, digits and '_' (a folder name)", vname)
            if not callable(transform):
                fail(f"variants[{vname!r}]", "a callable (config -> config)", transform)
        if (self.group is None) != (self.run_group is None):
            raise AdvsimError(
                f"simulation {self.number}: give both group and run_group, or neither"
            )

    @property
    def id(self) -> str:
        """``NN_name``: the records folder and module name."""
        return f"{self.number}_{self.name}"

    def grid(self, scale: str, n_seeds: int | None = None, variant: str | None = None) -> list[Any]:
        """The configs at ``scale``, with ``n_seeds`` overridden when given, under ``variant`` (one of
        :attr:`variants`) when given."""
        check_choice("scale", scale, SCALES)
        cfgs = list(self.configs(scale))
        if variant is not None:
            self.check_variant(variant)
            cfgs = [self.variants[variant](c) for c in cfgs]
        if n_seeds is not None:
            n_seeds = check_int("seeds", n_seeds, 1, 9_999)
            cfgs = [with_seeds(c, n_seeds) for c in cfgs]
        return cfgs

    def check_variant(self, variant: str) -> str:
        """``variant`` if it is one of :attr:`variants`; else :class:`AdvsimError` naming them."""
        if not isinstance(variant, str) or variant not in self.variants:
            allowed = ", ".join(repr(v) for v in self.variants) or "none"
            fail("variant", f"one of simulation {self.number}'s variants ({allowed})", variant)
        return variant

    def key(self, cfg: Any, scale: str = "quick") -> str:
        """The run key of one config at ``scale`` (the rung is part of the key, so the same config on two
        rungs gives two records, each evaluated with its own rung)."""
        return run_key({"sim": self.id, "scale": scale, "config": cfg}, prefix=self.label(cfg))


@dataclass
class SweepSummary:
    """Counts of one :func:`run_simulation` call: runs computed (``ran``), already done
    (``skipped``), failed, ``busy`` (being computed by another sweep on the same folder, left to it),
    runs with a ``diverged`` training member, and temporary files ``cleaned`` up at the start.

    ``seconds`` is the sweep's wall time; in a packed sweep of several simulations
    (:func:`run_simulations` on Dask, ``packed=True``) it is the wall time from the start of the packed
    sweep to this simulation's last result (the simulations share the workers, so their times overlap),
    and ``row_seconds`` adds up the rows' own times (each group's time shared by its rows).
    """

    sim: str
    ran: int = 0
    skipped: int = 0
    failed: int = 0
    busy: int = 0
    diverged: int = 0
    cleaned: int = 0
    seconds: float = 0.0
    row_seconds: float = 0.0
    packed: bool = False
    failures: list[str] = field(default_factory=list)
    group_errors: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """What executing one config produced, wherever it ran."""

    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] | None = None
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    torch_threads: int = 0
    worker: str = "local"
    group_size: int = 1
    group_error: str | None = None
    diverged: list[list[bool]] | None = None


def _diverged(log: list[np.ndarray]) -> list[list[bool]]:
    return [[bool(v) for v in flags] for flags in log]


def execute(sim: Simulation, cfg: Any, device: str) -> Outcome:
    """Run one config; an exception becomes a ``failed`` outcome carrying its traceback. The
    divergence flags of its training calls are kept (:func:`sims.training.divergence_log`)."""
    from sims.training import divergence_log

    started, t0 = time.time(), time.perf_counter()
    with divergence_log() as log:
        try:
            result = sim.run(cfg, RunContext(device=device, progress=False))
        except Exception:  # recorded, and the sweep goes on
            return Outcome(
                "failed",
                error=traceback.format_exc(),
                timings=_timings(started, t0),
                torch_threads=torch.get_num_threads(),
                diverged=_diverged(log),
            )
    if not isinstance(result, RunOutput):
        return Outcome(
            "failed",
            error=f"run of simulation {sim.number} must return a RunOutput; got {type(result).__name__}",
            timings=_timings(started, t0),
        )
    return Outcome(
        "ok",
        result.metrics,
        result.arrays,
        timings=_timings(started, t0),
        torch_threads=torch.get_num_threads(),
        diverged=_diverged(log),
    )


def execute_group(sim: Simulation, cfgs: Sequence[Any], device: str) -> list[Outcome]:
    """Run configs of one group as one batched ensemble (:attr:`Simulation.run_group`); a single
    config, or a simulation without ``run_group``, runs alone. If the group raises, every config is
    rerun alone, so each gets its own outcome (a bad config fails alone, with its own traceback)."""
    if len(cfgs) == 1 or sim.run_group is None:
        return [execute(sim, cfg, device) for cfg in cfgs]
    from sims.training import divergence_log

    started, t0 = time.time(), time.perf_counter()
    try:
        with divergence_log() as log:
            results = list(sim.run_group(cfgs, RunContext(device=device, progress=False)))
        if len(results) != len(cfgs):
            raise AdvsimError(
                f"run_group of simulation {sim.number} returned {len(results)} outputs "
                f"for {len(cfgs)} configs"
            )
        if any(bool(np.any(flags)) for flags in log):
            # the group's flags mix rows: rerun alone so that each row's record has its own
            return [execute(sim, cfg, device) for cfg in cfgs]
    except Exception:
        # kept in each row's record: a failure that shows only when grouped must not go unseen
        error = traceback.format_exc()
        outs = [execute(sim, cfg, device) for cfg in cfgs]
        for out in outs:
            out.group_error = error
        return outs
    timings = _timings(started, t0)
    timings["seconds"] /= len(cfgs)  # the group's time, shared equally by its rows
    timings["group_seconds"] = time.perf_counter() - t0
    return [
        Outcome(
            "ok",
            r.metrics,
            r.arrays,
            timings=dict(timings),
            torch_threads=torch.get_num_threads(),
            group_size=len(cfgs),
            diverged=[],  # none diverged (else the rows were rerun alone above)
        )
        for r in results
    ]


def one_row(
    run_group: Callable[[Sequence[Any], RunContext], Sequence[RunOutput]],
) -> Callable[[Any, RunContext], RunOutput]:
    """A simulation's ``run`` from its ``run_group``: one row alone is a group of one."""

    def run(cfg: Any, ctx: RunContext) -> RunOutput:
        return run_group([cfg], ctx)[0]

    return run


def first_of_group(group: Callable[[Any], Hashable], cfgs: Sequence[Any], differ: str) -> Any:
    """The first of ``cfgs`` after checking that all share one ``group`` key (what a ``run_group``
    needs); ``differ`` names what the rows of a group may differ in, for the error."""
    if not cfgs:
        raise AdvsimError("run_group needs at least one config")
    key = group(cfgs[0])
    if any(group(c) != key for c in cfgs[1:]):
        raise AdvsimError(f"run_group needs configs of one group (equal but for {differ})")
    return cfgs[0]


def make_batches(
    sim: Simulation, pending: Sequence[tuple[str, Any]], group: bool, parts: int = 1
) -> list[list[tuple[str, Any]]]:
    """Pending ``(key, config)`` rows in the batches the sweep runs: rows with equal
    :attr:`Simulation.group` keys together (in grid order), each group split into at most ``parts``
    near-equal batches (so a cluster's workers all get work); everything alone when ``group`` is False
    or the simulation has no ``run_group``."""
    parts = check_int("parts", parts, 1)
    if not group or sim.group is None or sim.run_group is None:
        return [[row] for row in pending]
    groups: dict[Hashable, list[tuple[str, Any]]] = {}
    for key, cfg in pending:
        groups.setdefault(sim.group(cfg), []).append((key, cfg))
    out: list[list[tuple[str, Any]]] = []
    for rows in groups.values():
        k = max(1, min(parts, len(rows)))
        size = -(-len(rows) // k)
        out.extend(rows[i : i + size] for i in range(0, len(rows), size))
    return out


def load_simulation(module: str) -> Simulation:
    """The ``SIM`` of an importable module (``"sims.01_frozen_weights"``, or a user's own module).

    Raises:
        AdvsimError: when the module does not define ``SIM = Simulation(...)``.
    """
    import importlib

    sim = getattr(importlib.import_module(module), "SIM", None)
    if not isinstance(sim, Simulation):
        raise AdvsimError(f"module {module} does not define SIM = Simulation(...)")
    return sim


def module_of(sim: Simulation) -> str:
    """The name of the imported module whose ``SIM`` is ``sim`` — what a Dask worker imports to rebuild
    it (a simulation built elsewhere cannot cross the wire by name).

    Raises:
        AdvsimError: when no imported module holds ``sim`` as ``SIM``.
    """
    import sys

    for name, module in list(sys.modules.items()):
        if getattr(module, "SIM", None) is sim:
            return name
    raise AdvsimError(
        f"simulation {sim.id} must be defined as SIM in an importable module to run on Dask workers "
        "(the workers import it by name); run it in-process (workers=None) instead"
    )


def _remote(
    module: str,
    scale: str,
    n_seeds: int | None,
    keys: Sequence[str],
    device: str,
    variant: str | None = None,
) -> list[Outcome]:
    """Worker side of a distributed sweep: import the simulation's module, rebuild the configs from
    their keys (nothing but names and numbers crosses the wire), run them (one batch) with one torch
    thread, return the outcomes."""
    import os
    import socket

    torch.set_num_threads(int(os.environ.get("ADVSIM_WORKER_THREADS", "1")))
    sim = load_simulation(module)
    by_key = {sim.key(c, scale): c for c in sim.grid(scale, n_seeds, variant)}
    outs = execute_group(sim, [by_key[k] for k in keys], device)
    for out in outs:
        out.worker = f"{socket.gethostname()}:{os.getpid()}"
    return outs


def _record(store: RunStore, key: str, cfg: Any, scale: str, device: str, out: Outcome) -> None:
    body: dict[str, Any] = {
        "config": to_jsonable(cfg),
        "scale": scale,
        "versions": versions(),
        "git": git_revision(),
        "device": device,
        "torch_threads": out.torch_threads,
        "worker": out.worker,
        "group_size": out.group_size,
        "status": out.status,
        "timings": out.timings,
    }
    if out.status == "ok":
        body["metrics"] = out.metrics
    else:
        body["error"] = out.error
    if out.group_error is not None:
        body["group_error"] = out.group_error
    if out.diverged is not None:
        body["diverged"] = out.diverged
        body["diverged_any"] = any(any(flags) for flags in out.diverged)
    try:
        store.write(key, body, out.arrays if out.status == "ok" else None)
    except AdvsimError as exc:  # e.g. an array of Python objects: the run fails, the sweep goes on
        if out.status != "ok":
            raise
        out.status, out.error = "failed", f"the run's output could not be recorded: {exc}"
        body.pop("metrics", None)
        body.update(status="failed", error=out.error)
        store.write(key, body, None)


class _Sweep:
    """One simulation's sweep: its pending rows, their locks, their records and its summary — the part
    of :func:`run_simulation` that does not depend on where the rows are computed."""

    def __init__(
        self,
        sim: Simulation,
        *,
        scale: str,
        out: str | Path,
        n_seeds: int | None,
        force: bool,
        progress: bool | None,
        device: str,
        start: float | None = None,
        variant: str | None = None,
    ) -> None:
        check_instance_sim(sim)
        check_bool("force", force)
        if progress is not None:
            check_bool("progress", progress)
        self.sim = sim
        self.force = force
        cfgs = sim.grid(scale, n_seeds, variant)
        self.variant = variant
        self.store = RunStore(variant_out(check_out_dir(out), variant), sim.id)
        self.summary = SweepSummary(sim=sim.id)
        self.t_start = time.perf_counter() if start is None else start
        self.summary.cleaned = self.store.clean_temporary()
        self.pending: list[tuple[str, Any]] = []
        for cfg in cfgs:
            key = sim.key(cfg, scale)
            if not force and self.store.is_done(key):
                self.summary.skipped += 1
            else:
                self.pending.append((key, cfg))
        self.bar = tqdm(
            total=len(self.pending),
            desc=f"sim {sim.id} [{scale}]",
            unit="run",
            disable=None if progress is None else not progress,
        )
        self.locks: dict[str, RunLock] = {}
        self.scale = scale
        self.device = device

    def claim(self, batch: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """The rows of ``batch`` this sweep may compute: their locks taken; rows another sweep holds
        (busy) or finished meanwhile (done) dropped."""
        mine = []
        for key, cfg in batch:
            lock = self.store.lock(key)
            if lock is None:
                self.summary.busy += 1
                self.bar.update(1)
                continue
            if not self.force and self.store.is_done(key):  # finished by another sweep meanwhile
                lock.release()
                self.summary.skipped += 1
                self.bar.update(1)
                continue
            self.locks[key] = lock
            mine.append((key, cfg))
        return mine

    def done(self, key: str, cfg: Any, result: Outcome) -> None:
        """Record one row's outcome (and free its lock)."""
        summary = self.summary
        try:
            _record(self.store, key, cfg, self.scale, self.device, result)
        finally:
            lock = self.locks.pop(key, None)
            if lock is not None:
                lock.release()
        if result.diverged and any(any(flags) for flags in result.diverged):
            summary.diverged += 1
        if result.group_error is not None:
            last_line = result.group_error.strip().splitlines()[-1:] or ["failed"]
            summary.group_errors.append(f"{key}: group failed, reran alone: {last_line[0]}")
        summary.row_seconds += float(result.timings.get("seconds", 0.0))
        if result.status == "ok":
            summary.ran += 1
        else:
            summary.failed += 1
            last = (result.error or "").strip().splitlines()[-1:] or ["failed"]
            summary.failures.append(f"{key}: {last[0]}")
        self.bar.update(1)

    def release(self) -> None:
        """Free the locks of rows not recorded (an interrupted sweep)."""
        for lock in self.locks.values():
            lock.release()
        self.locks.clear()

    def finish(self) -> SweepSummary:
        """Close the progress bar, rewrite the table and time the sweep."""
        self.release()
        self.bar.close()
        self.store.write_table()
        self.summary.seconds = time.perf_counter() - self.t_start
        return self.summary


def run_simulation(
    sim: Simulation,
    *,
    scale: str = "quick",
    out: str | Path = "results",
    n_seeds: int | None = None,
    device: str = "cpu",
    force: bool = False,
    progress: bool | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    group: bool = True,
    variant: str | None = None,
) -> SweepSummary:
    """Run every config of ``sim`` at ``scale`` not already finished under ``out``.

    In-process by default; with ``workers`` on a local Dask cluster of that many single-threaded
    worker processes, or with ``scheduler`` (an address) on an existing Dask cluster whose workers have
    advsim installed — the same code either way. Records are the resume state: a finished run
    (``status="ok"``) is skipped unless ``force``; a config that raises is recorded with
    ``status="failed"`` and its traceback and the sweep goes on; a task whose worker dies is
    rescheduled by Dask, and each run's record is written once, by this process, when its result
    arrives. Pending rows that share shapes run as one batched ensemble when the simulation can
    (``group``, see the module docstring; ``group=False`` runs every row alone). Ends by rewriting
    the table. ``variant`` runs the grid under one of the simulation's :attr:`Simulation.variants`,
    into :func:`variant_out` of ``out``.
    """
    return run_simulations(
        [sim],
        scale=scale,
        out=out,
        n_seeds=n_seeds,
        device=device,
        force=force,
        progress=progress,
        workers=workers,
        scheduler=scheduler,
        group=group,
        variant=variant,
    )[0]


def run_simulations(
    sims: Sequence[Simulation],
    *,
    scale: str = "quick",
    out: str | Path = "results",
    n_seeds: int | None = None,
    device: str = "cpu",
    force: bool = False,
    progress: bool | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    group: bool = True,
    on_finish: Callable[[SweepSummary], None] | None = None,
    variant: str | None = None,
) -> list[SweepSummary]:
    """:func:`run_simulation` for several simulations; their summaries in the order given.

    In-process, one simulation after the other. On a Dask cluster (``workers`` or ``scheduler``) one
    cluster serves them all and the batches of *every* simulation are queued at once, so the workers
    stay busy from the first batch to the last instead of idling at the end of each simulation (a
    simulation with one long row, or fewer batches than workers, no longer holds the others up). The
    queue runs batches with more rows first (longest-processing-time-first, with rows as the measure
    of work: a batched group is the longest task of its simulation), then in the order given; groups
    are split over the workers only where the simulations are fewer than the worker threads. Each
    simulation gets the records it would get alone up to float rounding (how rows are batched may
    differ, and with it ``group_size``, ``timings`` and ``worker``); ``on_finish`` is called with each
    summary as soon as its simulation is complete (see :class:`SweepSummary` for ``seconds``).
    ``variant`` (a name in every simulation's :attr:`Simulation.variants`) runs each grid under it.
    """
    if isinstance(sims, Simulation) or not isinstance(sims, Sequence):
        fail("sims", "a sequence of Simulations", sims)
    for sim in sims:
        check_instance_sim(sim)
        if variant is not None:
            sim.check_variant(variant)
    device = resolve_device(device)
    check_bool("group", group)
    if workers is not None:
        check_int("workers", workers, 1)
    if scheduler is not None:
        check_scheduler(scheduler)
    summaries: list[SweepSummary] = []
    new_sweep = functools.partial(
        _Sweep,
        scale=scale,
        out=out,
        n_seeds=n_seeds,
        force=force,
        progress=progress,
        device=device,
        variant=variant,
    )
    if workers is None and scheduler is None:
        for sim in sims:
            sweep = new_sweep(sim)
            try:
                for batch in make_batches(sim, sweep.pending, group):
                    batch = sweep.claim(batch)
                    if not batch:
                        continue
                    outs = execute_group(sim, [cfg for _, cfg in batch], device)
                    for (key, cfg), result in zip(batch, outs, strict=True):
                        sweep.done(key, cfg, result)
            finally:
                sweep.release()
            summaries.append(sweep.finish())
            if on_finish is not None:
                on_finish(summaries[-1])
        return summaries
    sweeps = []
    t0 = time.perf_counter()  # one start for every sweep of the packed run (see SweepSummary)
    try:
        for sim in sims:
            sweep = new_sweep(sim, start=t0)
            sweep.summary.packed = len(sims) > 1
            sweeps.append(sweep)
        _run_dask(sweeps, scale, n_seeds, device, workers, scheduler, group, on_finish)
    finally:
        for sweep in sweeps:
            sweep.release()
    return [sweep.summary for sweep in sweeps]


def queue_order(sizes: Sequence[int]) -> list[int]:
    """The order in which a packed sweep queues its batches, given their sizes in rows: larger batches
    first (longest-processing-time-first scheduling, with rows as the measure of work, so that no long
    batch starts last while the other workers idle), ties in the order given."""
    return sorted(range(len(sizes)), key=lambda j: (-sizes[j], j))


def _run_dask(
    sweeps: Sequence[_Sweep],
    scale: str,
    n_seeds: int | None,
    device: str,
    workers: int | None,
    scheduler: str | None,
    group: bool,
    on_finish: Callable[[SweepSummary], None] | None,
) -> None:
    """Submit one task per batch of pending configs of every sweep (:func:`make_batches`) to a Dask
    cluster, longest batches first, and record results as they arrive; finish each sweep when its last
    result is in."""
    try:
        import dask
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise AdvsimError("workers/scheduler need Dask: pip install 'dask[distributed]'") from exc
    # before starting a cluster: fails fast for a simulation without a module
    modules = [module_of(sweep.sim) for sweep in sweeps]
    claimed = [sweep.claim(sweep.pending) for sweep in sweeps]
    open_sweeps = set()
    for i, (sweep, mine) in enumerate(zip(sweeps, claimed, strict=True)):
        if mine:
            open_sweeps.add(i)
        else:
            sweep.finish()
            if on_finish is not None:
                on_finish(sweep.summary)
    if not open_sweeps:
        return
    cluster = None
    if scheduler is None:
        check_int("workers", workers, 1)
        # the nanny's default MALLOC_TRIM_THRESHOLD_ makes torch loops ~2x slower (DESIGN.md)
        with dask.config.set(
            {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": str(512 << 20)}
        ):
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
        client = Client(cluster)  # type: ignore[no-untyped-call]
    else:
        client = _connect(
            scheduler, float(os.environ.get("ADVSIM_SCHEDULER_TIMEOUT", SCHEDULER_TIMEOUT))
        )
    try:
        client.wait_for_workers(1)
        slots = max(1, sum(client.nthreads().values()))  # type: ignore[no-untyped-call]
        parts = max(1, slots // len(open_sweeps))
        left = {i: 0 for i in open_sweeps}

        def submit(i: int, batch: list[tuple[str, Any]], priority: int) -> Any:
            left[i] += 1
            return client.submit(
                _remote,
                modules[i],
                scale,
                n_seeds,
                [key for key, _ in batch],
                device,
                sweeps[i].variant,
                pure=False,
                priority=priority,
                key=f"{sweeps[i].sim.id}-{batch[0][0]}-x{len(batch)}",
            )

        todo = [
            (i, b)
            for i in sorted(open_sweeps)
            for b in make_batches(sweeps[i].sim, claimed[i], group, parts=parts)
        ]
        order = queue_order([len(b) for _, b in todo])
        futures = {}
        for rank, j in enumerate(order):
            i, batch = todo[j]
            futures[submit(i, batch, len(order) - rank)] = (i, batch)
        queue = as_completed(list(futures))  # type: ignore[no-untyped-call]
        for fut in queue:
            i, batch = futures.pop(fut)
            left[i] -= 1
            try:
                results = fut.result()
            except Exception:  # the task itself could not complete (e.g. its workers kept dying)
                if len(batch) > 1:  # a row that kills its worker must fail alone: split the batch
                    for row in batch:
                        new = submit(i, [row], 0)
                        futures[new] = (i, [row])
                        queue.add(new)  # type: ignore[no-untyped-call]
                    continue
                results = [Outcome("failed", error=traceback.format_exc(), worker="lost")]
            for (key, cfg), result in zip(batch, results, strict=True):
                sweeps[i].done(key, cfg, result)
            if left[i] == 0:
                sweeps[i].finish()
                if on_finish is not None:
                    on_finish(sweeps[i].summary)
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()


def check_instance_sim(sim: object) -> None:
    """Raise unless ``sim`` is a :class:`Simulation`."""
    if not isinstance(sim, Simulation):
        fail("sim", "a Simulation (e.g. sims.registry.find_simulation('01'))", sim)


def variant_out(out: Path, variant: str | None) -> Path:
    """Where a sweep under ``variant`` keeps its records: ``out/variants/<variant>`` (``out`` itself for
    the plain grid), so a variant's rows — labelled as the plain ones — never mix with them and
    ``python -m paper_checks --results out/variants/<variant>`` evaluates the same claims on them."""
    return out if variant is None else out / "variants" / variant


def check_out_dir(out: object) -> Path:
    """``out`` as a directory this process can write records into (created if missing), or raise
    naming it: not a path, an existing file, or a folder without write permission."""
    if not isinstance(out, str | os.PathLike) or str(out) == "":
        fail("out", "a directory path", out)
    path = Path(out)
    if path.exists() and not path.is_dir():
        fail("out", "a directory (it is an existing file)", str(path))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail("out", "a directory that can be created", f"{str(path)!r} ({exc.strerror})", raw=True)
    probe = path / f".advsim-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        fail("out", "a writable directory", f"{str(path)!r} ({exc.strerror})", raw=True)
    return path


def _timings(started: float, t0: float) -> dict[str, float]:
    return {"start": started, "end": time.time(), "seconds": time.perf_counter() - t0}
