"""Feature purification's engine pieces: the symmetric network, threshold rules, the neuron
decomposition, perturbation structure, the linear and NTK baselines, and the theory formulas."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sims.baselines import LinearizedEnsemble
from sims.errors import AdvsimError
from sims.losses import loss_value
from sims.measure import abs_cosine, neuron_decomposition, perturbation_structure
from sims.nets import LinearEnsemble, ThresholdRule, TwoLayerEnsemble, symmetric_ensemble
from sims.optim import OptimizerConfig
from sims.training import TrainConfig, train
from theory import purification as th

D64 = torch.float64


def _sym(
    act: str = "relu", M: int = 3, m: int = 6, d: int = 5, thr: float = 0.3
) -> TwoLayerEnsemble:
    ens = symmetric_ensemble(
        d, m, seeds=list(range(M)), init_scale=2.0, act=act, act_width=0.4, dtype=D64
    )
    gen = torch.Generator().manual_seed(5)
    ens.threshold = thr * torch.rand(M, m, generator=gen, dtype=D64)
    return ens


@pytest.mark.parametrize("act", ["relu", "smooth_relu"])
def test_symmetric_network_is_exactly_odd(act: str) -> None:
    ens = _sym(act)
    X = torch.randn(40, 5, dtype=D64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ens.forward(-X), -ens.forward(X), rtol=0, atol=0)
    f, G = ens.value_and_grad(X)
    f2, G2 = ens.value_and_grad(-X)
    torch.testing.assert_close(f2, -f, rtol=0, atol=0)
    torch.testing.assert_close(G2, G, rtol=0, atol=0)  # the gradient of an odd function is even


def test_symmetric_unit_is_soft_thresholding_for_relu() -> None:
    ens = symmetric_ensemble(1, 1, seeds=[0], dtype=D64)
    ens.W = torch.ones(1, 1, 1, dtype=D64)
    ens.threshold = torch.full((1, 1), 0.5, dtype=D64)
    x = torch.linspace(-2, 2, 41, dtype=D64)[:, None]
    expected = torch.sign(x[:, 0]) * torch.clamp(x[:, 0].abs() - 0.5, min=0)
    torch.testing.assert_close(ens.forward(x)[0], expected)


@pytest.mark.parametrize("act", ["relu", "smooth_relu"])
@pytest.mark.parametrize("per_member_inputs", [False, True])
def test_symmetric_closed_forms_match_autograd(act: str, per_member_inputs: bool) -> None:
    ens = _sym(act)
    gen = torch.Generator().manual_seed(1)
    X = (
        torch.randn(3, 9, 5, dtype=D64, generator=gen)
        if per_member_inputs
        else torch.randn(9, 5, dtype=D64, generator=gen)
    )
    y = torch.where(torch.rand(9, generator=gen) > 0.5, 1.0, -1.0).to(D64)
    W = ens.W.clone().requires_grad_(True)
    auto = TwoLayerEnsemble(
        W, ens.b, ens.a, trainable=("W",), act=act, act_width=0.4, threshold=ens.threshold
    )
    loss_value("logistic", auto.forward(X), y).mean(dim=1).sum().backward()
    _, grads = ens.loss_grads(X, y, "logistic")
    assert set(grads) == {"W"} and W.grad is not None
    torch.testing.assert_close(grads["W"], W.grad, rtol=1e-10, atol=1e-12)
    Xr = X.clone().requires_grad_(True)
    ens.forward(Xr).sum().backward()
    assert Xr.grad is not None
    G = ens.input_grad(X)
    torch.testing.assert_close(G.sum(0) if not per_member_inputs else G, Xr.grad)
    if not per_member_inputs:
        for i in range(3):
            xi = X.clone().requires_grad_(True)
            ens.member(i)(xi).sum().backward()
            assert xi.grad is not None
            torch.testing.assert_close(G[i], xi.grad)


def test_threshold_rules_and_training_with_a_schedule() -> None:
    ens = _sym()
    rel = ThresholdRule("relative", 0.25, floor=0.01)
    t = rel(ens)
    torch.testing.assert_close(t, torch.clamp(0.25 * ens.W.norm(dim=-1), min=0.01))
    torch.testing.assert_close(ThresholdRule("constant", 0.7)(ens), torch.full_like(t, 0.7))
    gen = torch.Generator().manual_seed(3)
    X = torch.randn(30, 5, dtype=D64, generator=gen)
    y = torch.sign(X[:, 0])
    train(ens, X, y, TrainConfig(steps=5, optimizer=OptimizerConfig(lr=0.1), threshold_rule=rel))
    # applied once more at the end, so the threshold matches the final weights
    torch.testing.assert_close(ens.threshold, rel(ens))
    plain = TwoLayerEnsemble(ens.W.clone(), ens.b.clone(), ens.a.clone())
    with pytest.raises(AdvsimError, match="threshold_rule needs a symmetric network"):
        train(plain, X, y, TrainConfig(steps=1, threshold_rule=rel))
    with pytest.raises(AdvsimError, match="threshold must hold finite values >= 0"):
        TwoLayerEnsemble(ens.W, ens.b, ens.a, threshold=-torch.ones_like(ens.b))
    with pytest.raises(AdvsimError, match="threshold kind must be"):
        ThresholdRule("adaptive", 0.1)


def test_peak_threshold_rule_reads_the_largest_response(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``'peak'`` rule: ``value · max_n |⟨w_i, x_n⟩|`` per member and neuron (floored), the same
    whether the inputs are read in one pass or in chunks (to the dtype's rounding), and per member for
    ``(M, n, d)`` inputs; with a ``cap``, at most ``cap · ‖w_i‖``; training applies it with the
    training inputs, and it refuses to guess them."""
    import sims.nets as nets

    ens = _sym()
    gen = torch.Generator().manual_seed(4)
    X = torch.randn(30, 5, dtype=D64, generator=gen)
    rule = ThresholdRule("peak", 0.5, floor=1e-3)
    want = torch.clamp(0.5 * torch.einsum("nd,Mmd->Mnm", X, ens.W).abs().amax(dim=1), min=1e-3)
    torch.testing.assert_close(rule(ens, X), want, rtol=1e-12, atol=0)
    monkeypatch.setattr(nets, "_PEAK_ROWS", 7)  # 30 rows in five chunks (another GEMM blocking)
    torch.testing.assert_close(rule(ens, X), want, rtol=1e-12, atol=0)
    per = torch.randn(3, 30, 5, dtype=D64, generator=gen)
    for i in range(3):
        one = torch.clamp(0.5 * (per[i] @ ens.W[i].T).abs().amax(dim=0), min=1e-3)
        torch.testing.assert_close(rule(ens, per)[i], one, rtol=1e-12, atol=0)
    with pytest.raises(AdvsimError, match="X must be a torch tensor"):
        rule(ens)
    cap = float((want / ens.W.norm(dim=-1)).median())  # some neurons on either side of it
    capped = ThresholdRule("peak", 0.5, cap=cap)(ens, X)
    torch.testing.assert_close(capped, torch.minimum(want, cap * ens.W.norm(dim=-1)))
    assert bool((capped < want).any()) and bool((capped == want).any())  # both sides are reached
    with pytest.raises(AdvsimError, match="threshold cap must be None unless the kind is 'peak'"):
        ThresholdRule("relative", 0.5, cap=0.2)
    y = torch.sign(X[:, 0])
    train(ens, X, y, TrainConfig(steps=3, optimizer=OptimizerConfig(lr=0.1), threshold_rule=rule))
    torch.testing.assert_close(ens.threshold, rule(ens, X))


