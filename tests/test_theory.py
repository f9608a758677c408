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


@pytest.mark.parametrize(("D", "k"), [(5, 1), (5, 2), (5, 3), (4, 3), (4, 4), (6, 4)])
def test_nearest_other_class_code_distance_by_brute_force(D: int, k: int) -> None:
    """Every code the generator can draw (k of D atoms, entries ±1/√k) against every code of the other
    label under a ±1 teacher: the nearest one's ℓ2 and ℓ∞ distances are the derived ones for each
    score, including too few spare atoms (D − k < t: some moves are in-place sign flips), and the
    median cap over all labelled codes — the code law, conditioned on a label — is the derived one."""
    import itertools

    from theory import purification as tp

    rng = np.random.default_rng(D * 10 + k)
    w = rng.choice((-1.0, 1.0), size=D)
    codes = []
    for support in itertools.combinations(range(D), k):
        for signs in itertools.product((-1.0, 1.0), repeat=k):
            z = np.zeros(D)
            z[list(support)] = np.asarray(signs) / np.sqrt(k)
            codes.append(z)
    Z = np.asarray(codes)
    score = np.rint(Z @ w * np.sqrt(k)).astype(int)
    Z, score = Z[score != 0], score[score != 0]
    other = np.sign(score)[:, None] != np.sign(score)[None, :]
    diff = Z[:, None, :] - Z[None, :, :]
    for norm, dist in (("l2", np.linalg.norm(diff, axis=2)), ("linf", np.abs(diff).max(axis=2))):
        nearest = np.where(other, dist, np.inf).min(axis=1)
        want = np.array([tp.nearest_other_class_distance(k, D, int(m), norm) for m in score])
        np.testing.assert_allclose(nearest, want, rtol=1e-12, err_msg=f"{norm}, D={D}, k={k}")
        median = np.quantile(nearest, 0.5, method="inverted_cdf")
        assert median / 2 == pytest.approx(tp.feasibility_cap(k, D, norm), rel=1e-12)
        # the law of the scores is the enumeration's
        values, probs = tp.code_score_law(k)
        counts = np.array([(score == v).mean() for v in values])
        np.testing.assert_allclose(counts, probs, rtol=1e-12)
