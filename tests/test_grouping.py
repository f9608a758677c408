"""Grouped sweeps: rows that share shapes run as one batched ensemble, with per-member radii and steps.

Every check compares a grouped computation with the same rows run alone: the member axis is
independent, so a member of a group must give what it gives alone.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from sims.attacks import PGD
from sims.errors import AdvsimError
from sims.methods import PGDAT, FastAT
from sims.nets import init_ensemble
from sims.optim import OptimizerConfig
from sims.records import RunStore
from sims.simulation import (
    RunContext,
    RunOutput,
    Simulation,
    execute_group,
    make_batches,
    run_simulation,
)
from sims.threat import L2Ball, LinfBall
from sims.training import OverfitGuard, TrainConfig, train

D64 = torch.float64


def _problem(n: int = 60, d: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, dtype=D64, generator=gen)
    return X, torch.sign(X[:, 0] - 0.3 * X[:, 2])


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_per_member_eps_and_alpha_train_each_member_as_alone(norm: str) -> None:
    """Fast AT with one (ε, α) per member, guard on: every member's weights, guard trajectory and
    robust accuracy equal those of the member trained alone with scalar settings."""
    X, y = _problem()
    rows = [(0.05, 1.0), (0.2, 2.0), (0.1, 1.25)]
    seeds = [0, 1]
    guard = OverfitGuard(every=5, drop=0.2, n_points=40)

    def cfg(method: FastAT) -> TrainConfig:
        return TrainConfig(steps=30, optimizer=OptimizerConfig(lr=0.2), method=method, guard=guard)

    big = init_ensemble(6, 12, seeds=seeds * len(rows), dtype=D64)
    eps = tuple(e for e, _ in rows for _ in seeds)
    alpha = tuple(a for _, a in rows for _ in seeds)
    res = train(big, X, y, cfg(FastAT(norm=norm, eps=eps, alpha=alpha, seed=4)))
    ball = LinfBall if norm == "linf" else L2Ball
    margin = PGD(steps=10)(big, X, y, ball(torch.tensor(eps, dtype=D64)[:, None])).margin
    assert res.guard_acc is not None
    for i, (e, a) in enumerate(rows):
        ens = init_ensemble(6, 12, seeds=seeds, dtype=D64)
        alone = train(ens, X, y, cfg(FastAT(norm=norm, eps=e, alpha=a, seed=4)))
        sl = slice(2 * i, 2 * i + 2)
        torch.testing.assert_close(big.W[sl], ens.W, rtol=1e-12, atol=1e-13)
        assert alone.guard_acc is not None
        np.testing.assert_array_equal(res.guard_acc[:, sl], alone.guard_acc)
        torch.testing.assert_close(
            margin[sl], PGD(steps=10)(ens, X, y, ball(e)).margin, rtol=1e-9, atol=1e-10
        )


def test_guard_trajectory_of_a_row_is_cut_where_the_row_alone_would_stop() -> None:
    """A row whose members are all stopped by the guard ends its run there when alone; grouped, the
    other rows keep the loop (and the checks) going. ``guard_trajectory`` gives the alone record."""
    X, y = _problem()
    rows = [
        0.8,
        0.01,
    ]  # the large radius collapses robust accuracy quickly; drop=0 stops on any fall
    seeds = [0, 1]
    guard = OverfitGuard(every=2, drop=0.0, n_points=40)

    def cfg(eps: float | tuple[float, ...]) -> TrainConfig:
        method = FastAT(norm="linf", eps=eps, alpha=1.25, seed=1)
        return TrainConfig(steps=40, optimizer=OptimizerConfig(lr=0.3), method=method, guard=guard)

    big = init_ensemble(6, 12, seeds=seeds * 2, dtype=D64)
    res = train(big, X, y, cfg(tuple(e for e in rows for _ in seeds)))
    assert res.guard_acc is not None and res.guard_checks is not None
    cut = False
    for i, eps in enumerate(rows):
        ens = init_ensemble(6, 12, seeds=seeds, dtype=D64)
        alone = train(ens, X, y, cfg(eps))
        sl = slice(2 * i, 2 * i + 2)
        traj = res.guard_trajectory(sl)
        assert alone.guard_acc is not None
        np.testing.assert_array_equal(traj, alone.guard_acc)
        np.testing.assert_array_equal(res.guard_step[sl], alone.guard_step)  # type: ignore[index]
        torch.testing.assert_close(big.W[sl], ens.W, rtol=1e-12, atol=1e-13)
        cut |= traj.shape[0] < res.guard_acc.shape[0]
    assert cut, "no row stopped before the group did: the test would not see a cut"


def test_per_member_eps_differs_from_a_shared_one() -> None:
    """Teeth: the per-member radii are used (a group at ε = (0.05, 0.3) is not the ε = 0.05 run)."""
    X, y = _problem()
    a = init_ensemble(6, 12, seeds=[0, 0], dtype=D64)
    b = a.clone()
    train(a, X, y, TrainConfig(steps=10, method=PGDAT(eps=(0.05, 0.3), steps=3)))
    train(b, X, y, TrainConfig(steps=10, method=PGDAT(eps=0.05, steps=3)))
    torch.testing.assert_close(a.W[0], b.W[0], rtol=1e-12, atol=1e-13)
    assert float((a.W[1] - b.W[1]).abs().max()) > 1e-3


def test_per_member_settings_are_checked() -> None:
    X, y = _problem()
    ens = init_ensemble(6, 4, seeds=[0, 1, 2], dtype=D64)
    with pytest.raises(AdvsimError, match=r"^eps must give one value per member \(M=3\); got 2"):
        PGDAT(eps=(0.1, 0.2)).loss_grads(ens, X, y)
    with pytest.raises(AdvsimError, match=r"^alpha must give one value per member \(M=3\)"):
        FastAT(eps=0.1, alpha=(1.0, 2.0)).loss_grads(ens, X, y)
    with pytest.raises(AdvsimError, match="^alpha entry must be"):
        FastAT(eps=0.1, alpha=(1.0, 0.0))
    with pytest.raises(AdvsimError, match="^eps entry must be"):
        PGDAT(eps=(0.1, -1.0))
    with pytest.raises(AdvsimError, match="^eps must be a number >= 0 or one per member"):
        PGDAT(eps=())
    with pytest.raises(AdvsimError, match="^rel_stepsize is per member"):
        _ = PGD(rel_stepsize=(0.1, 0.2)).alpha
    with pytest.raises(AdvsimError, match=r"^rel_stepsize must give one value per member"):
        PGD(rel_stepsize=(0.1, 0.2))(ens, X, y, LinfBall(0.1))
    with pytest.raises(AdvsimError, match=r"^eps of shape \(M, n\) or \(M, 1\) must match"):
        PGD(steps=1)(ens, X, y, LinfBall(np.full((2, 1), 0.1)))


def test_per_member_steps_split_over_member_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-member step multiples follow their members when the attack runs in member blocks."""
    import sims.nets as nets_mod

    X, y = _problem()
    ens = init_ensemble(6, 8, seeds=[0, 1, 2, 3], dtype=D64)
    atk = PGD(steps=4, rel_stepsize=(0.1, 0.5, 1.0, 2.0), keep_best=False)
    whole = atk(ens, X, y, L2Ball(0.5)).delta
    monkeypatch.setattr(nets_mod, "BLOCK_BYTES", 1)  # one member per block
    torch.testing.assert_close(atk(ens, X, y, L2Ball(0.5)).delta, whole, rtol=0, atol=0)
    for i, a in enumerate((0.1, 0.5, 1.0, 2.0)):
        alone = PGD(steps=4, rel_stepsize=a, keep_best=False)(ens.select([i]), X, y, L2Ball(0.5))
        torch.testing.assert_close(alone.delta[0], whole[i], rtol=1e-12, atol=1e-13)