def test_peak_threshold_trains_where_the_signal_share_silences_every_neuron() -> None:
    """Simulation 08's threshold (issue #15, item 5). At ``d ≫ k`` the ``'signal'`` reading's
    ``‖w‖/(2√k)`` is ``√d/(2√k) = 4`` standard deviations of a random neuron's response (d = 128,
    k = 2): on 400 points no neuron reaches it, the output stays 0, the gradient is 0 and nothing
    trains (accuracy 0: ``y f = 0`` counts as wrong). The ``'peak'`` reading — the same ``‖w‖/(2√k)``,
    or half the neuron's largest response while that is smaller — starts within reach: the nets fit
    their labels past :data:`paper_checks.purification.FIT_FLOOR` (64 neurons for 128 atoms, so not
    all), no threshold ends above ``‖w‖/(2√k)`` and a third or more sit exactly there (their largest
    response reached one atom's: 45% here), and the neurons are far purer than a random direction
    (median purity ≈ 0.29 at d = 128)."""
    from paper_checks.purification import FIT_FLOOR
    from sims.purification_runs import PurificationSetup, clean_summary, train_clean

    base = PurificationSetup(
        d=128, k=2, n=400, m=64, n_seeds=2, clean_steps=400, threshold=0.5, dtype="float32"
    )
    silent = train_clean(replace(base, threshold_kind="signal", clean_steps=20))
    assert np.all(clean_summary(silent)["train_acc"] == 0.0)
    assert torch.equal(silent.ens.W, silent.ens0.W)
    run = train_clean(replace(base, threshold_kind="peak"))
    assert np.all(clean_summary(run)["train_acc"] >= FIT_FLOOR)
    assert run.ens.threshold is not None
    share = run.ens.threshold / run.ens.W.norm(dim=-1)
    cap = 0.5 / math.sqrt(2)
    assert bool((share <= cap * (1 + 1e-6)).all())
    assert float((share >= cap * (1 - 1e-6)).double().mean()) > 0.3
    purity = neuron_decomposition(run.ens.W.cpu().numpy(), run.data.dictionary, run.data.w_star)[
        "purity"
    ]
    assert float(np.median(purity)) > 0.6


