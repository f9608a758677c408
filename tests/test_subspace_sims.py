"""Simulations 02–07 end to end, and the exact statements behind them."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import pytest
import torch
from scipy import stats

from paper_checks import subspace as ps
from paper_checks.claims import Comparison
from sims.attacks import MinNorm
from sims.data import make_subspace_data
from sims.measure import input_grad_split
from sims.nets import LinearEnsemble, init_ensemble
from sims.records import RunRecord
from sims.threat import Subspace
from tests.pinned import (
    FakeRun,
    QuickRuns,
    check_pinned,
    draw_quick,
    pinned_claim_ids,
    sim_number,
    tiered,
    tiered_figures,
)
from theory import subspace as th


@pytest.fixture(scope="module")
def results06(quick: QuickRuns) -> Path:
    return quick("06")


#: Verdicts at quick scale under the interval rule, pinned so that a change is noticed.
#: MYV-univ-cos: the law holds (mean |cos − pred| ≈ 0.01–0.02), but the control with data off the
#: subspace trains only ~20 steps and stays within [0.07, 0.18] of the law: it does not flip.
#: MYV-univ-flip: at d = 400 the share flipped is 0.89 [0.83, 0.95] against the band >= 0.9.
#: MYV-fig2-distance and MYV-fig3-smaller-effect are inconclusive: see the two tests below.
#: MYV-fig2-dose: the off-line slope of the small-init advantage is −1.0 [−1.8, −0.10] (< 0), but its
#: control — the same jitter along the line, relabelled by the authors' rule — shrinks it too
#: (−2.2 [−3.6, −0.42]): the shrinking cannot be put down to leaving the subspace.
#: MYV-init-radius: both Spearman parts hold, but at equal margin the radius' slope in β is −1.04
#: [−1.17, −0.89] against −1 ± 0.15: it straddles the band edge.
#: MYV-off-vs-on: one data draw per member; at d = 160 the median r_off / r_on is 1.18 [0.995, 1.31]:
#: the interval, which now covers the data draw, straddles 1 (with one shared draw it was 1.17
#: [1.09, 1.26], a "fails" that rested on one data set).
#: MYV-off-scaling: the exponent of r_off/|f| is −0.054 [−0.11, 0.007] (inside ±0.25 of ≈ 0) and the
#: init-variance control's is −0.51 [−0.56, −0.45] (the predicted −½: it flips); but r_off is
#: 0.30–0.62 of the other-class distance at d = 160, straddling ½.
VERDICTS = {
    "MYV-gradlaw": "holds",
    "MYV-init-slope": "holds",
    "MYV-init-radius": "inconclusive",
    "MYV-wd-gradient": "holds",
    "MYV-wd-long": "holds",
    "MYV-wd-radius": "holds",
    "MYV-univ-cos": "inconclusive",
    "MYV-univ-flip": "inconclusive",
    "MYV-fig2-distance": "inconclusive",
    "MYV-fig2-dose": "inconclusive",
    "MYV-fig3-smaller-effect": "inconclusive",
    "AT-offsubspace": "holds",
    "MYV-off-vs-on": "inconclusive",
    "MYV-off-scaling": "inconclusive",
}
#: Simulation 01's identities are pinned in tests/test_sim01.py.
SIM01_IDS = {"MYV-frozen", "MYV-decay-sgd", "MYV-decay-momentum", "MYV-adam-axis"}


def test_every_subspace_claim_is_pinned() -> None:
    # the real-data claims (MYV-digits-*) are pinned in tests/test_real_data_sims.py
    mine = (pinned_claim_ids("MYV-") - pinned_claim_ids("MYV-digits-")) | pinned_claim_ids("AT-")
    assert mine == set(VERDICTS) | SIM01_IDS


@pytest.mark.parametrize("cid", tiered(VERDICTS))
def test_verdicts_and_every_negative_control_flips(quick: QuickRuns, cid: str) -> None:
    check_pinned(quick(sim_number(cid)), cid, VERDICTS[cid])


def _part(parts: tuple[Comparison, ...], word: str) -> Comparison:
    return next(p for p in parts if word in p.label)


@pytest.mark.slow
def test_fig2_small_init_effect_appears_off_the_line_too_and_stands_out_of_the_seed_noise(
    results06: Path,
) -> None:
    """A finding: small init enlarges the off-line boundary distance (paired per member), but as much
    with the points jittered off the line, so this claim cannot attribute the effect to the subspace
    mechanism (MYV-fig2-dose asks that across a jitter sweep); the seed noise floor straddles 0 as a
    true zero should; the weight-decay part is not resolved from 10 members."""
    res = check_pinned(results06, "MYV-fig2-distance", "inconclusive")
    assert _part(res.main.parts, "small_init").status == "holds"
    assert _part(res.main.parts, "regularised").status == "inconclusive"
    controls = {ctl.name: cmp for ctl, cmp in res.controls}
    assert _part(controls["data off the line"].parts, "small_init").status == "holds"
    noise = controls["another vanilla seed"]
    assert noise.status == "inconclusive" and noise.measured is not None


@pytest.mark.slow
def test_fig3_effect_is_smaller_on_the_affine_checkerboard_but_the_control_does_not_flip(
    results06: Path,
) -> None:
    """The small-init effect on the affine checkerboard is smaller than on the line (the figure's
    statement holds), but the same checkerboard at height 0 — a linear plane — is not resolved from
    the line either: the comparison with the line cannot attribute the smaller effect to the offset."""
    res = check_pinned(results06, "MYV-fig3-smaller-effect", "inconclusive")
    assert res.main.status == "holds"
    assert "did not flip" in res.note


@pytest.mark.parametrize(
    "stem",
    tiered_figures(
        [
            "fig02_gradient_law",
            "fig03_init_scale",
            "fig04_weight_decay",
            "fig05_universal_direction",
            "fig06_paper_figures",
            "fig15_off_vs_on_subspace",
        ]
    ),
)
def test_figures_draw(quick: QuickRuns, tmp_path: Path, stem: str) -> None:
    assert draw_quick(quick, stem, tmp_path) == "drawn"
    assert (tmp_path / f"{stem}.png").stat().st_size > 10_000


def test_gradient_law_is_exact_in_law_at_initialisation() -> None:
    """Across independent inits, ‖P⊥∇f(x)‖²/(σ_w² ρ(x)) ~ χ²_{ℓ⊥} (KS), and scales with β."""
    d, k, m = 40, 5, 64
    data = make_subspace_data(3, d, k, seed=0)
    X, _ = data.tensors(dtype=torch.float64)
    seeds = list(range(400))
    ens = init_ensemble(
        d, m, seeds=seeds, scheme="signs", bias="normal", bias_std=0.2, dtype=torch.float64
    )
    split = input_grad_split(ens, X, data.basis)
    pred = th.predicted_offsubspace_grad_norm(split["rho"].numpy(), 1 / d, d - k)
    z = (split["grad_off"].numpy()[:, 0] / pred[:, 0]) ** 2 * (d - k)
    assert stats.kstest(z, "chi2", args=(d - k,)).pvalue > 1e-3
    small = init_ensemble(
        d,
        m,
        seeds=seeds,
        scheme="signs",
        bias="normal",
        bias_std=0.2,
        first_scale=0.25,
        dtype=torch.float64,
    )
    small.b.copy_(ens.b * 0.25)  # same activation pattern at quarter scale
    ratio = input_grad_split(small, X, data.basis)["grad_off"] / split["grad_off"]
    torch.testing.assert_close(ratio, torch.full_like(ratio, 0.25))


def test_restricted_min_norm_is_exact_on_linear_models() -> None:
    """Off-subspace only: the exact radius of a linear model is |f| / ‖P⊥w‖."""
    U = np.linalg.qr(np.random.default_rng(1).standard_normal((7, 2)))[0]
    sub = Subspace.perp(U)
    gen = torch.Generator().manual_seed(5)
    lin = LinearEnsemble(
        torch.randn(2, 7, dtype=torch.float64, generator=gen),
        torch.randn(2, dtype=torch.float64, generator=gen),
    )
    X = torch.randn(20, 7, dtype=torch.float64, generator=gen)
    y = torch.sign(lin.forward(X)[0])
    res = MinNorm(norm="l2", restrict=sub, search_steps=0)(lin, X, y)
    exact = lin.forward(X).abs() / sub.project(lin.w).norm(dim=1)[:, None]
    ok = y * lin.forward(X) > 0
    torch.testing.assert_close(res.dist[ok], exact[ok], rtol=1e-6, atol=1e-12)
    torch.testing.assert_close(sub.project(res.delta), res.delta)


def test_boundary_distance_along_a_direction_is_exact_for_a_linear_model() -> None:
    """A two-neuron net with f(x) = relu(x₁) − relu(−x₁): its boundary is x₁ = 0."""
    from sims.measure import boundary_distance_along
    from sims.nets import TwoLayerEnsemble

    W = torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]], dtype=torch.float64)
    ens = TwoLayerEnsemble(
        W, torch.zeros(1, 2, dtype=torch.float64), torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    )
    X = torch.tensor([[0.5, 0.0], [-2.0, 1.0], [3.0, 0.0]], dtype=torch.float64)
    u = torch.tensor([-1.0, 1.0], dtype=torch.float64)  # x₁ decreases at rate 1/√2
    d = boundary_distance_along(ens, X, u, t_max=5.0)
    expected = torch.tensor(
        [[0.5 * np.sqrt(2), float("inf"), 3.0 * np.sqrt(2)]], dtype=torch.float64
    )
    assert torch.isinf(d[0, 1])
    torch.testing.assert_close(d[:, [0, 2]], expected[:, [0, 2]], rtol=1e-9, atol=1e-9)


def _law_arrays(
    d: int, k: int, m: int, n_points: int, members: int, scale: float = 1.0
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Arrays and setup of untrained networks (the gradient law holds exactly), in the layout of a
    simulation-02 record; ``scale`` multiplies the measured gradients (a broken law)."""
    data = make_subspace_data(n_points, d, k, seed=3)
    X, _ = data.tensors(dtype=torch.float64)
    ens = init_ensemble(
        d,
        m,
        seeds=list(range(members)),
        scheme="signs",
        bias="normal",
        bias_std=0.3,
        dtype=torch.float64,
    )
    split = input_grad_split(ens, X, data.basis)
    arrays = {
        "X_test": data.X,
        "W": ens.W.numpy(),
        "b": ens.b.numpy(),
        "a": ens.a.numpy(),
        "a0": ens.a.numpy(),
        "grad_off": scale * split["grad_off"].numpy(),
        "rho": split["rho"].numpy(),
        "active_share": (ens.preact(X) > 0).double().mean(-1).numpy(),
    }
    return arrays, {"d": d, "k": k, "m": m, "first_scale": 1.0}


