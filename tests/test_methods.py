"""Conformance suite of the training methods (one table, every row through every property)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from sims.errors import AdvsimError
from sims.losses import loss_value
from sims.methods import (
    BAT,
    PGDAT,
    TRADES,
    Clean,
    FastAT,
    Method,
    bernoulli_kl,
    bernoulli_kl_grads,
    bridge_points,
    bridged_loss_grads,
)
from sims.nets import TwoLayerEnsemble, init_ensemble
from sims.optim import OptimizerConfig
from sims.training import TrainConfig, train

D64 = torch.float64
METHODS: list[Method] = [
    Clean(),
    PGDAT(norm="linf", eps=0.2, steps=5),
    PGDAT(norm="l2", eps=0.5, steps=5),
    FastAT(norm="linf", eps=0.2),
    FastAT(norm="l2", eps=0.5, start="radius"),
    FastAT(norm="l2", eps=0.5, start="uniform"),
    TRADES(norm="linf", eps=0.2, beta=3.0, steps=4),
    TRADES(norm="l2", eps=0.5, beta=1.0, steps=4),
    BAT(norm="linf", eps=0.2, beta=3.0, m=3, steps=4),
    BAT(norm="l2", eps=0.5, beta=2.0, m=2, attack="ce", reduction="mean", steps=4),
]
IDS = [f"{type(m).__name__}-{getattr(m, 'norm', '')}-{i}" for i, m in enumerate(METHODS)]


def _setup() -> tuple[TwoLayerEnsemble, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(25, 6, dtype=D64, generator=gen)
    y = torch.where(torch.rand(25, generator=gen) > 0.5, 1.0, -1.0).to(D64)
    ens = init_ensemble(6, 10, seeds=[0, 1, 2], bias="normal", bias_std=0.3, dtype=D64)
    return ens, X, y


def test_kl_and_its_derivatives() -> None:
    f = torch.linspace(-5, 5, 21, dtype=D64).requires_grad_(True)
    f2 = (torch.linspace(4, -6, 21, dtype=D64) * 0.7).requires_grad_(True)
    kl = bernoulli_kl(f, f2)
    assert torch.all(kl >= 0)
    kl.sum().backward()
    g1, g2 = bernoulli_kl_grads(f.detach(), f2.detach())
    assert f.grad is not None and f2.grad is not None
    torch.testing.assert_close(g1, f.grad)
    torch.testing.assert_close(g2, f2.grad)
    assert float(bernoulli_kl(f.detach(), f.detach()).abs().max()) < 1e-15


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_loss_is_finite_and_gradients_match_autograd(method: Method) -> None:
    """With the perturbation held fixed, the closed-form gradient equals autograd's."""
    ens, X, y = _setup()
    value, grads = method.loss_grads(ens, X, y, step=3)
    assert value.shape == (3,) and torch.all(torch.isfinite(value))
    # recompute the same loss with autograd, the method's points fixed (attacks are detached)
    W, b, a = (p.clone().requires_grad_(True) for p in (ens.W, ens.b, ens.a))
    auto = TwoLayerEnsemble(W, b, a)
    if isinstance(method, TRADES | BAT):
        if isinstance(method, TRADES):
            delta = method.perturbation(ens, X, step=3)
            bridge = [X[None] + delta]
            beta = method.beta
        else:
            delta = method.perturbation(ens, X, y, step=3)
            bridge = bridge_points(X.expand(3, *X.shape), delta, method.m)[1:]
            beta = method.beta if method.reduction == "sum" else method.beta / method.m
        fs = [auto.forward(X)] + [auto.forward(p) for p in bridge]
        loss = loss_value(method.loss, fs[0], y).mean(1)
        for k in range(1, len(fs)):
            loss = loss + beta * bernoulli_kl(fs[k - 1], fs[k]).mean(1)
    elif isinstance(method, PGDAT):
        atk = replace(method.attack(), seed=method.seed + 3)
        from sims.methods import _threat

        delta = atk(ens, X, y, _threat(method.norm, method.eps, method.start)).delta
        loss = loss_value(method.loss, auto.forward(X[None] + delta), y).mean(1)
    else:
        loss = loss_value(method.loss, auto.forward(X), y).mean(1)
    torch.testing.assert_close(loss.detach(), value, rtol=1e-12, atol=1e-14)
    loss.sum().backward()
    for name, p in (("W", W), ("b", b), ("a", a)):
        assert p.grad is not None
        torch.testing.assert_close(grads[name], p.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", [m for m in METHODS if not isinstance(m, Clean)], ids=IDS[1:])
def test_zero_eps_reduces_to_clean_training(method: Method) -> None:
    ens, X, y = _setup()
    value, grads = replace(method, eps=0.0).loss_grads(ens, X, y)  # type: ignore[call-arg]
    v0, g0 = Clean().loss_grads(ens, X, y)
    torch.testing.assert_close(value, v0, rtol=1e-12, atol=1e-14)
    for k in g0:
        torch.testing.assert_close(grads[k], g0[k], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_bat_with_one_bridge_and_the_kl_attack_is_trades(norm: str) -> None:
    ens, X, y = _setup()
    t = TRADES(norm=norm, eps=0.3, beta=2.0, steps=5)
    b = BAT(norm=norm, eps=0.3, beta=2.0, m=1, attack="kl", steps=5)
    vt, gt = t.loss_grads(ens, X, y, step=1)
    vb, gb = b.loss_grads(ens, X, y, step=1)
    torch.testing.assert_close(vb, vt, rtol=1e-6, atol=1e-9)
    for k in gt:
        torch.testing.assert_close(gb[k], gt[k], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_bat_without_its_regulariser_is_clean_training(norm: str) -> None:
    """β = 0: BAT's loss and gradients are the clean loss's (the bridge terms vanish whatever δ), so BAT
    with β = 0 trains exactly as clean training (formerly checked on simulation 14's records)."""
    ens, X, y = _setup()
    value, grads = BAT(norm=norm, eps=0.3, beta=0.0, m=4, steps=5).loss_grads(ens, X, y, step=1)
    v0, g0 = Clean().loss_grads(ens, X, y)
    torch.testing.assert_close(value, v0, rtol=1e-12, atol=1e-14)
    for k in g0:
        torch.testing.assert_close(grads[k], g0[k], rtol=1e-10, atol=1e-13)


def test_bridge_endpoints_are_exact_and_evenly_spaced() -> None:
    X = torch.randn(4, 5, dtype=D64)
    delta = torch.randn(2, 4, 5, dtype=D64)
    pts = bridge_points(X.expand(2, 4, 5), delta, 4)
    assert len(pts) == 5
    assert torch.equal(pts[0], X.expand(2, 4, 5)) and torch.equal(pts[-1], X + delta)
    gaps = torch.stack([(pts[k] - pts[k - 1]).norm(dim=-1) for k in range(1, 5)])
    torch.testing.assert_close(gaps, (delta.norm(dim=-1) / 4).expand(4, 2, 4))


def test_bat_regulariser_times_m_tends_to_trades_for_small_eps() -> None:
    """Small ε: each of the m KL terms is ≈ (1/m)² of the whole, so m·R_BAT(m) → R_TRADES."""
    ens, X, _ = _setup()
    Xe = X.expand(3, *X.shape)
    f0 = ens.forward(X)
    for eps in (1e-2, 1e-3):
        delta = TRADES(norm="l2", eps=eps, steps=3).perturbation(ens, X)
        r_trades = bernoulli_kl(f0, ens.forward(Xe + delta)).mean()
        for m in (2, 4, 8):
            pts = bridge_points(Xe, delta, m)
            fs = [ens.forward(p) for p in pts]
            r_bat = sum(bernoulli_kl(fs[k - 1], fs[k]).mean() for k in range(1, m + 1))
            assert abs(float(m * r_bat / r_trades) - 1) < (0.02 if eps == 1e-3 else 0.1)


def test_beta_zero_bat_is_clean_training_on_the_clean_loss() -> None:
    ens, X, y = _setup()
    v, g = bridged_loss_grads(ens, X, [X.expand(3, *X.shape) + 0.3], y, "logistic", 0.0)
    v0, g0 = Clean().loss_grads(ens, X, y)
    torch.testing.assert_close(v, v0)
    for k in g0:
        torch.testing.assert_close(g[k], g0[k])


def test_training_with_a_method_runs_and_member_equals_alone() -> None:
    ens, X, y = _setup()
    cfg = TrainConfig(
        steps=5, optimizer=OptimizerConfig("sgd", lr=0.1), method=FastAT(norm="l2", eps=0.3)
    )
    train(ens, X, y, cfg)
    alone = init_ensemble(6, 10, seeds=[1], bias="normal", bias_std=0.3, dtype=D64)
    train(alone, X, y, cfg)
    torch.testing.assert_close(ens.W[1], alone.W[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "method",
    [
        PGDAT(norm="linf", eps=0.2, steps=5),
        PGDAT(norm="l2", eps=(0.5, 0.3, 0.1), steps=3),
        FastAT(norm="linf", eps=0.2),
        FastAT(norm="l2", eps=(0.5, 0.3, 0.1)),
    ],
    ids=["pgd-linf", "pgd-l2-per-member", "fast-linf", "fast-l2-per-member"],
)
def test_eps_ramp_is_the_scaled_radius_then_the_full_one(method: PGDAT) -> None:
    """With ``eps_ramp = R`` the step ``s`` trains exactly as the unramped method at the radius
    ``ε·(s + 1)/R`` (per member where ``ε`` is), and from step ``R − 1`` on exactly as the unramped
    method — same random start, same attack, same loss and gradients."""
    ens, X, y = _setup()
    ramped = replace(method, eps_ramp=4)
    eps = method.eps
    for step in (0, 1, 2):
        f = (step + 1) / 4
        scaled = tuple(e * f for e in eps) if isinstance(eps, tuple) else eps * f
        v, g = ramped.loss_grads(ens, X, y, step=step)
        v0, g0 = replace(method, eps=scaled).loss_grads(ens, X, y, step=step)
        full, _ = method.loss_grads(ens, X, y, step=step)
        torch.testing.assert_close(v, v0, rtol=0, atol=0)
        for k in g0:
            torch.testing.assert_close(g[k], g0[k], rtol=0, atol=0)
        assert not torch.allclose(v, full)  # the ramp changed the step
    for step in (3, 7):
        v, g = ramped.loss_grads(ens, X, y, step=step)
        v0, g0 = method.loss_grads(ens, X, y, step=step)
        torch.testing.assert_close(v, v0, rtol=0, atol=0)
        for k in g0:
            torch.testing.assert_close(g[k], g0[k], rtol=0, atol=0)
    assert [ramped.ramp_factor(s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert method.ramp_factor(0) == 1.0
    np.testing.assert_array_equal(ramped.threat().eps, method.threat().eps)  # the full radius


def test_training_under_an_eps_ramp_sees_the_ramped_radius() -> None:
    """:func:`sims.training.train` passes its step to the method: training 3 steps with
    ``eps_ramp = 3`` equals training one step at each of ``ε/3``, ``2ε/3`` and ``ε`` in turn."""
    ens, X, y = _setup()
    method = PGDAT(norm="linf", eps=0.3, steps=3)
    opt = OptimizerConfig("sgd", lr=0.1)
    ramped = ens.clone()
    train(ramped, X, y, TrainConfig(steps=3, optimizer=opt, method=replace(method, eps_ramp=3)))
    staged = ens.clone()
    for step in range(3):
        _, grads = replace(method, eps=0.3 * (step + 1) / 3).loss_grads(staged, X, y, step)
        with torch.no_grad():
            for name, grad in grads.items():
                getattr(staged, name).sub_(0.1 * grad)
    torch.testing.assert_close(ramped.W, staged.W, rtol=1e-12, atol=1e-14)


def test_bad_input() -> None:
    with pytest.raises(AdvsimError, match="^eps_ramp must"):
        PGDAT(eps_ramp=-1)
    with pytest.raises(AdvsimError, match="^eps must"):
        PGDAT(eps=-0.1)
    with pytest.raises(AdvsimError, match="^norm must"):
        TRADES(norm="l1")
    with pytest.raises(AdvsimError, match="^m must"):
        BAT(m=0)
    with pytest.raises(AdvsimError, match="^reduction must"):
        BAT(reduction="max")
    with pytest.raises(AdvsimError, match="^steps must be 1 for FastAT"):
        FastAT(steps=3)