def test_pair_cooccurrence_against_the_generator() -> None:
    """What the ``ln 2`` rule rests on: the share of atom pairs that no training point holds is
    ``(1 − p)^n ≈ e^{−λ}`` with ``λ`` of :func:`theory.purification.pair_cooccurrence` — checked on the
    generator's codes (exact supports, after its redraw of zero-score codes) near the rule's edge, where
    about half of the pairs never meet, within four binomial standard errors over the pairs."""
    from sims.sparse import SparseCodingLaw, make_sparse_data

    d, k, n = 64, 2, 1400
    p = k * (k - 1) / (d * (d - 1))
    Z = make_sparse_data(SparseCodingLaw(d=d, k=k), n, 0).Z != 0
    counts = (Z.T.astype(float) @ Z.astype(float))[np.triu_indices(d, 1)]
    lam = th.pair_cooccurrence(n, k, d)
    assert lam == pytest.approx(n * p) and lam == pytest.approx(th.MIXTURE_COOCCURRENCE, rel=0.01)
    unseen = float(np.mean(counts == 0))
    want = (1 - p) ** n
    assert want == pytest.approx(np.exp(-lam), rel=0.01)
    assert unseen == pytest.approx(want, abs=4 * np.sqrt(want * (1 - want) / counts.size))
    assert (
        th.pair_cooccurrence(2000, 4, 512)
        < th.MIXTURE_COOCCURRENCE
        < th.pair_cooccurrence(2000, 4, 128)
    )
    with pytest.raises(ValueError, match="atoms"):
        th.pair_cooccurrence(10, 5, 4)
    with pytest.raises(ValueError, match="support"):
        th.pair_cooccurrence(10, 2, 4, "bernoulli")


def test_neuron_decomposition_on_constructed_neurons() -> None:
    d = 10
    Md = np.linalg.qr(np.random.default_rng(0).standard_normal((d, d)))[0]
    w_star = np.where(np.arange(d) % 2 == 0, 1.0, -1.0)
    coef = np.zeros((3, d))
    coef[0, 2] = 2.0  # a pure neuron
    coef[1] = 0.1 * w_star  # pure atom 4 plus a mixture along w*
    coef[1, 4] = 3.0
    coef[2, [1, 7]] = [1.0, -0.9]  # two atoms
    W = coef @ Md.T
    dec = neuron_decomposition(W, Md, w_star)
    np.testing.assert_array_equal(dec["atom"], [2, 4, 1])
    np.testing.assert_allclose(dec["purity"][0], 1.0)
    np.testing.assert_allclose(dec["mixture_l2"][0], 0.0, atol=1e-12)
    np.testing.assert_allclose(dec["mixture_ratio"][1], 0.1 / 3.0)
    np.testing.assert_allclose(dec["mixture_l1"][1], 0.1 * (d - 1))
    mix = 0.1 * np.delete(w_star, 4)
    np.testing.assert_allclose(
        dec["mixture_cos"][1],
        np.sum(mix * np.delete(w_star, 4)) / (np.linalg.norm(mix) * math.sqrt(d)),
    )
    np.testing.assert_allclose(dec["V"] + (W - dec["V"]), W)
    two = neuron_decomposition(W, Md, w_star, top=2)
    np.testing.assert_allclose(two["mixture_l2"][2], 0.0, atol=1e-12)
    with pytest.raises(AdvsimError, match="top must be"):
        neuron_decomposition(W, Md, w_star, top=d)


def test_perturbation_structure_separates_pure_from_dense() -> None:
    d, k = 16, 2
    Z = np.zeros((1, d))
    Z[0, [3, 9]] = 1 / math.sqrt(k)
    pure = np.zeros((1, d))
    pure[0, 3] = 0.4
    dense = np.full((1, d), 0.1)
    ps = perturbation_structure(np.concatenate([pure, dense]), np.repeat(Z, 2, 0), np.eye(d))
    np.testing.assert_allclose(ps["support_share"], [1.0, k / d])
    np.testing.assert_allclose(ps["participation"], [1.0, d])


@given(
    arrays(np.float64, (2, 6), elements=st.floats(-3, 3)),
    arrays(np.float64, (2, 6), elements=st.floats(-3, 3)),
)
def test_principle_is_the_cosine_criterion(w: np.ndarray, w2: np.ndarray) -> None:
    if np.any(np.linalg.norm(w, axis=1) < 1e-3) or np.any(np.linalg.norm(w2, axis=1) < 1e-3):
        return
    part, resid = th.least_squares_split(w, w2)
    cos = abs_cosine(w, w2)
    clear = np.abs(cos - th.PRINCIPLE_COSINE) > 1e-9
    np.testing.assert_array_equal((part > resid)[clear], (cos > th.PRINCIPLE_COSINE)[clear])


def test_linearized_ensemble_is_the_first_order_expansion() -> None:
    base = _sym()
    ntk = LinearizedEnsemble.at_init(base)
    gen = torch.Generator().manual_seed(2)
    X = torch.randn(12, 5, dtype=D64, generator=gen)
    y = torch.where(torch.rand(12, generator=gen) > 0.5, 1.0, -1.0).to(D64)
    torch.testing.assert_close(ntk.forward(X), base.forward(X))
    # f_lin(W0 + Δ) = f(W0) + ⟨∇_W f(W0), Δ⟩, checked against autograd's weight gradient
    delta = 0.3 * torch.randn(base.W.shape, dtype=D64, generator=gen)
    ntk.delta.copy_(delta)
    W = base.W.clone().requires_grad_(True)
    f0 = TwoLayerEnsemble(W, base.b, base.a, trainable=("W",), threshold=base.threshold).forward(X)
    jvp = torch.stack(
        [torch.autograd.grad(f0[:, i].sum(), W, retain_graph=True)[0] for i in range(12)], 1
    )
    expected = f0.detach() + (jvp * delta[:, None]).sum((-1, -2))
    torch.testing.assert_close(ntk.forward(X), expected)
    # loss gradient in Δ and input gradient against autograd
    dr = ntk.delta.clone().requires_grad_(True)
    auto = LinearizedEnsemble(base, dr)
    loss_value("logistic", auto.forward(X), y).mean(1).sum().backward()
    _, grads = ntk.loss_grads(X, y, "logistic")
    assert dr.grad is not None
    torch.testing.assert_close(grads["W"], dr.grad)
    Xr = X.clone().requires_grad_(True)
    ntk.forward(Xr).sum().backward()
    assert Xr.grad is not None
    torch.testing.assert_close(ntk.input_grad(X).sum(0), Xr.grad)
    with pytest.raises(AdvsimError, match="act='relu'"):
        LinearizedEnsemble.at_init(_sym("smooth_relu"))


