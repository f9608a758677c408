"""Property tests of PAPERS.md §1 invariants 1-2 (float64, tolerance 1e-10) and their negative controls.

Invariant 1: on linear-subspace data, any gradient-linear optimizer leaves ``P⊥W`` exactly at init.
Invariant 2: with coupled weight decay, ``P⊥W_t`` follows ``(1 − ηλ)^t`` (SGD) or the momentum recurrence.
Controls: weight decay, Adam on a rotated basis and affine data must break invariant 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sims.data import make_subspace_data
from sims.losses import LOSSES
from sims.measure import offsubspace_drift, project_perp
from sims.nets import init_ensemble
from sims.optim import OptimizerConfig
from sims.training import TrainConfig, train
from theory import subspace as th

D64 = torch.float64
TOL = 1e-10


@dataclass(frozen=True)
class Case:
    d: int
    k: int
    m: int
    n: int
    beta: float
    optimizer: str
    lr: float
    momentum: float
    steps: int
    batch_size: int | None
    loss: str
    trainable: tuple[str, ...]
    seed: int


@st.composite
def cases(draw: st.DrawFn, optimizers: tuple[str, ...] = ("sgd", "heavy_ball", "nesterov")) -> Case:
    d = draw(st.integers(2, 16))
    return Case(
        d=d,
        k=draw(st.integers(1, d - 1)),
        m=draw(st.integers(1, 10)),
        n=draw(st.integers(1, 16)),
        beta=draw(st.sampled_from([0.1, 0.5, 1.0, 3.0])),
        optimizer=draw(st.sampled_from(optimizers)),
        lr=draw(st.floats(1e-3, 0.5)),
        momentum=draw(st.floats(0.0, 0.95)),
        steps=draw(st.integers(1, 40)),
        batch_size=draw(st.one_of(st.none(), st.integers(1, 8))),
        loss=draw(st.sampled_from(LOSSES)),
        trainable=draw(st.sampled_from([("W",), ("W", "b"), ("W", "a"), ("W", "b", "a")])),
        seed=draw(st.integers(0, 1000)),
    )


def _run(
    c: Case,
    *,
    weight_decay: float = 0.0,
    offset: float = 0.0,
    axis_aligned: bool = False,
    optimizer: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    data = make_subspace_data(c.n, c.d, c.k, seed=c.seed, offset=offset, axis_aligned=axis_aligned)
    X, y = data.tensors(dtype=D64)
    seeds = [c.seed, c.seed + 1]
    ens = init_ensemble(
        c.d,
        c.m,
        seeds=seeds,
        first_scale=c.beta,
        bias="normal",
        bias_std=0.3,
        trainable=c.trainable,
        dtype=D64,
    )
    W0 = ens.W.clone()
    opt = OptimizerConfig(
        optimizer or c.optimizer, lr=c.lr, momentum=c.momentum, weight_decay=weight_decay
    )
    res = train(
        ens,
        X,
        y,
        TrainConfig(steps=c.steps, optimizer=opt, loss=c.loss, batch_size=c.batch_size),
        seeds=seeds,
    )
    return W0, ens.W, data.basis, res.steps_taken


@given(cases())
def test_invariant1_offsubspace_weights_frozen(c: Case) -> None:
    W0, W, U, _ = _run(c)
    Ut = torch.as_tensor(U)
    num = project_perp(W - W0, Ut).flatten(1).norm(dim=1)
    scale = project_perp(W0, Ut).flatten(1).norm(dim=1)
    assert torch.all(num <= TOL * scale), (num / scale).max()


@given(cases(), st.floats(1e-3, 0.5))
def test_invariant2_weight_decay_law(c: Case, lam: float) -> None:
    W0, W, U, steps = _run(c, weight_decay=lam)
    pred = th.decay_factor(c.optimizer, eta=c.lr, lam=lam, t=steps, mu=c.momentum)
    assert pred is not None
    Ut = torch.as_tensor(U)
    p0, p = project_perp(W0, Ut), project_perp(W, Ut)
    factor = torch.as_tensor(np.asarray(pred, dtype=float))[:, None, None]
    err = (p - factor * p0).flatten(1).norm(dim=1)
    assert torch.all(err <= TOL * p0.flatten(1).norm(dim=1))


@given(cases(optimizers=("sgd",)))
def test_invariant1_holds_for_adam_on_axis_aligned_subspace(c: Case) -> None:
    W0, W, U, _ = _run(c, optimizer="adam", axis_aligned=True)
    assert float(offsubspace_drift(W, W0, U).max()) == 0.0


# ------------------------------------------------------------------ negative controls
CONTROL = Case(
    d=12,
    k=3,
    m=8,
    n=20,
    beta=1.0,
    optimizer="sgd",
    lr=0.1,
    momentum=0.0,
    steps=30,
    batch_size=None,
    loss="logistic",
    trainable=("W", "b", "a"),
    seed=0,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("weight decay", {"weight_decay": 1e-2}),
        ("adam, rotated basis", {"optimizer": "adam"}),
        ("affine data", {"offset": 1.0}),
    ],
)
def test_negative_controls_break_invariant1(
    seed: int, name: str, kwargs: dict[str, object]
) -> None:
    c = Case(**{**CONTROL.__dict__, "seed": seed})
    W0, W, U, _ = _run(c, **kwargs)  # type: ignore[arg-type]
    drift = offsubspace_drift(W, W0, U)
    assert torch.all(drift > 1e4 * TOL), f"{name}: drift {drift.tolist()}"


def test_negative_control_momentum_breaks_the_plain_sgd_law() -> None:
    c = Case(**{**CONTROL.__dict__, "optimizer": "heavy_ball", "momentum": 0.9, "lr": 0.05})
    W0, W, U, steps = _run(c, weight_decay=1e-2)
    plain = th.weight_decay_factor(c.lr, 1e-2, steps)
    Ut = torch.as_tensor(U)
    p0, p = project_perp(W0, Ut), project_perp(W, Ut)
    err = (p - torch.as_tensor(plain)[:, None, None] * p0).flatten(1).norm(dim=1)
    assert torch.all(err > 1e4 * TOL * p0.flatten(1).norm(dim=1))


@given(cases(optimizers=("sgd",)), st.floats(1e-3, 0.3), st.integers(0, 1000))
def test_weight_decay_gradient_identity(c: Case, lam: float, point_seed: int) -> None:
    """PAPERS.md §1: with GD and coupled decay, at any point P⊥∇f(x) equals (1 − ηλ)^t times the sum
    of a_j P⊥w_j(0) over the neurons active at x — for the final activation pattern (exact)."""
    data = make_subspace_data(c.n, c.d, c.k, seed=c.seed)
    X, y = data.tensors(dtype=D64)
    seeds = [c.seed, c.seed + 1]
    ens = init_ensemble(
        c.d,
        c.m,
        seeds=seeds,
        first_scale=c.beta,
        bias="normal",
        bias_std=0.3,
        trainable=c.trainable,
        dtype=D64,
    )
    W0 = ens.W.clone()
    res = train(
        ens,
        X,
        y,
        TrainConfig(
            steps=c.steps,
            optimizer=OptimizerConfig("sgd", lr=c.lr, weight_decay=lam),
            loss=c.loss,
            batch_size=c.batch_size,
        ),
        seeds=seeds,
    )
    Z = torch.randn(7, c.d, dtype=D64, generator=torch.Generator().manual_seed(point_seed))
    U = torch.as_tensor(data.basis)
    measured = project_perp(ens.input_grad(Z), U).norm(dim=-1)
    base = th.frozen_offsubspace_grad_norm(
        Z.numpy(), ens.W.numpy(), ens.b.numpy(), ens.a.numpy(), W0.numpy(), data.basis
    )
    factor = th.weight_decay_factor(c.lr, lam, res.steps_taken)[:, None]
    torch.testing.assert_close(measured, torch.as_tensor(factor * base), rtol=1e-9, atol=1e-12)