def test_rho_free_size_matches_random_networks() -> None:
    """E‖P⊥∇f‖² = σ_w² ℓ⊥ Σ_j a_j(0)² p̄ over independent inits (theory.expected_offsubspace_grad_norm)."""
    a, s = _law_arrays(60, 6, 80, 5, 300)
    pred = th.expected_offsubspace_grad_norm(1 / 60, 54, 1.0, a["active_share"].mean())
    assert abs(np.sqrt(np.mean(a["grad_off"] ** 2)) / pred - 1) < 0.03
    iv = ps.rho_free_ratio(a, s)
    assert iv.lo < 1 < iv.hi
    assert th.typical_offsubspace_grad_norm(400, 390) == pytest.approx(np.sqrt(390 / 800))


def test_exponent_in_d_has_the_closed_form_of_two_points() -> None:
    d1, d2, k = 200, 800, 10
    expected = 0.5 * (np.log1p(-k / d2) - np.log1p(-k / d1)) / (np.log(d2) - np.log(d1))
    assert th.offsubspace_grad_exponent_in_d([d1, d2], k) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="two distinct"):
        th.offsubspace_grad_exponent_in_d([200, 200], k)
    with pytest.raises(ValueError, match="exceed"):
        th.offsubspace_grad_exponent_in_d([5, 200], k)