def test_linear_baseline_trains_and_has_exact_flip_radii() -> None:
    gen = torch.Generator().manual_seed(4)
    X = torch.randn(50, 4, dtype=D64, generator=gen)
    y = torch.sign(X @ torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=D64))
    lin = LinearEnsemble.zeros(2, 4, dtype=D64)
    w, c = lin.w.clone().requires_grad_(True), lin.c.clone().requires_grad_(True)
    loss_value("logistic", LinearEnsemble(w, c).forward(X), y).mean(1).sum().backward()
    _, grads = lin.loss_grads(X, y, "logistic")
    assert w.grad is not None and c.grad is not None
    torch.testing.assert_close(grads["w"], w.grad)
    torch.testing.assert_close(grads["c"], c.grad)
    res = train(lin, X, y, TrainConfig(steps=300, optimizer=OptimizerConfig(lr=1.0)))
    assert np.all(res.final_loss < 0.3)
    r = lin.flip_radius(X, 1.0)
    Xf = (
        X
        - (r[0] * 1.0001)[:, None]
        * torch.sign(lin.w[0])[None]
        * torch.sign(lin.forward(X)[0])[:, None]
    )
    assert bool(torch.all(torch.sign(lin.forward(Xf)[0]) != torch.sign(lin.forward(X)[0])))


def test_theory_formulas() -> None:
    assert th.mixture_ratio(4, 64) == 4 / 64
    assert th.mixture_slopes() == (1.0, -1.0)
    assert th.robustness_window_linf(4) == (0.125, 0.5)
    # E[|S_k| | S_k ≠ 0]/√k for k fair signs, against Monte Carlo
    rng = np.random.default_rng(0)
    for k in (1, 4, 7):
        S = np.abs(rng.choice((-1.0, 1.0), size=(200_000, k)).sum(1))
        s = S[S > 0].mean() / math.sqrt(k)  # the generator redraws codes with a zero score
        assert abs(th.linear_flip_radius_natural(k, 64, "linf") * 64 - s) < 0.01
        assert abs(th.linear_flip_radius_natural(k, 64, "l2") * 8 - s) < 0.01


def test_purification_setup_rejects_bad_input_and_trains_with_sgd() -> None:
    from sims.purification_runs import ATSpec, PurificationSetup, train_clean

    with pytest.raises(AdvsimError, match="threshold_kind must be"):
        PurificationSetup(threshold_kind="learned")
    with pytest.raises(AdvsimError, match="k must be"):
        PurificationSetup(d=8, k=9)
    with pytest.raises(AdvsimError, match="attack must be"):
        ATSpec(attack="cw")
    with pytest.raises(AdvsimError, match="eps_ramp must be"):
        ATSpec(eps_ramp=-3)
    with pytest.raises(AdvsimError, match=r"eps_ramp must be an integer in \[0, 200\]; got 201"):
        ATSpec(steps=200, eps_ramp=201)  # the full radius would never be reached
    for attack in ("pgd", "fgm", "fast"):  # every method the spec builds carries its ramp
        assert ATSpec(attack=attack, eps_ramp=7).method("logistic", 0).eps_ramp == 7
    s = PurificationSetup(d=8, k=2, m=16, n=64, n_test=16, clean_steps=3, batch_size=16, n_seeds=2)
    a, b = train_clean(s), train_clean(s)
    torch.testing.assert_close(a.ens.W, b.ens.W, rtol=0, atol=0)  # same seed, same result
    assert not torch.equal(a.ens.W, a.ens0.W)


