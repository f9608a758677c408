"""What a numbered simulation is, and the one loop that runs any of them into records.

A simulation module (``sims/NN_name.py``) defines ``SIM = Simulation(...)``: its number and name, the
paper and claim it serves, a config grid at two scales (``quick`` for CI and the main job, ``paper`` for
the paper's setting) and a ``run`` function from one config to measurements. :func:`run_simulation` does
the rest for every simulation alike: run keys, skipping finished runs, recording failures without
stopping the sweep, atomic records, the aggregate table and a progress bar.

Grouping. A simulation whose rows share shapes may also give ``group`` (a config's group key) and
``run_group`` (many configs, one batched ensemble: the members of every row side by side, each with its
own hyperparameters, e.g. per-member radii and steps of :class:`sims.methods.FastAT`). The sweep then
groups pending rows with equal keys automatically and runs each group as one ensemble; every row still
gets its own record, with what ``run`` alone would give (members are independent: the same numbers up to
float rounding, tested). A group that raises is rerun row by row, so one bad config fails alone.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from sims.errors import AdvsimError, check_choice, check_int
from sims.records import RunStore, git_revision, run_key, to_jsonable, versions

__all__ = [
    "SCALES",
    "RunContext",
    "RunOutput",
    "Simulation",
    "SweepSummary",
    "execute_group",
    "first_of_group",
    "make_batches",
    "member_seeds",
    "one_row",
    "resolve_device",
    "run_simulation",
    "torch_dtype",
]

SCALES = ("quick", "paper")
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
    """Check that ``device`` can be used here (``cpu`` always; ``cuda`` where a GPU exists)."""
    check_choice("device", device.split(":")[0], ("cpu", "cuda", "mps"))
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise AdvsimError(f"device {device!r} was requested but torch sees no CUDA GPU; use 'cpu'")
    return device


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

    def __post_init__(self) -> None:
        if (self.group is None) != (self.run_group is None):
            raise AdvsimError(
                f"simulation {self.number}: give both group and run_group, or neither"
            )

    @property
    def id(self) -> str:
        """``NN_name``: the records folder and module name."""
        return f"{self.number}_{self.name}"

    def grid(self, scale: str, n_seeds: int | None = None) -> list[Any]:
        """The configs at ``scale``, with ``n_seeds`` overridden when given."""
        check_choice("scale", scale, SCALES)
        cfgs = list(self.configs(scale))
        if n_seeds is not None:
            n_seeds = check_int("seeds", n_seeds, 1, 9_999)
            cfgs = [with_seeds(c, n_seeds) for c in cfgs]
        return cfgs

    def key(self, cfg: Any) -> str:
        """The run key of one config."""
        return run_key({"sim": self.id, "config": cfg}, prefix=self.label(cfg))


@dataclass
class SweepSummary:
    """Counts of one :func:`run_simulation` call."""

    sim: str
    ran: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
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


def execute(sim: Simulation, cfg: Any, device: str) -> Outcome:
    """Run one config; an exception becomes a ``failed`` outcome carrying its traceback."""
    started, t0 = time.time(), time.perf_counter()
    try:
        result = sim.run(cfg, RunContext(device=device, progress=False))
    except Exception:  # recorded, and the sweep goes on
        return Outcome(
            "failed",
            error=traceback.format_exc(),
            timings=_timings(started, t0),
            torch_threads=torch.get_num_threads(),
        )
    return Outcome(
        "ok",
        result.metrics,
        result.arrays,
        timings=_timings(started, t0),
        torch_threads=torch.get_num_threads(),
    )


def execute_group(sim: Simulation, cfgs: Sequence[Any], device: str) -> list[Outcome]:
    """Run configs of one group as one batched ensemble (:attr:`Simulation.run_group`); a single
    config, or a simulation without ``run_group``, runs alone. If the group raises, every config is
    rerun alone, so each gets its own outcome (a bad config fails alone, with its own traceback)."""
    if len(cfgs) == 1 or sim.run_group is None:
        return [execute(sim, cfg, device) for cfg in cfgs]
    started, t0 = time.time(), time.perf_counter()
    try:
        results = list(sim.run_group(cfgs, RunContext(device=device, progress=False)))
        if len(results) != len(cfgs):
            raise AdvsimError(
                f"run_group of simulation {sim.number} returned {len(results)} outputs "
                f"for {len(cfgs)} configs"
            )
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


def _remote(
    sim_id: str, scale: str, n_seeds: int | None, keys: Sequence[str], device: str
) -> list[Outcome]:
    """Worker side of a distributed sweep: rebuild the configs from their keys (nothing but names and
    numbers crosses the wire), run them (one batch) with one torch thread, return the outcomes."""
    import os
    import socket

    from sims.registry import find_simulation

    torch.set_num_threads(int(os.environ.get("ADVSIM_WORKER_THREADS", "1")))
    sim = find_simulation(sim_id)
    by_key = {sim.key(c): c for c in sim.grid(scale, n_seeds)}
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
    store.write(key, body, out.arrays if out.status == "ok" else None)


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
    the table.
    """
    device = resolve_device(device)
    cfgs = sim.grid(scale, n_seeds)
    store = RunStore(out, sim.id)
    summary = SweepSummary(sim=sim.id)
    t_start = time.perf_counter()
    pending = []
    for cfg in cfgs:
        key = sim.key(cfg)
        if not force and store.is_done(key):
            summary.skipped += 1
        else:
            pending.append((key, cfg))
    bar = tqdm(
        total=len(pending),
        desc=f"sim {sim.id} [{scale}]",
        unit="run",
        disable=None if progress is None else not progress,
    )

    def done(key: str, cfg: Any, result: Outcome) -> None:
        _record(store, key, cfg, scale, device, result)
        if result.group_error is not None:
            last_line = result.group_error.strip().splitlines()[-1:] or ["failed"]
            summary.group_errors.append(f"{key}: group failed, reran alone: {last_line[0]}")
        if result.status == "ok":
            summary.ran += 1
        else:
            summary.failed += 1
            last = (result.error or "").strip().splitlines()[-1:] or ["failed"]
            summary.failures.append(f"{key}: {last[0]}")
        bar.update(1)

    if workers is None and scheduler is None:
        for batch in make_batches(sim, pending, group):
            outs = execute_group(sim, [cfg for _, cfg in batch], device)
            for (key, cfg), result in zip(batch, outs, strict=True):
                done(key, cfg, result)
    else:
        _run_dask(sim, pending, scale, n_seeds, device, workers, scheduler, group, done)
    bar.close()
    store.write_table()
    summary.seconds = time.perf_counter() - t_start
    return summary


