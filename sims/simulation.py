"""What a numbered simulation is, and the one loop that runs any of them into records.

A simulation module (``sims/NN_name.py``) defines ``SIM = Simulation(...)``: its number and name, the
paper and claim it serves, a config grid at two scales (``quick`` for CI and the main job, ``paper`` for
the paper's setting) and a ``run`` function from one config to measurements. :func:`run_simulation` does
the rest for every simulation alike: run keys, skipping finished runs, recording failures without
stopping the sweep, atomic records, the aggregate table and a progress bar.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Sequence
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
    "member_seeds",
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
    """

    number: str
    name: str
    title: str
    paper: str
    configs: Callable[[str], Sequence[Any]]
    run: Callable[[Any, RunContext], RunOutput]
    label: Callable[[Any], str] = field(default=lambda cfg: "run")

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


def run_simulation(
    sim: Simulation,
    *,
    scale: str = "quick",
    out: str | Path = "results",
    n_seeds: int | None = None,
    device: str = "cpu",
    force: bool = False,
    progress: bool | None = None,
) -> SweepSummary:
    """Run every config of ``sim`` at ``scale`` not already finished under ``out``.

    A config that raises is recorded with ``status="failed"`` and its traceback, and the sweep goes on;
    a finished run (``status="ok"``) is skipped unless ``force``. Ends by rewriting the table.
    """
    device = resolve_device(device)
    cfgs = sim.grid(scale, n_seeds)
    store = RunStore(out, sim.id)
    summary = SweepSummary(sim=sim.id)
    t_start = time.perf_counter()
    ctx = RunContext(device=device, progress=False)
    bar = tqdm(
        cfgs,
        desc=f"sim {sim.id} [{scale}]",
        unit="run",
        disable=None if progress is None else not progress,
    )
    for cfg in bar:
        key = sim.key(cfg)
        if not force and store.is_done(key):
            summary.skipped += 1
            continue
        started = time.time()
        t0 = time.perf_counter()
        base: dict[str, Any] = {
            "config": to_jsonable(cfg),
            "scale": scale,
            "versions": versions(),
            "git": git_revision(),
            "device": device,
            "torch_threads": torch.get_num_threads(),
        }
        try:
            result = sim.run(cfg, ctx)
        except Exception as exc:  # recorded, and the sweep goes on
            summary.failed += 1
            summary.failures.append(f"{key}: {type(exc).__name__}: {exc}")
            store.write(
                key,
                {
                    **base,
                    "status": "failed",
                    "error": traceback.format_exc(),
                    "timings": _timings(started, t0),
                },
            )
            continue
        store.write(
            key,
            {**base, "status": "ok", "metrics": result.metrics, "timings": _timings(started, t0)},
            result.arrays,
        )
        summary.ran += 1
    store.write_table()
    summary.seconds = time.perf_counter() - t_start
    return summary


def _timings(started: float, t0: float) -> dict[str, float]:
    return {"start": started, "end": time.time(), "seconds": time.perf_counter() - t0}