def test_clean_training_to_a_plateau_and_a_second_shuffle() -> None:
    """``clean_plateau`` stops each member once its loss flattens (the steps are recorded, and a member
    stops no later than the cap); ``shuffle_draw`` draws another permutation of the same labels."""
    from sims.purification_runs import PurificationSetup, clean_summary, train_clean

    with pytest.raises(AdvsimError, match="clean_plateau must be"):
        PurificationSetup(clean_plateau=-0.1)
    with pytest.raises(AdvsimError, match="shuffle_draw must be"):
        PurificationSetup(shuffle_draw=-1)
    s = PurificationSetup(d=8, k=2, m=16, n=64, n_test=16, clean_steps=400, n_seeds=2)
    capped = train_clean(s)
    assert "clean_steps_taken" not in clean_summary(capped)
    flat = train_clean(replace(s, clean_plateau=0.01))
    steps = clean_summary(flat)["clean_steps_taken"]
    assert steps.shape == (2,) and (steps % 50 == 0).all() and (steps < 400).all()
    assert (steps >= 100).all()  # the first comparison is at step 2·50
    never = train_clean(replace(s, clean_plateau=0.01, clean_plateau_below=1e-9))
    np.testing.assert_array_equal(never.steps_taken, [400, 400])  # not armed: runs to the cap
    with pytest.raises(AdvsimError, match="clean_plateau_below must be"):
        PurificationSetup(clean_plateau_below=0.0)
    a, b, c = (
        train_clean(replace(s, clean_steps=0, shuffle_labels=True, shuffle_draw=i))
        for i in (0, 0, 1)
    )
    assert torch.equal(a.y, b.y) and not torch.equal(a.y, c.y)
    assert torch.equal(torch.sort(a.y).values, torch.sort(c.y).values)


@pytest.mark.parametrize("scale", ["quick", "medium", "paper"])
def test_the_from_init_controls_ramp_over_the_clean_training(scale: str) -> None:
    """Simulations 09 and 17: the AT-from-init control trains as long as clean training and continued
    AT together, its radius ramped over the clean training's steps; the main rows do not ramp."""
    import importlib

    from sims.purification_runs import from_init_schedule

    assert from_init_schedule(400, 200) == {"steps": 600, "eps_ramp": 400}
    sim09 = importlib.import_module("sims.09_purification")
    rows09 = {c.condition: c for c in sim09.configs(scale)}
    init, main = rows09["from_init-pgd_linf"], rows09["sparse-pgd_linf"]
    assert init.start == "init" and main.start == "clean"
    assert init.at[0].steps == init.setup.clean_steps + main.at[0].steps
    assert init.at[0].eps_ramp == init.setup.clean_steps > 0
    assert replace(init.at[0], steps=main.at[0].steps, eps_ramp=0) == main.at[0]
    assert all(c.at[0].eps_ramp == 0 for c in rows09.values() if c.start == "clean")
    sim17 = importlib.import_module("sims.17_patch_purification")
    rows17 = {c.condition: c for c in sim17.configs(scale)}
    init17, main17 = rows17["teacher-from_init-pgd_linf"], rows17["teacher-pgd_linf"]
    eps = {"linf": 0.1, "l2": 0.3}
    spec, ref = init17.spec(eps), main17.spec(eps)
    assert spec.steps == init17.setup.clean_steps + ref.steps
    assert spec.eps_ramp == init17.setup.clean_steps > 0
    assert replace(spec, steps=ref.steps, eps_ramp=0) == ref
    assert all(c.spec(eps).eps_ramp == 0 for c in rows17.values() if c.start == "clean")
    with pytest.raises(AdvsimError, match="eps_ramp must be its default 0"):
        sim17.Config("x", "control", main17.setup, "none", eps_ramp=10)


def test_grouped_rows_record_what_they_would_alone() -> None:
    """Simulation 09 shares one clean training among rows (``run_group``): each row's arrays are
    exactly what the row run alone gives (tiny setups)."""
    import importlib
    from dataclasses import replace

    from sims.purification_runs import ATSpec, PurificationSetup
    from sims.simulation import RunContext

    ctx = RunContext()
    base = PurificationSetup(d=16, k=1, m=8, n=48, n_test=24, clean_steps=4, n_seeds=2)
    sim09 = importlib.import_module("sims.09_purification")
    spec = ATSpec("linf", 0.3, "pgd", steps=2)
    rows = [
        sim09.Config("sparse-pgd_linf", "law", base, (spec,)),
        sim09.Config("sparse-none", "law", base, (replace(spec, eps=0.0, attack_steps=1),)),
        sim09.Config("from_init-pgd_linf", "control", base, (spec,), start="init"),
    ]
    for cfg, out in zip(rows, sim09.run_group(rows, ctx), strict=True):
        alone = sim09.SIM.run(cfg, ctx)
        assert set(alone.arrays) == set(out.arrays)
        for key, value in alone.arrays.items():
            np.testing.assert_array_equal(out.arrays[key], value, err_msg=key)


