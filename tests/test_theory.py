"""theory.subspace: the decay laws against the engine's optimizers, limits and conditions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sims.optim import Optimizer, OptimizerConfig
from theory import subspace as th


@pytest.mark.parametrize("name", ["sgd", "heavy_ball", "nesterov"])
@pytest.mark.parametrize("decoupled", [False, True])
def test_decay_factor_matches_pure_decay_dynamics(name: str, decoupled: bool) -> None:
    """With zero loss gradient only decay acts: the engine must follow the predicted factor."""
    eta, lam, mu = 0.07, 0.3, 0.85
    p = {"W": torch.ones(1, 1, 1, dtype=torch.float64)}
    opt = Optimizer(
        OptimizerConfig(name, lr=eta, weight_decay=lam, momentum=mu, decoupled=decoupled), p
    )
    traj = [1.0]
    for _ in range(50):
        opt.step(p, {"W": torch.zeros_like(p["W"])})
        traj.append(float(p["W"]))
    pred = th.decay_factor(name, eta=eta, lam=lam, t=np.arange(51), mu=mu, decoupled=decoupled)
    assert pred is not None
    np.testing.assert_allclose(traj, pred, rtol=1e-13, atol=1e-15)


def test_decay_factor_has_no_law_for_adam() -> None:
    assert th.decay_factor("adam", eta=0.1, lam=0.1, t=3) is None
    assert th.decay_factor("adam", eta=0.1, lam=0.1, t=3, decoupled=True) is None


def test_momentum_factor_reduces_to_plain_decay_without_momentum() -> None:
    t = np.arange(40)
    np.testing.assert_allclose(
        th.momentum_decay_factor(0.1, 0.2, 0.0, t), th.weight_decay_factor(0.1, 0.2, t), rtol=1e-14
    )
    assert float(th.momentum_decay_factor(0.1, 0.2, 0.5, 0)) == 1.0


def test_gradient_descent_factor_tends_to_gradient_flow() -> None:
    lam, tau = 0.5, 3.0
    errs = [
        abs(
            float(th.weight_decay_factor(eta, lam, tau / eta))
            - float(th.gradient_flow_factor(lam, tau))
        )
        for eta in (0.1, 0.01, 0.001)
    ]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-3


def test_frozen_weights_condition_truth_table() -> None:
    c = th.frozen_weights_condition
    assert c(optimizer="sgd", weight_decay=0.0, affine=False)
    assert c(optimizer="nesterov", weight_decay=0.0, affine=False)
    assert not c(optimizer="sgd", weight_decay=1e-3, affine=False)
    assert not c(optimizer="sgd", weight_decay=0.0, affine=True)
    assert not c(optimizer="adam", weight_decay=0.0, affine=False)
    assert c(optimizer="adam", weight_decay=0.0, affine=False, axis_aligned=True)
    assert th.predicted_offsubspace_drift() == 0.0
