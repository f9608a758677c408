"""Two-layer ensembles: closed forms against autograd, module export, init, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sims.errors import AdvsimError
from sims.losses import LOSSES, loss_derivative, loss_value
from sims.nets import TwoLayerEnsemble, activation, init_ensemble

D64 = torch.float64


def _ens(act: str = "relu", M: int = 3, m: int = 7, d: int = 5) -> TwoLayerEnsemble:
    return init_ensemble(
        d, m, seeds=list(range(M)), bias="normal", bias_std=0.5, act=act, act_width=0.3, dtype=D64
    )


@pytest.mark.parametrize("act", ["relu", "smooth_relu"])
def test_input_grad_matches_autograd(act: str) -> None:
    ens = _ens(act)
    X = torch.randn(11, 5, dtype=D64, generator=torch.Generator().manual_seed(0))
    Xr = X.clone().requires_grad_(True)
    ens.forward(Xr).sum().backward()  # members are independent: d(sum)/dX = sum over members
    G = ens.input_grad(X)
    assert G.shape == (3, 11, 5)
    assert Xr.grad is not None
    torch.testing.assert_close(G.sum(0), Xr.grad)
    for i in range(3):
        xi = X.clone().requires_grad_(True)
        ens.member(i)(xi).sum().backward()
        assert xi.grad is not None
        torch.testing.assert_close(G[i], xi.grad)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("per_member_inputs", [False, True])
@pytest.mark.parametrize("act", ["relu", "smooth_relu"])
def test_param_grads_match_autograd(loss: str, per_member_inputs: bool, act: str) -> None:
    ens = _ens(act)
    gen = torch.Generator().manual_seed(1)
    X = (
        torch.randn(3, 9, 5, dtype=D64, generator=gen)
        if per_member_inputs
        else torch.randn(9, 5, dtype=D64, generator=gen)
    )
    y = torch.where(torch.rand(9, generator=gen) > 0.5, 1.0, -1.0).to(D64)
    W, b, a = (p.clone().requires_grad_(True) for p in (ens.W, ens.b, ens.a))
    auto = TwoLayerEnsemble(W, b, a, act=act, act_width=0.3)
    loss_value(loss, auto.forward(X), y).mean(dim=1).sum().backward()
    f = ens.forward(X)
    g = loss_derivative(loss, f, y) / 9
    grads = ens.param_grads(X, g)
    for name, p in (("W", W), ("b", b), ("a", a)):
        assert p.grad is not None
        torch.testing.assert_close(grads[name], p.grad, rtol=1e-10, atol=1e-12)


def test_param_grads_only_for_trainable() -> None:
    ens = init_ensemble(4, 3, seeds=[0], trainable=("W",), dtype=D64)
    g = ens.param_grads(torch.randn(5, 4, dtype=D64), torch.ones(1, 5, dtype=D64))
    assert set(g) == {"W"}


@pytest.mark.parametrize("loss", LOSSES)
def test_loss_derivatives_match_autograd(loss: str) -> None:
    f = torch.linspace(-4, 4, 41, dtype=D64).add(0.013).requires_grad_(True)
    y = torch.where(torch.arange(41) % 2 == 0, 1.0, -1.0).to(D64)
    loss_value(loss, f, y).sum().backward()
    assert f.grad is not None
    torch.testing.assert_close(loss_derivative(loss, f.detach(), y), f.grad)


def test_bce_equals_logistic_away_from_saturation() -> None:
    f = torch.linspace(-8, 8, 33, dtype=D64)
    y = torch.where(torch.arange(33) % 3 == 0, 1.0, -1.0).to(D64)
    torch.testing.assert_close(loss_value("bce", f, y), loss_value("logistic", f, y))


def test_forward_matches_exported_modules_and_shapes() -> None:
    ens = _ens()
    X = torch.randn(6, 5, dtype=D64)
    out = ens.forward(X)
    assert out.shape == (3, 6)
    for i in range(3):
        torch.testing.assert_close(ens.member(i)(X), out[i])
    X3 = X.expand(3, 6, 5)
    torch.testing.assert_close(ens.forward(X3), out)


def test_active_weight_sums_squared_output_weights_of_active_neurons() -> None:
    ens = _ens()
    X = torch.randn(4, 5, dtype=D64)
    h = ens.preact(X)
    expected = ((h > 0).to(D64) * ens.a[:, None, :] ** 2).sum(-1)
    torch.testing.assert_close(ens.active_weight(X), expected)


def test_member_equals_network_initialised_alone() -> None:
    seeds = [3, 17, 99]
    ens = init_ensemble(
        6,
        4,
        seeds=seeds,
        scheme="signs",
        first_scale=[1.0, 0.5, 0.25],
        bias="normal",
        bias_std=0.1,
        dtype=D64,
    )
    for i, s in enumerate(seeds):
        alone = init_ensemble(
            6,
            4,
            seeds=[s],
            scheme="signs",
            first_scale=[1.0, 0.5, 0.25][i],
            bias="normal",
            bias_std=0.1,
            dtype=D64,
        )
        torch.testing.assert_close(ens.W[i], alone.W[0], rtol=0, atol=0)
        torch.testing.assert_close(ens.a[i], alone.a[0], rtol=0, atol=0)
        torch.testing.assert_close(ens.b[i], alone.b[0], rtol=0, atol=0)


def test_init_schemes_and_scales() -> None:
    m, d = 400, 50
    ens = init_ensemble(d, m, seeds=[0, 1], scheme="signs", first_scale=[1.0, 0.25], dtype=D64)
    np.testing.assert_allclose(ens.a.abs().numpy(), 1 / np.sqrt(m))
    var0 = float(ens.W[0].var())
    var1 = float(ens.W[1].var())
    assert abs(var0 * d - 1) < 0.05
    assert abs(var1 / var0 - 1 / 16) < 0.01
    paper = init_ensemble(
        d, m, seeds=[0], scheme="paper", first_scale=1 / 3, second_scale=1 / 3, dtype=D64
    )
    assert abs(float(paper.a.var()) * m * 9 - 1) < 0.2
    assert torch.all(paper.b == 0)


def test_smooth_relu_is_continuous_and_linear_above_width() -> None:
    h = torch.tensor([-1.0, 0.0, 0.15, 0.3, 1.3], dtype=D64)
    out = activation(h, "smooth_relu", 0.3)
    torch.testing.assert_close(out, torch.tensor([0.0, 0.0, 0.15**2 / 0.6, 0.15, 1.15], dtype=D64))


def test_bad_inputs_raise_advsim_error() -> None:
    with pytest.raises(AdvsimError, match="^m must be an integer"):
        init_ensemble(3, 0, seeds=[0])
    with pytest.raises(AdvsimError, match="^seeds must"):
        init_ensemble(3, 2, seeds=[])
    with pytest.raises(AdvsimError, match="^first_scale must"):
        init_ensemble(3, 2, seeds=[0, 1], first_scale=[1.0, 2.0, 3.0])
    with pytest.raises(AdvsimError, match="^first_scale must"):
        init_ensemble(3, 2, seeds=[0], first_scale=-1.0)
    with pytest.raises(AdvsimError, match="^scheme must"):
        init_ensemble(3, 2, seeds=[0], scheme="xavier")  # type: ignore[arg-type]
    with pytest.raises(AdvsimError, match="^activation must"):
        init_ensemble(3, 2, seeds=[0], act="tanh")
    ens = init_ensemble(3, 2, seeds=[0])
    with pytest.raises(AdvsimError, match=r"^X must have shape"):
        ens.forward(torch.zeros(4, 5))
    with pytest.raises(AdvsimError, match="^member index"):
        ens.member(1)
    with pytest.raises(AdvsimError, match="^loss must"):
        loss_value("cross", torch.zeros(1), torch.ones(1))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("block", [1, 2, 3, 5, None])
@pytest.mark.parametrize("trainable", [("W", "b", "a"), ("W",), ("a", "b")])
@pytest.mark.parametrize("unit", ["relu", "smooth_relu", "threshold"])
@pytest.mark.parametrize("inputs", ["shared", "per-member", "per-member-h"])
def test_blocked_loss_grads_equal_the_unblocked_closed_form(
    loss: str, block: int | None, trainable: tuple[str, ...], unit: str, inputs: str
) -> None:
    """Identical results whatever the member blocking (issue: chunking must not change numbers), for
    the in-place ReLU path and the general one (smoothed ReLU, the symmetric thresholded unit), with
    inputs shared by all members or one set per member (an attack's points), the pre-activations
    computed or given (then left as they were)."""
    ens = init_ensemble(
        6,
        9,
        seeds=list(range(5)),
        bias="normal",
        bias_std=0.4,
        dtype=D64,
        trainable=trainable,
        act="relu" if unit == "relu" else "smooth_relu",
        act_width=0.3,
    )
    if unit == "threshold":
        ens.act = "relu"
        ens.threshold = torch.rand(5, 9, dtype=D64, generator=torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(2)
    X = torch.randn(*(() if inputs == "shared" else (5,)), 13, 6, dtype=D64, generator=gen)
    y = torch.where(torch.rand(13, generator=gen) > 0.5, 1.0, -1.0).to(D64)
    h_given = ens.preact(X) if inputs == "per-member-h" else None
    kept = None if h_given is None else h_given.clone()
    f, grads = ens.loss_grads(X, y, loss, block=block, h=h_given)
    if kept is not None:
        assert h_given is not None and torch.equal(h_given, kept)
    h = ens.preact(X)
    f_ref = ens.output(h)
    ref = ens.param_grads(X, loss_derivative(loss, f_ref, y) / 13, h)
    torch.testing.assert_close(f, f_ref, rtol=1e-13, atol=1e-14)
    assert set(grads) == set(ref) == set(trainable)
    for k in ref:
        torch.testing.assert_close(grads[k], ref[k], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("per_member_inputs", [False, True])
def test_blocked_forward_and_value_and_grad_match_the_plain_formulas(
    per_member_inputs: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sims.nets as nets_mod

    ens = _ens(M=5)
    gen = torch.Generator().manual_seed(4)
    X = (
        torch.randn(5, 11, 5, dtype=D64, generator=gen)
        if per_member_inputs
        else torch.randn(11, 5, dtype=D64, generator=gen)
    )
    h = ens.preact(X)
    f_ref = ens.output(h)
    G_ref = torch.bmm((h > 0).to(D64) * ens.a[:, None, :], ens.W)
    for budget in (1, 11 * 7 * 8 * 2, 1 << 30):  # one member, two members, everything per block
        monkeypatch.setattr(nets_mod, "BLOCK_BYTES", budget)
        torch.testing.assert_close(ens.forward(X), f_ref, rtol=1e-13, atol=1e-14)
        f, G = ens.value_and_grad(X)
        torch.testing.assert_close(f, f_ref, rtol=1e-13, atol=1e-14)
        torch.testing.assert_close(G, G_ref, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("budget", ["1", "5000", "100000000"])
def test_gradient_measurements_do_not_depend_on_the_memory_budget(
    budget: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sims.measure import input_grad_split

    ens = _ens(M=4)
    X = torch.randn(23, 5, dtype=D64, generator=torch.Generator().manual_seed(9))
    U = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 2)))[0]
    ref = input_grad_split(ens, X, U)
    monkeypatch.setenv("ADVSIM_MEMORY_BUDGET", budget)
    got = input_grad_split(ens, X, U)
    for k in ref:
        # chunks of other sizes go through other BLAS kernels: equal up to float64 rounding (1 ulp
        # observed), not bit for bit
        torch.testing.assert_close(got[k], ref[k], rtol=1e-14, atol=1e-15)


def test_memory_budget_rejects_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    from sims.perf import memory_budget

    monkeypatch.setenv("ADVSIM_MEMORY_BUDGET", "lots")
    with pytest.raises(AdvsimError, match="ADVSIM_MEMORY_BUDGET must be"):
        memory_budget()