# ----------------------------------------------------------------- the sweep loop


@dataclass(frozen=True)
class Row:
    scale: float
    kind: str = "a"
    n_seeds: int = 2


def _one(cfg: Row, values: np.ndarray) -> RunOutput:
    return RunOutput(metrics={"mean": float(values.mean())}, arrays={"v": values})


def _run(cfg: Row, ctx: RunContext) -> RunOutput:
    if cfg.scale < 0:
        raise ValueError("negative scale")
    return _one(cfg, cfg.scale * np.arange(cfg.n_seeds, dtype=float))


CALLS: list[int] = []


def _run_group(cfgs: Sequence[Row], ctx: RunContext) -> list[RunOutput]:
    CALLS.append(len(cfgs))
    if any(c.scale < 0 for c in cfgs):
        raise ValueError("negative scale")
    scales = np.repeat([c.scale for c in cfgs], cfgs[0].n_seeds)  # one batched "ensemble"
    values = scales * np.tile(np.arange(cfgs[0].n_seeds, dtype=float), len(cfgs))
    k = cfgs[0].n_seeds
    return [_one(c, values[i * k : (i + 1) * k]) for i, c in enumerate(cfgs)]


def _sim(rows: list[Row]) -> Simulation:
    return Simulation(
        number="98",
        name="grouped_demo",
        title="demo",
        paper="none",
        configs=lambda scale: rows,
        run=_run,
        label=lambda c: f"{c.kind}{c.scale:g}",
        group=lambda c: (c.kind, c.n_seeds),
        run_group=_run_group,
    )


