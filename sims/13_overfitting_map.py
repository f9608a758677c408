"""Simulation 13 — a map of catastrophic overfitting over ``α/ε`` and ``ε``, with and without the guard.

Wong, Rice & Kolter (2020), PAPERS.md §3: fast AT's PGD robust accuracy can collapse to about zero within
a few epochs when the step ``α`` is too large or the random start covers too little of the ball; their
guard — PGD on a fixed training batch after every epoch, stop and keep the previous weights when robust
accuracy falls by more than 0.2 — prevents it. Here, on points of a 10-dimensional subspace of ``R^100``
(full-batch training, so one step is one epoch; the guard checks every :data:`GUARD_EVERY` steps), ℓ∞
FGSM-RS is run for :data:`STEPS` steps at every ``(α/ε, ε)`` of the grid, plus plain FGSM (no random
start, ``α = ε``), each with the guard off and on.

Every cell seeds member ``i`` alike (:func:`sims.simulation.member_seeds`) on the same data, so the cells
of the map are paired by member: the checks resample members jointly across cells.

Scales: ``quick`` — 8 members, :data:`STEPS` steps; ``medium`` — 16 members, 2× the steps (longer
training is where catastrophic overfitting should show); ``paper`` — 16 members, 5× the steps; width 200,
``d`` and the radii stay (ε is set against the data's scale).

Records: ``guard_acc (C, M)`` (the guard's PGD-5 robust accuracy on the fixed batch at each check — also
recorded with the guard off, where it never acts), ``guard_step (M,)`` (−1: never fired), the final test
``robust (M,)`` (PGD-50, two restarts), ``train_acc (M,)`` and ``test_acc (M,)``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from sims.attacks import PGD
from sims.cli import main_for
from sims.data import make_subspace_data
from sims.errors import check_choice, check_float, check_int
from sims.measure import accuracy
from sims.methods import FastAT
from sims.nets import init_ensemble
from sims.optim import OptimizerConfig
from sims.simulation import (
    SCALES,
    RunContext,
    RunOutput,
    Simulation,
    first_of_group,
    member_seeds,
    one_row,
    torch_dtype,
)
from sims.threat import LinfBall
from sims.training import OverfitGuard, TrainConfig, train

STEPS = 300
GUARD_EVERY = 10
#: Guard drop that stops training; with the guard "off" it is set out of reach (the checks still run).
DROP = 0.2


@dataclass(frozen=True)
class Config:
    """One cell of the map: ``α/ε``, ``ε``, the start (``'uniform'`` or ``'none'``) and the guard."""

    condition: str
    role: str
    a: float
    eps: float
    start: str
    guard: bool
    steps: int = STEPS
    n_seeds: int = 8
    seed: int = 0
    m: int = 200

    def __post_init__(self) -> None:
        check_choice("role", self.role, ("law", "control"))
        check_float("a", self.a, 0.0, lo_open=True)
        check_float("eps", self.eps, 0.0, lo_open=True)
        check_choice("start", self.start, ("uniform", "none"))
        check_int("m", self.m, 1)


#: Per scale: training steps, members, width.
SIZES = {"quick": (STEPS, 8, 200), "medium": (2 * STEPS, 16, 200), "paper": (5 * STEPS, 16, 200)}
assert tuple(SIZES) == SCALES


def configs(scale: str) -> list[Config]:
    """The (α/ε, ε) grid and plain FGSM, guard off and on, at the rung's :data:`SIZES`."""
    steps, seeds, m = SIZES[check_choice("scale", scale, SCALES)]
    out = []
    for guard in (False, True):
        g = "guard" if guard else "noguard"
        for eps in (0.025, 0.05, 0.1):
            for a in (1.0, 1.25, 1.5, 2.0, 2.5):
                role = "law" if a >= 2.0 else "control"
                out.append(
                    Config(
                        f"{g}-rs-a{a:g}-eps{eps:g}",
                        role,
                        a,
                        eps,
                        "uniform",
                        guard,
                        steps,
                        seeds,
                        m=m,
                    )
                )
            out.append(
                Config(f"{g}-fgsm-eps{eps:g}", "law", 1.0, eps, "none", guard, steps, seeds, m=m)
            )
    return out


def group(cfg: Config) -> tuple[object, ...]:
    """Rows that differ only in ``α/ε`` and ``ε`` (per-member settings of :class:`FastAT`) batch."""
    return (cfg.start, cfg.guard, cfg.steps, cfg.n_seeds, cfg.seed, cfg.m)


def run_group(cfgs: Sequence[Config], ctx: RunContext) -> list[RunOutput]:
    """Fast AT on subspace data for every row at once (one ensemble, each row's members with their
    own ``ε`` and ``α``); the guard's trajectory; final PGD-50 robust accuracy on test points."""
    first: Config = first_of_group(group, cfgs, "ε and α/ε")
    dtype = torch_dtype("float32")
    data = make_subspace_data(400, 100, 10, seed=first.seed, labels="linear")
    X, y = data.tensors(dtype=dtype, device=ctx.device)
    Xtr, ytr, Xte, yte = X[:200], y[:200], X[200:], y[200:]
    k = first.n_seeds
    ens = init_ensemble(
        100,
        first.m,
        seeds=member_seeds(first.seed, k) * len(cfgs),
        scheme="signs",
        trainable=("W", "b"),
        dtype=dtype,
        device=ctx.device,
    )
    eps = tuple(c.eps for c in cfgs for _ in range(k))
    method = FastAT(
        norm="linf",
        eps=eps,
        alpha=tuple(c.a for c in cfgs for _ in range(k)),
        random_start=first.start != "none",
        seed=first.seed,
    )
    guard = OverfitGuard(every=GUARD_EVERY, drop=DROP if first.guard else 2.0, n_points=128)
    res = train(
        ens,
        Xtr,
        ytr,
        TrainConfig(
            steps=first.steps, optimizer=OptimizerConfig(lr=0.5), method=method, guard=guard
        ),
    )
    assert res.guard_acc is not None and res.guard_step is not None
    radii = torch.tensor(eps, dtype=torch.float64)[:, None]
    atk = PGD(steps=50, restarts=2)(ens, Xte, yte, LinfBall(eps=radii))
    robust = ((atk.margin > 0) & (atk.clean_margin > 0)).double().mean(1).cpu().numpy()
    test_acc = accuracy(ens, Xte, yte)
    train_acc = accuracy(ens, Xtr, ytr)
    outs = []
    for i in range(len(cfgs)):
        rows = slice(i * k, (i + 1) * k)
        guard_acc, guard_step = res.guard_trajectory(rows), res.guard_step[rows]
        collapse = guard_acc.max(axis=0) - guard_acc[-1]
        arrays = {
            "guard_acc": guard_acc,
            "guard_step": guard_step,
            "robust": robust[rows],
            "train_acc": train_acc[rows],
            "test_acc": test_acc[rows],
        }
        metrics = {
            "robust": float(robust[rows].mean()),
            "collapse_max": float(collapse.max()),
            "fired": float((guard_step >= 0).mean()),
        }
        outs.append(RunOutput(metrics=metrics, arrays=arrays))
    return outs


SIM = Simulation(
    number="13",
    name="overfitting_map",
    title="catastrophic overfitting of fast AT over α/ε and ε, with and without the guard",
    paper="Wong, Rice & Kolter 2020 (PAPERS.md §3, catastrophic overfitting and its guard)",
    configs=configs,
    run=one_row(run_group),
    label=lambda c: c.condition,
    group=group,
    run_group=run_group,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
