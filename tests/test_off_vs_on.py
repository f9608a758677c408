"""Simulation 15's measurements and checks: the off- vs on-subspace radius and its scaling in ℓ⊥."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import numpy as np
import pytest
import torch

from paper_checks import stats
from paper_checks import subspace as ps
from sims.records import RunRecord
from sims.subspace_runs import (
    SubspaceSetup,
    flip_radius,
    nearest_other_class,
    train_group,
    train_setup,
)
from tests.pinned import FakeRun
from theory import subspace as th


def _runs(
    r_off: dict[int, np.ndarray],
    r_on: float,
    nn: float,
    k: int = 5,
    f: dict[int, np.ndarray] | None = None,
    per_member: bool = False,
) -> list[RunRecord]:
    out = []
    for d, v in r_off.items():
        a = {"r_off": v, "r_on": np.full_like(v, r_on), "nn_other": np.full_like(v, nn)}
        a["r_any"] = np.minimum(a["r_off"], a["r_on"])
        a["f_test"] = np.ones_like(v) if f is None else f[d]
        setup = {"d": d, "k": k, "per_member_data": per_member}
        out.append(FakeRun({"setup": setup, "condition": f"gd-d{d}"}, a))
    return cast(list[RunRecord], out)


def _lognormal(rng: np.random.Generator, median: float) -> np.ndarray:
    return median * np.exp(0.3 * rng.standard_normal((10, 40)))


def test_radius_exponent_is_the_gradient_law_at_fixed_f() -> None:
    """r* = |f| / E‖P⊥∇f‖ at fixed |f| and p̄: the exponent of theory.offsubspace_radius_exponent is
    the least-squares slope of that radius, and it tends to 0 (not to the random direction's ½)."""
    k = 5
    codims = np.array([15, 35, 75, 155, 315])
    r = 1.0 / th.expected_offsubspace_grad_norm(1.0 / (codims + k), codims, 1.0, 0.5)
    fit = np.polyfit(np.log(codims), np.log(r), 1)[0]
    assert th.offsubspace_radius_exponent(codims, k) == pytest.approx(fit, rel=1e-10)
    assert -0.1 < th.offsubspace_radius_exponent(codims, k) < 0
    assert abs(th.offsubspace_radius_exponent([1000, 4000], k)) < 2e-3
    with pytest.raises(ValueError, match="two distinct"):
        th.offsubspace_radius_exponent([20, 20], k)


def test_scaling_check_holds_for_a_flat_radius_and_fails_for_one_falling_as_the_gradient_grows() -> (
    None
):
    rng = np.random.default_rng(0)
    flat = _runs({d: _lognormal(rng, 2.0) for d in (20, 40, 80, 160)}, r_on=5.0, nn=10.0)
    assert ps.off_scaling_check(flat).status == "holds"
    # the control's mechanism: ‖P⊥∇f‖ ∝ √ℓ⊥, so r_off ∝ ℓ⊥^(−1/2)
    falling = _runs(
        {d: _lognormal(rng, 2.0 * np.sqrt(15 / (d - 5))) for d in (20, 40, 80, 160)}, 5.0, 10.0
    )
    res = ps.off_scaling_check(falling)
    assert res.status == "fails" and res.parts[0].status == "fails"
    # flat but not small against the other class: the second part fails
    far = _runs({d: _lognormal(rng, 8.0) for d in (20, 40, 80, 160)}, r_on=5.0, nn=10.0)
    assert ps.off_scaling_check(far).parts[1].status == "fails"


def test_scaling_reads_the_radius_per_unit_output() -> None:
    """The control's premise: a first layer whose variance does not shrink with d makes ‖P⊥∇f‖ grow
    as √ℓ⊥ but also |f|; the raw radius may stay flat while r_off/|f| falls as ℓ⊥^(−1/2) — the check
    reads the latter and fails. Conversely a radius that only follows |f| holds."""
    rng = np.random.default_rng(3)
    ds = (20, 40, 80, 160)
    grow = {d: np.sqrt((d - 5) / 15) * np.exp(0.1 * rng.standard_normal((10, 40))) for d in ds}
    flat_raw = _runs({d: _lognormal(rng, 2.0) for d in ds}, 5.0, 10.0, f=grow)
    assert ps.off_scaling_check(flat_raw).parts[0].status == "fails"
    follows = _runs({d: 2.0 * grow[d] for d in ds}, 5.0, 40.0, f=grow)
    assert ps.off_scaling_check(follows).parts[0].status == "holds"


def test_per_member_draws_resample_members_only() -> None:
    """With one data draw per member the points are not shared: the checks resample members alone
    (nested=False), which is what stats.median gives for the same values with nested=False."""
    rng = np.random.default_rng(4)
    v = {160: _lognormal(rng, 2.0)}
    shared = ps.off_vs_on_check(_runs(v, 5.0, 10.0))
    own = ps.off_vs_on_check(_runs(v, 5.0, 10.0, per_member=True))
    want = stats.median(ps.radius_ratio(v[160], np.full_like(v[160], 5.0)), nested=False)
    assert own.ci == pytest.approx((want.lo, want.hi))
    assert shared.ci != own.ci


def test_off_vs_on_check_reads_the_largest_d_and_has_teeth() -> None:
    rng = np.random.default_rng(1)
    small = _runs({20: _lognormal(rng, 9.0), 160: _lognormal(rng, 2.0)}, r_on=5.0, nn=10.0)
    assert ps.off_vs_on_check(small).status == "holds"  # d = 160: ratio 0.4
    large = _runs({20: _lognormal(rng, 2.0), 160: _lognormal(rng, 9.0)}, r_on=5.0, nn=10.0)
    assert ps.off_vs_on_check(large).status == "fails"  # d = 160: ratio 1.8


def test_radius_ratio_orders_a_missing_flip_above_any_found() -> None:
    r = ps.radius_ratio(np.array([1.0, np.inf, np.nan, np.inf]), np.array([2.0, 3.0, 1.0, np.inf]))
    assert r[0] == 0.5 and r[1] == np.inf and np.isnan(r[2]) and np.isnan(r[3])


def test_nearest_other_class_and_the_three_radii_on_a_trained_net() -> None:
    """nn_other is the brute-force minimum over the other class; the unrestricted search, which may use
    either subspace, never ends far above the smaller of the two restricted radii."""
    s = SubspaceSetup(d=12, k=3, m=40, n=30, n_test=8, n_seeds=2, steps=300, dtype="float64")
    t = train_setup(s)
    nn = nearest_other_class(t)
    X, y = t.X.numpy(), t.y.numpy()
    for i, (x, yi) in enumerate(zip(t.X_test.numpy(), t.y_test.numpy(), strict=True)):
        other = X[np.sign(y) != np.sign(yi)]
        assert nn[i] == pytest.approx(np.linalg.norm(other - x, axis=1).min(), rel=1e-12)
    radii = {
        w: flip_radius(t, w, search_steps=6, pgd_steps=10, restarts=1) for w in ("off", "on", "any")
    }
    ok = ~np.isnan(radii["any"])
    assert ok.any()
    best = np.minimum(radii["off"], radii["on"])[ok]
    assert np.all(radii["any"][ok] <= 1.05 * best + 1e-6)
    assert np.all(np.isnan(radii["off"]) == np.isnan(radii["on"]))  # NaN: misclassified, both


def test_restricted_min_norm_gives_each_member_what_it_gives_the_member_alone() -> None:
    """One search over a group's members (simulations 03, 04, 15) equals each member searched alone,
    in every direction: the grouped sweeps' radii are the rows' own."""
    s = SubspaceSetup(d=10, k=3, m=12, n=20, n_test=5, n_seeds=3, steps=100, dtype="float64")
    t = train_setup(s)
    for where in ("off", "on", "any"):
        together = flip_radius(t, where, search_steps=4, pgd_steps=5, restarts=1)
        for i in range(3):
            alone = flip_radius(
                replace(t, ens=t.ens.select(slice(i, i + 1))),
                where,
                search_steps=4,
                pgd_steps=5,
                restarts=1,
            )
            np.testing.assert_allclose(together[i : i + 1], alone, rtol=1e-9, atol=1e-12)


def test_per_member_data_members_are_their_own_runs() -> None:
    """per_member_data: member j draws its own points and labels on the shared subspace; it is the
    same draw in every row of a group, and its flip radii searched in the ensemble equal those of the
    member searched alone (training alone: the next test)."""
    s = SubspaceSetup(
        d=10, k=3, m=12, n=20, n_test=6, n_seeds=3, steps=80, dtype="float64", per_member_data=True
    )
    t = train_setup(s)
    assert t.X.shape == (3, 20, 10) and t.y.shape == (3, 20) and t.X_test.shape == (3, 6, 10)
    assert not np.allclose(t.X[0].numpy(), t.X[1].numpy())
    P = t.data.basis @ t.data.basis.T
    np.testing.assert_allclose(t.X.numpy() @ P, t.X.numpy(), atol=1e-12)  # on the shared subspace
    twice = train_group([s, replace(s, first_scale=0.5)])
    np.testing.assert_array_equal(twice.X[:3].numpy(), twice.X[3:].numpy())
    np.testing.assert_array_equal(twice.X[:3].numpy(), t.X.numpy())
    nn = nearest_other_class(t)
    assert nn.shape == (3, 6)
    for i in range(3):
        X, y = t.X[i].numpy(), t.y[i].numpy()
        for j, (x, yj) in enumerate(zip(t.X_test[i].numpy(), t.y_test[i].numpy(), strict=True)):
            other = X[np.sign(y) != np.sign(yj)]
            assert nn[i, j] == pytest.approx(np.linalg.norm(other - x, axis=1).min(), rel=1e-12)
    radii = flip_radius(t, "off", search_steps=4, pgd_steps=5, restarts=1)
    for i in range(3):
        one = t.members(slice(i, i + 1))
        assert one.X.shape == (1, 20, 10)
        np.testing.assert_allclose(
            radii[i : i + 1],
            flip_radius(one, "off", search_steps=4, pgd_steps=5, restarts=1),
            rtol=1e-9,
            atol=1e-12,
        )


def test_training_on_per_member_data_equals_each_member_alone() -> None:
    """train() with X (M, n, d) and y (M, n): member i ends where it ends trained alone on its own data
    (the loss, its gradients and the stop rule are per member); minibatches are refused."""
    from sims.nets import init_ensemble
    from sims.optim import OptimizerConfig
    from sims.training import TrainConfig, train
    from sims.validate import AdvsimError

    gen = torch.Generator().manual_seed(0)
    X = torch.randn(3, 25, 6, generator=gen, dtype=torch.float64)
    y = torch.where(torch.randn(3, 25, generator=gen, dtype=torch.float64) > 0, 1.0, -1.0)
    cfg = TrainConfig(steps=40, optimizer=OptimizerConfig("sgd", lr=0.2), stop_margin=0.05)
    ens = init_ensemble(6, 8, seeds=[0, 1, 2], dtype=torch.float64)
    train(ens, X, y, cfg)
    for i in range(3):
        one = init_ensemble(6, 8, seeds=[i], dtype=torch.float64)
        train(one, X[i], y[i], cfg)
        np.testing.assert_allclose(ens.W[i].numpy(), one.W[0].numpy(), rtol=1e-12, atol=1e-14)
    with pytest.raises(AdvsimError, match="batch_size"):
        train(ens, X, y, replace(cfg, batch_size=5), seeds=[0, 1, 2])
    with pytest.raises(AdvsimError, match="one label set per member"):
        train(ens, X, y[:2], cfg)


def test_attacks_take_one_label_set_per_member() -> None:
    """PGD and MinNorm with y (M, n): member i's result is its result with its own labels alone."""
    from sims.attacks import PGD, MinNorm
    from sims.nets import init_ensemble
    from sims.threat import L2Ball

    gen = torch.Generator().manual_seed(1)
    X = torch.randn(3, 15, 6, generator=gen, dtype=torch.float64)
    y = torch.where(torch.randn(3, 15, generator=gen, dtype=torch.float64) > 0, 1.0, -1.0)
    ens = init_ensemble(6, 8, seeds=[0, 1, 2], dtype=torch.float64)
    pgd = PGD(steps=6, restarts=2)(ens, X, y, L2Ball(0.5))
    mn = MinNorm(max_iter=5, refine_steps=3, search_steps=3, search_attack=PGD(steps=5))(ens, X, y)
    for i in range(3):
        one = ens.select([i])
        alone = PGD(steps=6, restarts=2)(one, X[i : i + 1], y[i], L2Ball(0.5))
        np.testing.assert_allclose(pgd.delta[i : i + 1].numpy(), alone.delta.numpy(), atol=1e-12)
        mn1 = MinNorm(max_iter=5, refine_steps=3, search_steps=3, search_attack=PGD(steps=5))(
            one, X[i : i + 1], y[i]
        )
        np.testing.assert_allclose(mn.dist[i : i + 1].numpy(), mn1.dist.numpy(), rtol=1e-9)


def test_per_member_data_refuses_an_offset_and_checks_its_flag() -> None:
    from sims.subspace_runs import data_seed
    from sims.validate import AdvsimError

    with pytest.raises(AdvsimError, match="offset"):
        SubspaceSetup(d=10, k=3, m=4, offset=0.5, per_member_data=True)
    with pytest.raises(AdvsimError, match="per_member_data"):
        SubspaceSetup(d=10, k=3, m=4, per_member_data="no")  # type: ignore[arg-type]
    with pytest.raises(AdvsimError, match="member"):
        data_seed(0, -1)
    assert data_seed(0, 0) != data_seed(0, 1) != data_seed(1, 0)
