"""The training loop: members equal networks trained alone, stop rules, measurements, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sims.data import make_subspace_data
from sims.errors import AdvsimError
from sims.methods import TRADES
from sims.nets import TwoLayerEnsemble, init_ensemble
from sims.optim import OptimizerConfig
from sims.training import TrainConfig, train

D64 = torch.float64


def _setup(seeds: list[int]) -> tuple[TwoLayerEnsemble, torch.Tensor, torch.Tensor]:
    data = make_subspace_data(30, 8, 3, seed=4)
    X, y = data.tensors(dtype=D64)
    ens = init_ensemble(8, 12, seeds=seeds, bias="normal", bias_std=0.1, dtype=D64)
    return ens, X, y


@pytest.mark.parametrize(
    "cfg",
    [
        TrainConfig(steps=60, optimizer=OptimizerConfig("sgd", lr=0.2)),
        TrainConfig(steps=60, optimizer=OptimizerConfig("nesterov", lr=0.05), batch_size=7),
        TrainConfig(steps=80, optimizer=OptimizerConfig("adam", lr=0.02), stop_margin=0.05),
        TrainConfig(
            steps=80,
            optimizer=OptimizerConfig("heavy_ball", lr=0.05),
            loss="hinge",
            stop_accuracy=1.0,
            batch_size=10,
        ),
        TrainConfig(
            steps=400,
            optimizer=OptimizerConfig("sgd", lr=0.2),
            stop_plateau=0.002,
            plateau_window=20,
        ),
        TrainConfig(
            steps=300,
            optimizer=OptimizerConfig("sgd", lr=0.2),
            method=TRADES(norm="l2", eps=0.2, beta=3.0, steps=3),
            batch_size=10,
            stop_plateau=0.005,
            plateau_window=25,
        ),
    ],
)
def test_member_equals_network_trained_alone(cfg: TrainConfig) -> None:
    seeds = [11, 12, 13]
    ens, X, y = _setup(seeds)
    res = train(ens, X, y, cfg, seeds=seeds)
    for i, s in enumerate(seeds):
        alone, _, _ = _setup([s])
        r1 = train(alone, X, y, cfg, seeds=[s])
        torch.testing.assert_close(ens.W[i], alone.W[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(ens.a[i], alone.a[0], rtol=1e-12, atol=1e-12)
        assert res.steps_taken[i] == r1.steps_taken[0]


def test_same_seed_same_result() -> None:
    cfg = TrainConfig(steps=40, optimizer=OptimizerConfig("sgd", lr=0.1), batch_size=8)
    e1, X, y = _setup([1, 2])
    e2, _, _ = _setup([1, 2])
    train(e1, X, y, cfg, seeds=[1, 2])
    train(e2, X, y, cfg, seeds=[1, 2])
    assert torch.equal(e1.W, e2.W) and torch.equal(e1.a, e2.a) and torch.equal(e1.b, e2.b)


def test_stop_margin_freezes_members_that_reach_it() -> None:
    ens, X, y = _setup([0, 1, 2, 3])
    cfg = TrainConfig(steps=3000, optimizer=OptimizerConfig("sgd", lr=0.5), stop_margin=0.3)
    res = train(ens, X, y, cfg)
    assert res.stopped.all()
    assert (res.steps_taken < 3000).all()
    margins = (y * ens.forward(X)).min(dim=1).values
    assert torch.all(margins > 0.3)


def test_measurements_are_taken_at_the_requested_steps() -> None:
    ens, X, y = _setup([0, 1])
    W0 = ens.W.clone()
    cfg = TrainConfig(steps=10, optimizer=OptimizerConfig("sgd", lr=0.1))
    res = train(ens, X, y, cfg, measure=lambda e: {"w": e.W.clone()}, measure_at=[0, 3, 10])
    assert res.measure_steps == [0, 3, 10]
    assert res.history["w"].shape == (3, 2, 12, 8)
    np.testing.assert_array_equal(res.history["w"][0], W0.numpy())
    np.testing.assert_array_equal(res.history["w"][-1], ens.W.numpy())


def test_fixed_parameters_do_not_move() -> None:
    data = make_subspace_data(20, 6, 2, seed=0)
    X, y = data.tensors(dtype=D64)
    ens = init_ensemble(6, 5, seeds=[0], trainable=("W",), bias="normal", bias_std=0.1, dtype=D64)
    a0, b0 = ens.a.clone(), ens.b.clone()
    train(ens, X, y, TrainConfig(steps=20, optimizer=OptimizerConfig("sgd", lr=0.1)))
    assert torch.equal(ens.a, a0) and torch.equal(ens.b, b0)


def test_bad_input() -> None:
    ens, X, y = _setup([0])
    cfg = TrainConfig(steps=5)
    with pytest.raises(AdvsimError, match=r"^X must have shape"):
        train(ens, X[:, :3], y, cfg)
    with pytest.raises(AdvsimError, match=r"^y must have shape"):
        train(ens, X, y[:4], cfg)
    Xbad = X.clone()
    Xbad[0, 0] = float("nan")
    with pytest.raises(AdvsimError, match="^X must be finite"):
        train(ens, Xbad, y, cfg)
    with pytest.raises(AdvsimError, match="^seeds must"):
        train(ens, X, y, TrainConfig(steps=5, batch_size=4))
    with pytest.raises(AdvsimError, match="^steps must"):
        TrainConfig(steps=-1)
    with pytest.raises(AdvsimError, match="^batch_size must"):
        TrainConfig(steps=1, batch_size=0)
    with pytest.raises(AdvsimError, match="^loss must"):
        TrainConfig(steps=1, loss="mse")
    with pytest.raises(AdvsimError, match="^stop_accuracy must"):
        TrainConfig(steps=1, stop_accuracy=1.5)
    with pytest.raises(AdvsimError, match="^stop_plateau must"):
        TrainConfig(steps=1, stop_plateau=-0.1)
    with pytest.raises(AdvsimError, match="^plateau_window must"):
        TrainConfig(steps=1, stop_plateau=0.1, plateau_window=0)


@pytest.mark.parametrize("tol", [0.0, 0.001, 0.01, 1.0])
def test_plateau_rule_stops_where_the_windowed_loss_says(tol: float) -> None:
    """The plateau rule by hand: from the loss before every update (full batch, clean), the window means
    over steps ``[kw, (k+1)w)``; a member stops at step ``(k+1)w`` for the first ``k >= 1`` where its mean
    fell by at most ``tol`` from the window before, and takes no update from then on."""
    from sims.losses import loss_value

    w, steps = 15, 300
    ens, X, y = _setup([3, 4, 5, 6])
    cfg = TrainConfig(
        steps=steps, optimizer=OptimizerConfig("sgd", lr=0.3), stop_plateau=tol, plateau_window=w
    )
    res = train(
        ens,
        X,
        y,
        cfg,
        measure=lambda e: {"loss": loss_value("logistic", e.forward(X), y).mean(dim=1)},
        measure_at=range(steps + 1),
    )
    loss = res.history["loss"]  # (steps + 1, M): the loss before each update (frozen once stopped)
    stop = res.stop_step
    assert stop is not None
    for i in range(ens.M):
        means = loss[: steps // w * w, i].reshape(-1, w).mean(axis=1)
        hits = [k for k in range(1, len(means)) if means[k - 1] - means[k] <= tol]
        want = (hits[0] + 1) * w if hits and (hits[0] + 1) * w < steps else -1
        assert stop[i] == want, (i, tol, means[:6])
        assert res.steps_taken[i] == (want if want >= 0 else steps)
        assert res.stopped[i] == (want >= 0)
    if tol >= 1.0:  # every loss change is below 1 nat: all stop at the first comparison
        assert bool(np.all(stop == 2 * w))
    if tol == 0.0:  # with a loss still falling, nobody stops
        assert bool(np.all(stop == -1))


@pytest.mark.parametrize("opt", ["sgd", "heavy_ball", "adam"])
def test_a_diverging_member_is_flagged_and_the_others_go_on(opt: str) -> None:
    """Member 1's learning rate blows its parameters up: it keeps its last finite parameters, stops,
    and is flagged; members 0 and 2 train exactly as they would alone (issue 17)."""
    ens, X, y = _setup([0, 1, 2])
    X = X * 30.0  # large inputs: the squared loss's gradients grow with the weights
    lrs = (0.001, 1e200, 0.001)
    cfg = TrainConfig(steps=40, optimizer=OptimizerConfig(opt, lr=lrs), loss="squared")
    res = train(ens, X, y, cfg)
    assert res.diverged is not None and res.diverged_step is not None
    assert res.diverged.tolist() == [False, True, False]
    assert res.diverged_step[1] >= 0 and res.diverged_step[0] == res.diverged_step[2] == -1
    assert res.stop_step is not None and res.stop_step[1] == res.diverged_step[1]
    assert res.steps_taken[1] == res.diverged_step[1] < 40 and not res.stopped[1]
    for p in ens.params().values():
        assert torch.isfinite(p).all()  # the diverged member's last finite parameters
    assert np.isfinite(res.final_loss[[0, 2]]).all()
    for i in (0, 2):
        alone, _, _ = _setup([i])
        r = train(
            alone,
            X,
            y,
            TrainConfig(steps=40, optimizer=OptimizerConfig(opt, lr=lrs[i]), loss="squared"),
        )
        assert not r.diverged.any()  # type: ignore[union-attr]
        for k, p in alone.params().items():
            torch.testing.assert_close(ens.params()[k][i : i + 1], p, rtol=0, atol=0)


def test_divergence_log_collects_every_train_call() -> None:
    from sims.training import divergence_log

    ens, X, y = _setup([0, 1])
    with divergence_log() as log:
        train(ens, X, y, TrainConfig(steps=2))
        train(
            ens,
            X * 30,
            y,
            TrainConfig(steps=5, optimizer=OptimizerConfig(lr=(0.01, 1e200)), loss="squared"),
        )
    assert [flags.tolist() for flags in log] == [[False, False], [False, True]]
    train(ens, X, y, TrainConfig(steps=1))  # outside the block: not collected
    assert len(log) == 2


def test_training_inputs_are_checked_once_and_cast() -> None:
    """float32 data on a float64 ensemble is cast; integer labels ±1 are fine; 0/1 are not."""
    ens, X, y = _setup([0])
    res = train(ens, X.float(), y.to(torch.int64), TrainConfig(steps=3))
    assert res.steps_taken.tolist() == [3]
    with pytest.raises(AdvsimError, match=r"^y must hold labels in \{-1, \+1\}"):
        train(ens, X, (y > 0).to(D64), TrainConfig(steps=1))