def test_the_exponent_part_fails_for_a_gradient_vanishing_with_d() -> None:
    """The 'not vanishing with d' part can fail: gradients shrinking like d^(−1/2) give exponent −½."""
    rng = np.random.default_rng(0)
    rows = []
    for d in (200, 400, 800):
        g = np.sqrt(rng.chisquare(d - 10, size=(12, 30)) / (2 * d)) * np.sqrt(200 / d)
        rows.append(({"d": d, "k": 10, "m": 500}, g))
    (part,) = ps.d_exponent_parts(rows)
    assert part.status == "fails" and part.measured == pytest.approx(-0.5, abs=0.05)
    flat = [(s, g * np.sqrt(s["d"] / 200)) for s, g in rows]
    assert ps.d_exponent_parts(flat)[0].status == "holds"


@pytest.mark.parametrize("codim_gt_n", [True, False])
def test_null_draws_of_the_gradient_law_match_direct_sampling(codim_gt_n: bool) -> None:
    """theory.offsubspace_grad_sq_null (Bartlett / direct) against Σ_j c_ij g_j with Gaussian g_j:
    means, variances and the covariance between points of one network."""
    rng = np.random.default_rng(1)
    C = rng.standard_normal((5, 30)) * (rng.random((5, 30)) > 0.5)
    codim = 40 if codim_gt_n else 3
    G = rng.standard_normal((20000, 30, codim)) * np.sqrt(0.3)
    direct = ((C[None] @ G) ** 2).sum(-1)
    drawn = th.offsubspace_grad_sq_null(C, 0.3, codim, rng, 20000)
    np.testing.assert_allclose(drawn.mean(0), direct.mean(0), rtol=0.03)
    np.testing.assert_allclose(drawn.var(0), direct.var(0), rtol=0.08)
    np.testing.assert_allclose(
        np.cov(drawn.T), np.cov(direct.T), rtol=0.15, atol=0.05 * direct.var()
    )