def test_batches_group_equal_keys_and_split_over_workers() -> None:
    rows = [Row(1.0), Row(2.0, "b"), Row(3.0), Row(4.0), Row(5.0, "b")]
    sim = _sim(rows)
    pending = [(sim.key(r), r) for r in rows]
    batches = make_batches(sim, pending, group=True)
    assert [[c.scale for _, c in b] for b in batches] == [[1.0, 3.0, 4.0], [2.0, 5.0]]
    split = make_batches(sim, pending, group=True, parts=2)
    assert [[c.scale for _, c in b] for b in split] == [[1.0, 3.0], [4.0], [2.0], [5.0]]
    assert all(len(b) == 1 for b in make_batches(sim, pending, group=False))


def test_grouped_sweep_writes_the_records_of_rows_run_alone(tmp_path: Path) -> None:
    rows = [Row(1.0), Row(2.0, "b"), Row(3.0), Row(4.0)]
    sim = _sim(rows)
    CALLS.clear()
    s = run_simulation(sim, out=tmp_path / "g", progress=False)
    assert s.ran == 4 and s.failed == 0 and CALLS == [3]  # the "b" row ran alone, through run
    run_simulation(sim, out=tmp_path / "alone", group=False, progress=False)
    grouped = {r.key: r for r in RunStore(tmp_path / "g", sim.id).records()}
    alone = {r.key: r for r in RunStore(tmp_path / "alone", sim.id).records()}
    assert grouped.keys() == alone.keys()
    for key, rec in grouped.items():
        assert rec.data["metrics"] == alone[key].data["metrics"]
        np.testing.assert_array_equal(rec.arrays()["v"], alone[key].arrays()["v"])
    sizes = sorted(r.data["group_size"] for r in grouped.values())
    assert sizes == [1, 3, 3, 3] and {r.data["group_size"] for r in alone.values()} == {1}
    # finished rows are not recomputed, grouped or not
    CALLS.clear()
    again = run_simulation(sim, out=tmp_path / "g", progress=False)
    assert again.skipped == 4 and again.ran == 0 and CALLS == []


def test_a_bad_row_fails_alone_when_its_group_raises(tmp_path: Path) -> None:
    rows = [Row(1.0), Row(-1.0), Row(3.0)]
    sim = _sim(rows)
    s = run_simulation(sim, out=tmp_path, progress=False)
    assert s.ran == 2 and s.failed == 1
    recs = {r.config["scale"]: r for r in RunStore(tmp_path, sim.id).records(status=None)}
    assert recs[-1.0].status == "failed" and "negative scale" in (recs[-1.0].data["error"] or "")
    assert recs[1.0].status == "ok" and recs[3.0].status == "ok"
    assert recs[3.0].data["metrics"] == {"mean": 1.5}
    # the group's own failure is kept with every row and reported by the sweep
    assert all("negative scale" in r.data["group_error"] for r in recs.values())
    assert len(s.group_errors) == 3


def test_group_needs_both_hooks_and_run_group_must_return_one_output_per_row() -> None:
    with pytest.raises(AdvsimError, match="give both group and run_group"):
        Simulation("97", "x", "x", "x", configs=lambda s: [], run=_run, group=lambda c: 0)
    bad = replace(_sim([]), run_group=lambda cfgs, ctx: [])
    outs = execute_group(bad, [Row(1.0), Row(2.0)], "cpu")  # falls back to running rows alone
    assert [o.status for o in outs] == ["ok", "ok"] and [o.group_size for o in outs] == [1, 1]


