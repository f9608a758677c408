"""Optimizers: equal to torch.optim step for step, per-member hyperparameters, bad input."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from sims.errors import AdvsimError
from sims.optim import Optimizer, OptimizerConfig

D64 = torch.float64


def _problem(
    M: int = 3,
) -> tuple[dict[str, torch.Tensor], Callable[[dict[str, torch.Tensor]], torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    params = {
        "W": torch.randn(M, 4, 3, dtype=D64, generator=gen),
        "a": torch.randn(M, 4, dtype=D64, generator=gen),
    }
    target = torch.randn(M, 4, 3, dtype=D64, generator=gen)

    def loss(p: dict[str, torch.Tensor]) -> torch.Tensor:  # per member, summed
        return ((p["W"] - target) ** 4).sum() + (p["a"].sin() * p["W"].sum(-1)).sum()

    return params, loss


def _grads(
    params: dict[str, torch.Tensor], loss: Callable[[dict[str, torch.Tensor]], torch.Tensor]
) -> dict[str, torch.Tensor]:
    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    loss(p).backward()
    return {k: v.grad for k, v in p.items() if v.grad is not None}


@pytest.mark.parametrize(
    ("cfg", "make_ref"),
    [
        (
            OptimizerConfig("sgd", lr=0.01, weight_decay=0.1),
            lambda ps: torch.optim.SGD(ps, lr=0.01, weight_decay=0.1),
        ),
        (
            OptimizerConfig("heavy_ball", lr=0.01, momentum=0.9, weight_decay=0.05),
            lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, weight_decay=0.05),
        ),
        (
            OptimizerConfig("nesterov", lr=0.01, momentum=0.8, weight_decay=0.05),
            lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.8, nesterov=True, weight_decay=0.05),
        ),
        (
            OptimizerConfig("adam", lr=0.01, weight_decay=0.1),
            lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.1),
        ),
        (
            OptimizerConfig("adam", lr=0.01, weight_decay=0.1, decoupled=True),
            lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
        ),
    ],
)
def test_matches_torch_optim(
    cfg: OptimizerConfig, make_ref: Callable[..., torch.optim.Optimizer]
) -> None:
    params, loss = _problem()
    ref = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    ref_opt = make_ref(list(ref.values()))
    opt = Optimizer(cfg, params)
    for _ in range(25):
        opt.step(params, _grads(params, loss))
        ref_opt.zero_grad()
        loss(ref).backward()
        ref_opt.step()
    for k in params:
        torch.testing.assert_close(params[k], ref[k].detach(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["sgd", "heavy_ball", "nesterov", "adam"])
def test_per_member_hyperparameters_equal_members_run_alone(name: str) -> None:
    lrs, wds = (0.01, 0.02, 0.005), (0.0, 0.1, 0.3)
    params, loss = _problem()
    opt = Optimizer(OptimizerConfig(name, lr=lrs, weight_decay=wds), params)
    alone = [{k: v[i : i + 1].clone() for k, v in params.items()} for i in range(3)]
    opts = [
        Optimizer(OptimizerConfig(name, lr=lrs[i], weight_decay=wds[i]), alone[i]) for i in range(3)
    ]
    for _ in range(10):
        g = _grads(params, loss)
        opt.step(params, g)
        for i in range(3):
            opts[i].step(alone[i], {k: v[i : i + 1] for k, v in g.items()})
    for i in range(3):
        for k in params:
            torch.testing.assert_close(params[k][i : i + 1], alone[i][k], rtol=0, atol=1e-15)


def test_inactive_members_are_left_untouched() -> None:
    params, loss = _problem()
    before = {k: v.clone() for k, v in params.items()}
    opt = Optimizer(OptimizerConfig("adam", lr=0.1), params)
    active = torch.tensor([True, False, True])
    opt.step(params, _grads(params, loss), active)
    for k in params:
        torch.testing.assert_close(params[k][1], before[k][1], rtol=0, atol=0)
        assert not torch.equal(params[k][0], before[k][0])
    assert opt.t.tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"name": "rmsprop"}, "optimizer"),
        ({"lr": -0.1}, "lr"),
        ({"lr": 0.0}, "lr"),
        ({"weight_decay": -1e-3}, "weight_decay"),
        ({"momentum": 1.0}, "momentum"),
        ({"lr": float("inf")}, "lr"),
        ({"decay": ("Z",)}, "decay entry"),
    ],
)
def test_bad_config_names_the_parameter(kwargs: dict[str, object], param: str) -> None:
    with pytest.raises(AdvsimError, match=rf"^{param} must"):
        OptimizerConfig(**kwargs)  # type: ignore[arg-type]


def test_per_member_length_mismatch() -> None:
    params, _ = _problem(M=3)
    with pytest.raises(AdvsimError, match="^lr must"):
        Optimizer(OptimizerConfig("sgd", lr=(0.1, 0.2)), params)


def test_a_non_finite_update_is_refused_and_reported() -> None:
    """The member whose new parameters would not be finite keeps its parameters and state (Adam's
    step count included); the others are updated as usual (issue 17)."""
    params = {"W": torch.ones(3, 2, dtype=torch.float64), "a": torch.ones(3, dtype=torch.float64)}
    opt = Optimizer(OptimizerConfig("adam", lr=0.1), params)
    g = {"W": torch.ones(3, 2, dtype=torch.float64), "a": torch.ones(3, dtype=torch.float64)}
    assert opt.step(params, g) is None
    before = {k: v.clone() for k, v in params.items()}
    state = {k: {n: t.clone() for n, t in s.items()} for k, s in opt.state.items()}
    t_before = opt.t.clone()
    g["a"] = torch.tensor([1.0, float("inf"), 1.0], dtype=torch.float64)
    bad = opt.step(params, g)
    assert bad is not None and bad.tolist() == [False, True, False]
    for k in params:
        torch.testing.assert_close(params[k][1], before[k][1], rtol=0, atol=0)
        assert not torch.equal(params[k][0], before[k][0])
        for n in state[k]:
            torch.testing.assert_close(opt.state[k][n][1], state[k][n][1], rtol=0, atol=0)
    assert opt.t.tolist() == [t_before[0] + 1, t_before[1], t_before[2] + 1]
    off = Optimizer(OptimizerConfig("sgd", lr=0.1), {"W": torch.ones(2, 2)}, check_finite=False)
    assert off.step({"W": torch.ones(2, 2)}, {"W": torch.full((2, 2), float("inf"))}) is None