def test_cluster_aware_ks_accepts_the_law_and_rejects_a_scaled_gradient() -> None:
    """The χ² part: untrained networks satisfy the law (p not small); gradients 10% too large fail."""
    a, s = _law_arrays(120, 10, 200, 20, 16)
    _, p = ps.chi2_cluster_ks(a, s, draws=200)
    assert p > 0.01
    bad, _ = _law_arrays(120, 10, 200, 20, 16, scale=1.1)
    _, p_bad = ps.chi2_cluster_ks(bad, s, draws=200)
    assert p_bad < 0.01


def test_weight_decay_identity_is_within_rounding_and_a_factor_off_by_1e_9_is_not() -> None:
    """MYV-wd-gradient's band is the forward-error bound of the computed off-subspace gradient: a
    long decay (factor ~3e-3) stays inside it at every point, and the same arrays checked against a
    decay factor wrong by one part in 1e9 fall outside it."""
    from dataclasses import replace

    from sims.subspace_runs import SubspaceSetup, gradient_arrays, train_setup

    s = SubspaceSetup(
        d=40,
        k=5,
        m=60,
        n=30,
        n_test=20,
        n_seeds=3,
        lr=0.5,
        weight_decay=0.01,
        steps=1200,
        stop_accuracy=None,
        dtype="float64",
    )
    a = gradient_arrays(train_setup(replace(s)))
    factor = th.weight_decay_factor(s.lr, s.weight_decay, a["steps_taken"])[:, None]
    assert float(factor.max()) < 1e-2
    assert float(ps.weight_decay_error_ratio(a, factor).max()) <= 1.0
    assert float(ps.weight_decay_error_ratio(a, factor * (1 + 1e-9)).min()) > 1.0


@pytest.mark.slow
def test_fig2_dose_response_shrinks_off_the_line_and_along_it_too(results06: Path) -> None:
    """The small-init advantage falls with the off-line jitter (slope < 0 with its interval), and as
    much when the points move along the line and stay on the subspace: the control holds, so the
    shrinking is not attributed to leaving the subspace (inconclusive)."""
    res = check_pinned(results06, "MYV-fig2-dose", "inconclusive")
    assert res.main.status == "holds"
    ((_, control),) = res.controls
    assert control.status == "holds"


def test_long_decay_law_tells_the_discrete_law_from_gradient_flow_and_needs_depth() -> None:
    """MYV-wd-long's check: the exact discrete law holds; the gradient-flow law e^{−ηλT} — one gap
    away by construction — fails; a run that has not decayed to 1e-3 cannot be read."""
    lr, lam, T = 1.0, 3e-3, np.full(6, 4000)

    def run(ratio: np.ndarray, steps: np.ndarray = T) -> RunRecord:
        cfg = {"setup": {"lr": lr, "weight_decay": lam}, "condition": "gd-long"}
        return cast(RunRecord, FakeRun(cfg, {"steps_taken": steps, "perp_ratio": ratio}))

    exact = th.weight_decay_factor(lr, lam, T)
    assert ps.long_decay_check([run(exact * (1 + 1e-12))]).status == "holds"
    flow = th.gradient_flow_factor(lam, lr * T)
    res = ps.long_decay_check([run(flow)])
    assert res.status == "fails" and res.measured == pytest.approx(1.0, rel=1e-6)
    short = np.full(6, 400)
    assert (
        ps.long_decay_check([run(th.weight_decay_factor(lr, lam, short), short)]).measured is None
    )