def _run_dask(
    sim: Simulation,
    pending: list[tuple[str, Any]],
    scale: str,
    n_seeds: int | None,
    device: str,
    workers: int | None,
    scheduler: str | None,
    group: bool,
    done: Callable[[str, Any, Outcome], None],
) -> None:
    """Submit one task per batch of pending configs (:func:`make_batches`, each group split over the
    cluster's worker threads) to a Dask cluster and record results as they arrive."""
    try:
        import dask
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise AdvsimError("workers/scheduler need Dask: pip install 'dask[distributed]'") from exc
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
        client = Client(scheduler)  # type: ignore[no-untyped-call]
    try:
        client.wait_for_workers(1)
        slots = max(1, sum(client.nthreads().values()))  # type: ignore[no-untyped-call]

        def submit(batch: list[tuple[str, Any]]) -> Any:
            return client.submit(
                _remote,
                sim.id,
                scale,
                n_seeds,
                [key for key, _ in batch],
                device,
                pure=False,
                key=f"{sim.id}-{batch[0][0]}-x{len(batch)}",
            )

        futures = {submit(b): b for b in make_batches(sim, pending, group, parts=slots)}
        queue = as_completed(list(futures))  # type: ignore[no-untyped-call]
        for fut in queue:
            batch = futures.pop(fut)
            try:
                results = fut.result()
            except Exception:  # the task itself could not complete (e.g. its workers kept dying)
                if len(batch) > 1:  # a row that kills its worker must fail alone: split the batch
                    for row in batch:
                        new = submit([row])
                        futures[new] = [row]
                        queue.add(new)  # type: ignore[no-untyped-call]
                    continue
                results = [Outcome("failed", error=traceback.format_exc(), worker="lost")]
            for (key, cfg), result in zip(batch, results, strict=True):
                done(key, cfg, result)
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()


def _timings(started: float, t0: float) -> dict[str, float]:
    return {"start": started, "end": time.time(), "seconds": time.perf_counter() - t0}
