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


def _idealized_network(
    d: int, k: int, w: np.ndarray, theta: float
) -> tuple[np.ndarray, np.ndarray]:
    """The paper's clean-trained network written out (one neuron per atom, ``c = 1``): weights
    ``w*_j e_j + (k/d) Σ_{j'≠j} w*_j' e_j'`` and thresholds ``θ‖w_j‖/√k``."""
    mu = k / d
    W = mu * np.tile(w, (d, 1))
    W[np.arange(d), np.arange(d)] = w
    return W, theta * np.linalg.norm(W, axis=1) / np.sqrt(k)


@pytest.mark.parametrize(
    ("d", "k", "first_order"),
    [
        (16, 2, True),
        (16, 4, False),
        (32, 4, True),
        (64, 4, True),
        (128, 4, True),
        (512, 4, True),
        (64, 8, False),
    ],
)
def test_clean_network_flip_radius_on_the_network_itself(d: int, k: int, first_order: bool) -> None:
    """The derived flip radius of the idealized clean network (theory.purification), against that
    network built explicitly on a code of every score: where ``y f`` changes sign along the steepest ℓ∞
    ray ``−y·sign(w*)`` and ℓ2 ray ``−y·∇f/‖∇f‖₂`` (bisection on the network). At the median score
    both equal the first-order radii ``y f/‖∇f‖₁`` and ``y f/‖∇f‖₂`` where no neuron crosses its
    threshold before the flip (``first_order``); at ``k = 8``, ``d = 64`` the disagreeing atoms' neurons
    wake up on the way (their preactivation ``−(1 − μ) + 2μ`` is inside the threshold at the point),
    and the ray's radius is the smaller one."""
    from theory import purification as tp

    rng = np.random.default_rng(d + k)
    w = rng.choice((-1.0, 1.0), size=d)
    W, t = _idealized_network(d, k, w, 0.5)

    def f(x: np.ndarray) -> float:
        p = W @ x
        return float(np.sum(np.sign(p) * np.maximum(np.abs(p) - t, 0.0)))

    values, _ = tp.code_score_law(k)
    radii = {n: tp.clean_network_flip_radius(k, d, n)[0] for n in ("linf", "l2")}
    median_score = min(abs(int(v)) for v in values)
    for i, q in enumerate(values):
        support = rng.choice(d, size=k, replace=False)
        agree = (k + abs(int(q))) // 2  # atoms whose sign agrees with the label
        signs = np.where(np.arange(k) < agree, 1.0, -1.0) * np.sign(q) * w[support]
        x = np.zeros(d)
        x[support] = signs / np.sqrt(k)
        y = np.sign(q)
        grad = W[np.abs(W @ x) > t].sum(axis=0)
        for norm, u, dual in (
            ("linf", np.sign(grad), np.abs(grad).sum()),
            ("l2", grad / np.linalg.norm(grad), np.linalg.norm(grad)),
        ):
            lo, hi = 0.0, 1.0
            for _ in range(60):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if y * f(x - mid * y * u) > 0 else (lo, mid)
            assert hi == pytest.approx(radii[norm][i], rel=1e-9), (norm, int(q))
            if abs(int(q)) == median_score:
                linear = y * f(x) / dual
                if first_order:
                    assert linear == pytest.approx(radii[norm][i], rel=1e-9), (norm, int(q))
                else:
                    assert linear > radii[norm][i] * 1.01, (norm, int(q))


def test_clean_network_flip_radius_threshold_and_scaling() -> None:
    """A higher threshold lowers the radius; without a threshold the network is the linear rule and its
    ℓ∞ radius the linear model's ``|q|/(√k·d)``; the median follows the code law."""
    from theory import purification as tp

    for norm in ("linf", "l2"):
        low = tp.clean_network_flip_radius_median(4, 64, norm, 0.25)
        high = tp.clean_network_flip_radius_median(4, 64, norm, 0.75)
        assert low > tp.clean_network_flip_radius_median(4, 64, norm) > high > 0
    radii, probs = tp.clean_network_flip_radius(4, 64, "linf", 0.0)
    np.testing.assert_allclose(radii, np.array([4, 2, 2, 4]) / (2 * 64))
    np.testing.assert_allclose(probs, [0.1, 0.4, 0.4, 0.1])
    assert tp.clean_network_flip_radius_median(4, 64, "linf") == pytest.approx(
        tp.clean_network_flip_radius(4, 64, "linf")[0][1]
    )  # 80% of the codes have score ±2
    with pytest.raises(ValueError, match="norm"):
        tp.clean_network_flip_radius(4, 64, "l1")