def test_path_check_tells_less_from_slower(tmp_path: object) -> None:
    """PUR-fgm-path's check on synthetic paths: a subject that plateaus at the reference's level holds;
    one that plateaus at half the reference's fall fails (it purifies *less*); one still falling at
    the end is inconclusive (slower cannot be told from less); one that falls and climbs back (as
    FGM-AT does) fails; continued clean training (flat) fails; an underfit subject is inconclusive; so
    is any subject of a reference that does not purify (its share would be a ratio of two rises)."""
    from pathlib import Path

    from paper_checks.purification import path_check
    from sims.records import RunStore

    root = Path(str(tmp_path))
    steps = np.arange(0, 201, 10)
    rng = np.random.default_rng(0)

    def write(name: str, end: float, rate: float, acc: float = 1.0, climb: float = 0.0) -> None:
        curve = end + (2.0 - end) * np.exp(-rate * steps) + climb * steps  # from 2.0 at the start
        noise = 1 + 0.01 * rng.normal(size=(len(steps), 8, 64))
        RunStore(root, "09_purification").write(
            name,
            {"config": {"condition": name}, "status": "ok", "timings": {"end": 1.0}},
            {
                "at_path_steps": steps,
                "at_path_mixture": curve[:, None, None] * noise,
                "at_test_acc": np.full(8, acc),
                "at_train_acc": np.full(8, acc),
            },
        )

    write("sparse-pgd_linf", 1.0, 0.1)
    write("same", 1.0, 0.05)  # slower, but plateaued by the end at the same level
    write("less", 1.5, 0.1)
    write("falling", 1.0, 0.008)
    write("sparse-none", 2.0, 0.1)
    write("underfit", 1.0, 0.1, acc=0.8)
    write("climbs", 1.0, 0.1, climb=0.004)
    runs = RunStore(root, "09_purification").records()
    status = {
        name: path_check((name,))(runs).status
        for name in ("same", "less", "falling", "sparse-none", "underfit", "climbs")
    }
    assert status == {
        "same": "holds",
        "less": "fails",
        "falling": "inconclusive",
        "sparse-none": "fails",
        "underfit": "inconclusive",
        "climbs": "fails",
    }
    assert "may still be falling" in path_check(("falling",))(runs).reason
    assert path_check(("less", "same"))(runs).status == "holds"  # an existence over radii
    write("rises", 3.0, 0.1)  # a reference that adds mixture: no fall to take a share of
    write("rises_more", 4.0, 0.1)
    runs = RunStore(root, "09_purification").records()
    rising = path_check(("rises_more",), reference="rises")(runs)
    assert rising.status == "inconclusive" and "does not purify here" in rising.reason
    # the share needs the reference and a subject trained: the claim reports the reference's accuracy
    # or the best subject's, the lower (what the chance level and the controls judge)
    write("collapsed", 1.0, 0.1, acc=0.2)  # a reference that did not learn the task
    write("dead", 1.0, 0.1, acc=0.1)  # a subject that did not either
    runs = RunStore(root, "09_purification").records()
    assert path_check(("same",), reference="collapsed")(runs).clean_acc == 0.2
    assert path_check(("dead", "underfit"))(runs).clean_acc == 0.8
    assert path_check(("dead", "same"))(runs).clean_acc == 1.0


def test_label_difference_check_pairs_the_arms(tmp_path: object) -> None:
    """PUR-mix-d-labels' check on synthetic neurons: a true-label mixture whose median ratio falls
    like 1/d against a shuffled one that barely moves holds (slope difference −0.8 below −0.3); two
    shuffles with the same law differ by noise only and fail (the control flips); arms that do not
    share data and initialisation are refused (inconclusive), never compared."""
    from pathlib import Path

    from paper_checks.purification import mixture_label_check
    from sims.records import RunStore

    root = Path(str(tmp_path))
    rng = np.random.default_rng(1)

    def write(arm: str, d: int, ratio: float, seed: int = 0, acc: float = 1.0) -> None:
        W = ratio * rng.choice((-1.0, 1.0), size=(8, 64, d)) * rng.uniform(0.5, 1.5, (8, 64, d))
        W[:, np.arange(64), np.arange(64) % d] = 1.0  # one pure atom per neuron
        shared = np.random.default_rng([d, seed])
        name = f"{arm}-d{d}-k4"
        RunStore(root, "08_mixture_scaling").write(
            name,
            {
                # n: every level's atom pairs share training points (the checks read them)
                "config": {"condition": name, "setup": {"d": d, "k": 4, "n": 20_000}},
                "status": "ok",
                "timings": {"end": 1.0},
            },
            {
                "W_clean": W,
                "W0": shared.normal(size=(8, 64, d)),
                "X_test": shared.normal(size=(16, d)),
                "dictionary": np.eye(d),
                "w_star": np.ones(d),
                "train_acc": np.full(8, acc),
                "test_acc": np.full(8, acc),
            },
        )

    for d in (32, 64, 128):
        write("true", d, 4 / d)
        write("shuffled", d, 0.1 * (32 / d) ** 0.2)
        write("reshuffled", d, 0.1 * (32 / d) ** 0.2)
    runs = RunStore(root, "08_mixture_scaling").records()
    main = mixture_label_check("d")(runs)
    assert main.status == "holds" and main.measured == pytest.approx(-0.8, abs=0.05)
    assert mixture_label_check("d", "reshuffled", "shuffled")(runs).status == "fails"
    write("true", 256, 0.3, acc=0.1)  # a level that did not train, in both arms: left out, named
    write("shuffled", 256, 0.3, acc=0.1)
    runs = RunStore(root, "08_mixture_scaling").records()
    kept = mixture_label_check("d")(runs)
    assert kept.status == "holds" and kept.measured == pytest.approx(main.measured)
    assert "left out of true, did not train" in kept.detail and "d=256" in kept.detail
    assert "left out of shuffled, did not train" in kept.detail
    write("shuffled", 64, 0.1, seed=1)  # another initialisation: no longer paired with "true"
    runs = RunStore(root, "08_mixture_scaling").records()
    unpaired = mixture_label_check("d")(runs)
    assert unpaired.status == "inconclusive" and "not paired" in unpaired.reason