def test_simulation_13_rows_give_the_same_records_grouped_and_alone() -> None:
    """The real thing: two rows of the overfitting map (different ε and α/ε, minibatch fast AT with
    the cyclic schedule) as one ensemble."""
    from sims.registry import find_simulation

    sim = find_simulation("13")
    assert sim.run_group is not None and sim.group is not None
    mod = importlib.import_module("sims.13_overfitting_map")
    steps = 2 * mod.CHECK_EPOCHS * -(-len(mod.map_data("digits")[1]) // mod.BATCH)  # two checks
    cfgs = [
        replace(c, steps=steps, n_seeds=2, m=32)
        for c in sim.grid("quick")
        if c.condition in ("digits-rs1.25-f0.35", "digits-rs2-f0.5")
    ]
    assert len(cfgs) == 2 and sim.group(cfgs[0]) == sim.group(cfgs[1])
    together = sim.run_group(cfgs, RunContext())
    for cfg, out in zip(cfgs, together, strict=True):
        alone = sim.run(cfg, RunContext())
        assert json.dumps(out.metrics) == json.dumps(alone.metrics)
        for name, arr in alone.arrays.items():
            np.testing.assert_allclose(out.arrays[name], arr, rtol=0, atol=1e-6, err_msg=name)
    assert together[0].arrays["guard_acc"].shape == (3, 2)  # checks at 0, steps/2 and steps
    assert together[0].arrays["pgd"].shape == (3, 2)


def test_subspace_rows_train_as_one_ensemble_exactly_as_alone() -> None:
    """``train_group``: rows with other init scales, learning rates and weight decays, one ensemble;
    every row's initial weights equal its own ``train_setup``'s bit for bit, its trained weights and
    losses to float64 rounding (a GEMM over more members may sum in another order), its steps exactly."""
    from sims.subspace_runs import SubspaceSetup, train_group, train_setup

    base = SubspaceSetup(d=12, k=3, m=16, n=30, n_test=10, n_seeds=3, steps=150, dtype="float64")
    setups = [
        base,
        replace(base, first_scale=0.25, lr=0.5),
        replace(base, weight_decay=3e-3, second_scale=2.0),
    ]
    tg = train_group(setups)
    assert tg.ens.M == 9
    for i, s in enumerate(setups):
        alone, row = train_setup(s), tg.row(i, 3)
        for name in ("W", "b", "a"):
            torch.testing.assert_close(
                getattr(row.ens0, name), getattr(alone.ens0, name), rtol=0, atol=0
            )
            torch.testing.assert_close(
                getattr(row.ens, name), getattr(alone.ens, name), rtol=1e-12, atol=1e-14
            )
        np.testing.assert_array_equal(row.result.steps_taken, alone.result.steps_taken)
        np.testing.assert_array_equal(row.result.stopped, alone.result.stopped)
        np.testing.assert_allclose(row.result.final_loss, alone.result.final_loss, rtol=1e-12)
    # teeth: the rows did train differently (stop steps, weights)
    assert not torch.equal(tg.row(0, 3).ens.W, tg.row(1, 3).ens.W)
    with pytest.raises(AdvsimError, match="may differ only in first_scale"):
        train_group([base, replace(base, m=8)])


@pytest.mark.slow
@pytest.mark.parametrize("number", ["03", "04"])
def test_subspace_sims_give_the_same_records_grouped_and_alone(number: str) -> None:
    """Simulations 03 (init scales) and 04 (weight decays): two rows of one group, shrunk. Slow tier
    (about a minute): its parts are proved in the default tier by
    :func:`test_subspace_rows_train_as_one_ensemble_exactly_as_alone` (training) and
    ``tests/test_attacks.py::test_member_equals_network_attacked_alone`` (the attacks)."""
    from sims.registry import find_simulation

    sim = find_simulation(number)
    assert sim.group is not None and sim.run_group is not None
    grid = sim.grid("quick")
    rows = [c for c in grid if sim.group(c) == sim.group(grid[0])][:2]
    small = [
        replace(c, setup=replace(c.setup, n_seeds=2, n_test=6, steps=min(c.setup.steps, 60)))
        for c in rows
    ]
    if number == "03":
        small = [replace(c, search_steps=4, search_pgd_steps=5, search_restarts=1) for c in small]
    assert len(small) == 2 and sim.group(small[0]) == sim.group(small[1])
    together = sim.run_group(small, RunContext())
    for cfg, out in zip(small, together, strict=True):
        alone = sim.run(cfg, RunContext())
        assert out.metrics.keys() == alone.metrics.keys()
        np.testing.assert_allclose(
            [out.metrics[k] for k in alone.metrics], list(alone.metrics.values()), rtol=1e-5
        )
        assert out.arrays.keys() == alone.arrays.keys()
        for name, arr in alone.arrays.items():  # equal to the rounding of the array's dtype
            tol = (1e-5, 1e-6) if arr.dtype == np.float32 else (1e-9, 1e-12)
            np.testing.assert_allclose(
                out.arrays[name], arr, rtol=tol[0], atol=tol[1], err_msg=name
            )


def test_run_group_refuses_rows_of_different_groups() -> None:
    from sims.registry import find_simulation

    sim = find_simulation("13")
    assert sim.run_group is not None
    grid = sim.grid("quick")
    mixed = [c for c in grid if c.condition in ("digits-fgsm-f0.5", "digits-rs2-f0.5")]
    assert len(mixed) == 2  # zero and random start: two groups
    with pytest.raises(AdvsimError, match=r"one group \(equal but for ε and α/ε\)"):
        sim.run_group(mixed, RunContext())
