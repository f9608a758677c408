"""Fast adversarial training: the catastrophic-overfitting guard and the exact one-step statistics."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from sims.attacks import PGD
from sims.errors import AdvsimError
from sims.methods import FastAT
from sims.nets import LinearEnsemble, TwoLayerEnsemble, init_ensemble
from sims.optim import OptimizerConfig
from sims.simulation import SCALES
from sims.threat import L2Ball, LinfBall
from sims.training import OverfitGuard, TrainConfig, train
from tests.pinned import (
    QuickRuns,
    check_pinned,
    draw_quick,
    pinned_claim_ids,
    sim_number,
    tiered,
    tiered_figures,
)
from theory import fast_at as th

D64 = torch.float64


@dataclass(frozen=True, kw_only=True)
class Sabotage(FastAT):
    """FastAT whose update is reversed from step ``turn`` on: it climbs the adversarial loss, so
    robust accuracy collapses — a controlled stand-in for catastrophic overfitting."""

    turn: int = 10

    def loss_grads(
        self, ens: TwoLayerEnsemble, X: torch.Tensor, y: torch.Tensor, step: int = 0
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss, grads = super().loss_grads(ens, X, y, step)
        if step >= self.turn:
            grads = {k: -5.0 * v for k, v in grads.items()}
        return loss, grads


def _problem() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(80, 6, dtype=D64, generator=gen)
    return X, torch.sign(X[:, 0] + 0.5 * X[:, 1])


def test_guard_restores_the_previous_weights_and_stops_the_member() -> None:
    X, y = _problem()
    ens = init_ensemble(6, 16, seeds=[0, 1], dtype=D64)
    method = Sabotage(norm="linf", eps=0.05, turn=10, seed=0)
    guard = OverfitGuard(every=5, drop=0.2, n_points=80)

    def keep(e: TwoLayerEnsemble) -> dict[str, torch.Tensor]:
        return {"W": e.W.clone()}

    res = train(
        ens,
        X,
        y,
        TrainConfig(steps=60, optimizer=OptimizerConfig(lr=0.5), method=method, guard=guard),
        measure=keep,
        measure_at=range(0, 61, 5),
    )
    assert res.guard_step is not None and res.guard_acc is not None
    assert np.all(res.guard_step > 10), res.guard_step  # fired after the sabotage began, per member
    for i, s in enumerate(res.guard_step):
        # the member's final weights are those of the check before the one that fired
        before = res.history["W"][res.measure_steps.index(int(s) - guard.every), i]
        np.testing.assert_array_equal(ens.W[i].numpy(), before)
        assert res.steps_taken[i] == s - guard.every
        assert res.stopped[i]
    # without the guard the same run ends with collapsed robust accuracy
    ens2 = init_ensemble(6, 16, seeds=[0, 1], dtype=D64)
    train(ens2, X, y, TrainConfig(steps=60, optimizer=OptimizerConfig(lr=0.5), method=method))
    ok = PGD(steps=10)(ens2, X, y, LinfBall(eps=0.05)).margin > 0
    ok_guarded = PGD(steps=10)(ens, X, y, LinfBall(eps=0.05)).margin > 0
    assert bool(torch.all(ok.double().mean(1) < ok_guarded.double().mean(1)))


def test_guard_never_fires_on_healthy_training_and_needs_an_adversarial_method() -> None:
    X, y = _problem()
    ens = init_ensemble(6, 16, seeds=[0, 1], dtype=D64)
    cfg = TrainConfig(
        steps=30,
        optimizer=OptimizerConfig(lr=0.5),
        method=FastAT(norm="linf", eps=0.05, start="uniform"),
        guard=OverfitGuard(every=3),
    )
    res = train(ens, X, y, cfg)
    assert res.guard_step is not None and np.all(res.guard_step == -1)
    assert res.guard_acc is not None and res.guard_acc.shape == (11, 2)
    with pytest.raises(AdvsimError, match="guard needs an adversarial training method"):
        TrainConfig(steps=1, guard=OverfitGuard())
    with pytest.raises(AdvsimError, match="drop must be"):
        OverfitGuard(drop=-0.1)


def _one_step(threat: LinfBall | L2Ball, a: float, d: int, n: int = 400) -> torch.Tensor:
    """FastAT's own inner attack (one random-start step of ``a·ε``) on linear models with random
    gradients: the perturbation it trains on."""
    gen = torch.Generator().manual_seed(d)
    lin = LinearEnsemble(torch.randn(2, d, dtype=D64, generator=gen), torch.zeros(2, dtype=D64))
    X = torch.randn(n, d, dtype=D64, generator=gen)
    y = torch.ones(n, dtype=D64)
    atk = FastAT(norm="linf", eps=1.0, alpha=a).attack()
    return atk(lin, X, y, threat).delta


@pytest.mark.parametrize("a", [0.5, 1.25, 2.0, 3.0])
def test_fgsm_rs_leaves_a_over_two_coordinates_at_the_bound(a: float) -> None:
    delta = _one_step(LinfBall(eps=1.0), a, d=200)
    share = (delta.abs() >= 1.0 - 1e-12).double().mean().item()
    n = delta.numel()
    p = th.fgsm_rs_clip_share(a)
    assert abs(share - p) <= 4 * np.sqrt(max(p * (1 - p), 1e-12) / n) + 1e-12


@pytest.mark.parametrize("start", ["radius", "uniform", "sphere"])
def test_l2_starts_follow_their_radius_laws(start: str) -> None:
    d = 30
    th_ = L2Ball(eps=1.0, start=start)
    X = torch.randn(3000, d, dtype=D64, generator=torch.Generator().manual_seed(1))
    r = th_.random_start(X, seed=3).norm(dim=-1).numpy().ravel()
    if start == "sphere":
        np.testing.assert_allclose(r, 1.0)
        return
    p = stats.kstest(r, lambda t: th.start_radius_cdf(start, t, d)).pvalue
    assert p > 1e-3
    other = "uniform" if start == "radius" else "radius"  # the wrong law is rejected
    assert stats.kstest(r, lambda t: th.start_radius_cdf(other, t, d)).pvalue < 1e-6


def test_l2_fast_steps_land_on_the_sphere_in_high_dimension() -> None:
    for d, start in ((100, "uniform"), (100, "radius"), (400, "radius")):
        delta = _one_step(L2Ball(eps=1.0, start=start), 1.25, d=d)
        on = (delta.norm(dim=-1) >= 1.0 - 1e-9).double().mean().item()
        assert on >= 1.0 - th.l2_fast_on_sphere_bound(1.25, d) - 1e-12
        assert on == 1.0
    assert th.l2_fast_on_sphere_bound(1.25, 100) < 1e-7
    assert th.l2_fast_on_sphere_bound(0.9, 100) == 1.0


# ----------------------------------------------------------------------------- simulations 11–13
SIMS = ("11_fgsm_rs_statistics", "12_fast_vs_pgd", "13_overfitting_map")


@pytest.mark.parametrize("name", SIMS)
def test_every_rung_has_its_own_grid(name: str) -> None:
    """``medium`` is its own grid — more members than ``quick`` and not the paper grid — and the
    comparisons (simulations 12, 13) have at least 8 members at ``quick``."""
    sim = importlib.import_module(f"sims.{name}")
    grids = {s: sim.configs(s) for s in SCALES}
    seeds = {s: min(c.n_seeds for c in g) for s, g in grids.items()}
    assert grids["medium"] != grids["quick"] and grids["medium"] != grids["paper"]
    assert seeds["medium"] > seeds["quick"]
    if name != "11_fgsm_rs_statistics":
        assert seeds["quick"] >= 8


def test_fast_and_pgd_rows_share_data_and_member_seeds() -> None:
    """Simulation 12's rows of one data set differ only in the training method: the same data, member
    seeds and attacked points (what the paired intervals of FAST-vs-PGD need)."""
    sim = importlib.import_module("sims.12_fast_vs_pgd")
    for scale in SCALES:
        cfgs = sim.configs(scale)
        sub = {
            replace(sim.subspace_setup(c), at_eps=0.0, at_norm="l2", at_steps=10, at_method="pgd")
            for c in cfgs
            if c.data == "subspace"
        }
        sparse = {sim.sparse_setup(c) for c in cfgs if c.data == "sparse"}
        assert len(sub) == 1 and len(sparse) == 1
        assert len({(c.n_seeds, c.n_eval) for c in cfgs}) == 1


#: Verdicts at quick scale under the interval rule (8 members, 300 attacked points). FAST-vs-PGD-linf:
#: on the sparse codes FGSM-RS trails PGD-10 AT by 6.0 points, 95% interval [4.3, 7.9] — it straddles
#: the 5-point band edge, so inconclusive (the subspace part holds). FAST-vs-PGD-l2: on the subspace data
#: fast ℓ2 AT trails by 3.9 points, interval [2.0, 6.0], inconclusive (the sparse part holds). No
#: catastrophic overfitting anywhere on the map (FAST-overfitting fails: largest cell's mean fall 0.024,
#: interval [0.019, 0.031], far below 0.2), so the guard has nothing to prevent and its check cannot be
#: told from its control (FAST-guard, inconclusive).
VERDICTS = {
    "FAST-clip-share": "holds",
    "FAST-l2-sphere": "holds",
    "FAST-start-laws": "holds",
    "FAST-vs-PGD-linf": "inconclusive",
    "FAST-vs-PGD-l2": "inconclusive",
    "FAST-aligned-l2-subspace": "holds",
    "FAST-aligned-l2-sparse": "holds",
    "FAST-overfitting": "fails",
    "FAST-guard": "inconclusive",
}


def test_every_fast_claim_is_pinned() -> None:
    assert pinned_claim_ids("FAST-") == set(VERDICTS)


@pytest.mark.parametrize("cid", tiered(VERDICTS))
def test_fast_verdicts_and_every_negative_control_flips(quick: QuickRuns, cid: str) -> None:
    check_pinned(quick(sim_number(cid)), cid, VERDICTS[cid])


@pytest.mark.parametrize(
    "stem",
    tiered_figures(["fig11_fgsm_rs_statistics", "fig12_fast_vs_pgd", "fig13_overfitting_map"]),
)
def test_fast_figures_draw(quick: QuickRuns, tmp_path: Path, stem: str) -> None:
    assert draw_quick(quick, stem, tmp_path) == "drawn"