def test_dictionary_variants_change_only_the_data() -> None:
    """Issue #15 item 8: each variant changes the generator's dictionary or noise and nothing else
    (dense codes, k = d, stay dense under the overcomplete dictionary: k = D); the data it draws have
    that dictionary (orthonormal columns, ``D = 2d`` unit columns) or noise; real patches are refused."""
    from sims.purification_runs import (
        DICTIONARY_VARIANTS,
        VARIANT_NOISE,
        PurificationSetup,
        dictionary_variant,
        setup_data,
    )

    s = PurificationSetup(d=16, k=2, m=8, n=64, n_test=8, n_seeds=1)
    got = {v: dictionary_variant(s, v) for v in DICTIONARY_VARIANTS}
    for v, t in got.items():
        changed = {f for f in s.__dataclass_fields__ if getattr(s, f) != getattr(t, f)}
        assert (
            changed
            == {
                "orthonormal": {"dictionary"},
                "overcomplete": {"dictionary", "D"},
                "noise": {"noise"},
            }[v]
        )
    M = setup_data(got["orthonormal"])[0].dictionary
    np.testing.assert_allclose(M.T @ M, np.eye(16), atol=1e-12)
    assert not np.allclose(M, np.eye(16))
    over = setup_data(got["overcomplete"])[0]
    assert over.dictionary.shape == (16, 32)
    np.testing.assert_allclose(np.linalg.norm(over.dictionary, axis=0), 1.0)
    noisy = setup_data(got["noise"])[0]
    residual = noisy.X - noisy.Z @ noisy.dictionary.T
    assert 0.5 * VARIANT_NOISE < np.linalg.norm(residual, axis=1).mean() < 1.5 * VARIANT_NOISE
    with pytest.raises(AdvsimError, match="variant must be one of"):
        dictionary_variant(s, "identity")
    dense = dictionary_variant(replace(s, k=16), "overcomplete")
    assert (dense.k, dense.D) == (32, 32)  # dense codes stay dense: every atom
    with pytest.raises(
        AdvsimError, match=r"setup.source must be 'synthetic' .*; got 'patches_teacher'"
    ):
        dictionary_variant(
            PurificationSetup(source="patches_teacher", dictionary="orthonormal", n=64, n_test=8),
            "noise",
        )


def test_flip_radius_check_applies_only_where_the_derivation_does(tmp_path: object) -> None:
    """PUR-radius-*'s check on radii drawn around the derived ones: it holds on the identity
    dictionary; on a rotated (orthonormal) one the ℓ2 radius is still judged (a rotation does not
    change ℓ2 distances) but the ℓ∞ one is not (its steepest ray is along the code axes); with noise
    neither is. Not applicable is inconclusive, never a verdict."""
    from pathlib import Path

    import theory.purification as thp
    from paper_checks.purification import flip_radius_check
    from sims.records import RunStore

    rng = np.random.default_rng(0)

    def runs(
        root: Path,
        dictionary: str,
        noise: float,
        kind: str = "signal",
        theta: float = 0.5,
        stored: bool = False,
    ) -> list[Any]:
        store = RunStore(root, "08_mixture_scaling")
        for k in (2, 4, 8):
            setup = {
                "d": 64,
                "k": k,
                "threshold_kind": kind,
                "threshold": 0.5,
                "dictionary": dictionary,
                "noise": noise,
            }
            arrays = {
                f"flip_{norm}": thp.clean_network_flip_radius_median(k, 64, norm, theta)
                * rng.uniform(0.8, 1.25, (8, 50))
                for norm in ("linf", "l2")
            }
            if stored:  # the nets' threshold stored: θ‖w‖/√k
                W = rng.normal(size=(8, 4, 64))
                arrays.update(W_clean=W, threshold=theta * np.linalg.norm(W, axis=-1) / np.sqrt(k))
            arrays.update(train_acc=np.ones(8), test_acc=np.ones(8))
            name = f"true-d64-k{k}"
            store.write(
                name,
                {
                    "config": {"condition": name, "setup": setup},
                    "status": "ok",
                    "timings": {"end": 1.0},
                },
                arrays,
            )
        return store.records()

    root = Path(str(tmp_path))
    plain = runs(root / "plain", "identity", 0.0)
    assert flip_radius_check("k", "linf")(plain).status == "holds"
    assert flip_radius_check("k", "l2")(plain).status == "holds"
    rotated = runs(root / "rotated", "orthonormal", 0.0)
    assert flip_radius_check("k", "l2")(rotated).status == "holds"
    no = flip_radius_check("k", "linf")(rotated)
    assert no.status == "inconclusive" and "identity dictionary" in no.reason
    noisy = runs(root / "noisy", "identity", 0.1)
    for norm in ("linf", "l2"):
        c = flip_radius_check("k", norm)(noisy)
        assert c.status == "inconclusive" and "noiseless" in c.reason
    # a stored threshold (here θ = 0.65 of one atom's signal) is the derived network's: the check
    # holds against that network and its predicted slope is not the θ = 0.5 one's
    stored = runs(root / "stored", "identity", 0.0, "peak", theta=0.65, stored=True)
    held = flip_radius_check("k", "linf")(stored)
    assert held.status == "holds" and "θ 0.650" in held.detail
    assert held.predicted != pytest.approx(
        flip_radius_check("k", "linf")(plain).predicted, abs=0.01
    )
    # the 'noise' reading without a stored threshold: no share of the signal to carry
    c = flip_radius_check("k", "l2")(runs(root / "bare", "identity", 0.0, "noise"))
    assert c.status == "inconclusive" and "share of one atom's signal" in c.reason


def test_threshold_share_recomputes_the_peak_threshold_from_the_setup(tmp_path: object) -> None:
    """For a record of the ``'peak'`` reading without a stored threshold, the share is recomputed from
    ``W_clean`` on the training inputs drawn again from the setup — equal to the share of the
    thresholds the training ended with."""
    from dataclasses import asdict
    from pathlib import Path

    from paper_checks.purification import threshold_share
    from sims.purification_runs import PurificationSetup, train_clean
    from sims.records import RunStore

    # early in training (5 steps), where most neurons are below the cap, so the median share is the
    # peak's, which data drawn otherwise would not give
    setup = PurificationSetup(
        d=128, k=2, n=120, m=8, n_seeds=2, clean_steps=5, threshold_kind="peak", threshold=0.5
    )
    run = train_clean(setup)
    assert run.ens.threshold is not None
    W, t = run.ens.W.numpy(), run.ens.threshold.numpy()
    want = float(np.median(t * np.sqrt(2) / np.linalg.norm(W, axis=-1)))
    assert want < 0.48
    store = RunStore(Path(str(tmp_path)), "08_mixture_scaling")
    for name, extra in (("bare", {}), ("stored", {"threshold": t})):
        store.write(
            name,
            {"config": {"condition": name, "setup": asdict(setup)}, "status": "ok"},
            {"W_clean": W, **extra},
        )
    other = asdict(replace(setup, seed=5))  # the same weights read on data drawn otherwise
    store.write(
        "other", {"config": {"condition": "other", "setup": other}, "status": "ok"}, {"W_clean": W}
    )
    for r in store.records():
        share = threshold_share(r)
        if r.config["condition"] == "other":
            assert share is not None and abs(share - want) > 0.02
        else:
            assert share == pytest.approx(want, rel=1e-9)


def test_a_level_that_did_not_train_is_left_out_of_the_sweep(tmp_path: object) -> None:
    """Simulation 08's slopes are read over the levels whose nets fit their training labels (mean
    training accuracy >= FIT_FLOOR): a dead level (a threshold that silenced every neuron at the
    initialisation; its output 0 counts as wrong) would otherwise set the slope. The level left out is
    named in the detail; with fewer than two levels left the slope is inconclusive."""
    from pathlib import Path

    from paper_checks.purification import FIT_FLOOR, mixture_alignment_check, mixture_slope_check
    from sims.records import RunStore

    root = Path(str(tmp_path))
    rng = np.random.default_rng(2)
    store = RunStore(root, "08_mixture_scaling")

    def write(k: int, acc: float, ratio: float, n: int = 2000) -> None:
        W = ratio * rng.choice((-1.0, 1.0), size=(8, 64, 64)) * rng.uniform(0.5, 1.5, (8, 64, 64))
        W[:, np.arange(64), np.arange(64)] = 1.0
        W += 0.2 * ratio * np.ones(64)  # a mixture along M w* = 1
        name = f"true-d64-k{k}"
        store.write(
            name,
            {
                "config": {"condition": name, "setup": {"d": 64, "k": k, "n": n}},
                "status": "ok",
                "timings": {"end": 1.0},
            },
            {
                "W_clean": W,
                "dictionary": np.eye(64),
                "w_star": np.ones(64),
                "train_acc": np.full(8, acc),
                "test_acc": np.full(8, acc),
            },
        )

    write(2, 0.12, 0.5)  # dead: its "mixture" is the initialisation's noise
    write(4, 0.99, 4 / 64)
    write(8, 0.99, 8 / 64)
    runs = store.records()
    cmp = mixture_slope_check("k")(runs)
    assert cmp.measured == pytest.approx(1.0, abs=0.05) and cmp.status == "holds"
    assert "left out, did not train" in cmp.detail and "k=2 (training accuracy 0.12)" in cmp.detail
    align = mixture_alignment_check(runs)
    assert "true-d64-k2" in align.detail.split("left out")[1]
    write(8, FIT_FLOOR - 0.01, 8 / 64)
    alone = mixture_slope_check("k")(store.records())
    assert alone.status == "inconclusive" and "fewer than 2 k values" in alone.reason
    assert "k=8 (training accuracy 0.74)" in alone.reason

    # a sample in which the median atom pair never meets: k = 2 at n = 300 has
    # λ = 300·2/(64·63) = 0.15 < ln 2 expected points per pair, and is left out of the mixture slopes
    write(2, 0.99, 0.5, n=300)
    write(8, 0.99, 8 / 64)
    sparse = mixture_slope_check("k")(store.records())
    assert sparse.measured == pytest.approx(1.0, abs=0.05) and sparse.status == "holds"
    assert "shares no training point" in sparse.detail and "k=2 (0.15)" in sparse.detail
    write(2, 0.99, 0.5)  # the same level with n = 2 000 (λ = 0.99) is read, and sets the slope
    kept = mixture_slope_check("k")(store.records())
    assert "left out" not in kept.detail and kept.status == "fails"
