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
from sims.measure import end_below_peak, gradient_alignment, trained_peak
from sims.methods import FastAT
from sims.nets import LinearEnsemble, TwoLayerEnsemble, init_ensemble
from sims.optim import OptimizerConfig
from sims.records import RunStore
from sims.simulation import SCALES
from sims.threat import L2Ball, LinfBall
from sims.training import (
    OverfitGuard,
    TrainConfig,
    TrainResult,
    cyclic_factor,
    guard_replay,
    train,
)
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
    robust accuracy collapses — a controlled stand-in for catastrophic overfitting. Member ``spare``
    (−1: none) is left to train normally."""

    turn: int = 10
    spare: int = -1

    def loss_grads(
        self, ens: TwoLayerEnsemble, X: torch.Tensor, y: torch.Tensor, step: int = 0
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss, grads = super().loss_grads(ens, X, y, step)
        if step >= self.turn:
            flip = torch.full((ens.M,), -5.0, dtype=ens.W.dtype)
            if self.spare >= 0:
                flip[self.spare] = 1.0
            grads = {k: flip.view(-1, *([1] * (v.ndim - 1))) * v for k, v in grads.items()}
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


def test_guard_replay_is_the_guarded_run_cut_at_the_first_fall() -> None:
    """Simulation 13 runs the guard out of reach and replays it (:func:`guard_replay`): on minibatch
    training with the cyclic schedule, the guarded run stops each member at the replayed check, with
    the unguarded run's weights of the check before — bit for bit; a member left to train normally
    goes on while the others are stopped, exactly as in the unguarded run."""
    X, y = _problem()
    method = Sabotage(norm="linf", eps=0.05, turn=12, seed=0, spare=3)
    steps, every = 48, 4

    def keep(e: TwoLayerEnsemble) -> dict[str, torch.Tensor]:
        return {"W": e.W.clone(), "b": e.b.clone(), "a": e.a.clone()}

    def run(drop: float) -> tuple[TwoLayerEnsemble, TrainResult]:
        ens = init_ensemble(6, 16, seeds=[0, 1, 2, 3], dtype=D64)
        cfg = TrainConfig(
            steps=steps,
            optimizer=OptimizerConfig(name="heavy_ball", lr=0.3),
            batch_size=32,
            lr_schedule="cyclic",
            method=method,
            guard=OverfitGuard(every=every, drop=drop, n_points=80),
        )
        res = train(
            ens, X, y, cfg, seeds=[0, 1, 2, 3], measure=keep, measure_at=range(0, steps + 1, every)
        )
        return ens, res

    guarded, g = run(0.2)
    free_ens, free = run(2.0)
    assert free.guard_acc is not None and free.guard_checks is not None and g.guard_step is not None
    assert np.all(free.guard_step == -1)
    fired = guard_replay(free.guard_acc, 0.2)
    assert np.all(fired[:3] >= 2), fired  # the sabotage makes every sabotaged member collapse
    assert fired[3] == -1 and g.guard_step[3] == -1, fired  # the spare member trains on, unguarded
    for i, c in enumerate(fired):
        for name in ("W", "b", "a"):
            got = getattr(guarded, name)[i].numpy()
            if c < 0:
                np.testing.assert_array_equal(got, getattr(free_ens, name)[i].numpy())
                continue
            assert g.guard_step[i] == free.guard_checks[c]
            np.testing.assert_array_equal(got, free.history[name][c - 1, i])
    # with a drop out of reach of every member, the replay never fires and the weights are the run's
    assert np.all(guard_replay(free.guard_acc, 5.0) == -1)
    np.testing.assert_array_equal(free_ens.W.numpy(), free.history["W"][-1])
    # the guarded run's own record agrees up to the firing check
    assert g.guard_acc is not None
    c0 = int(fired[fired >= 0].min())
    np.testing.assert_array_equal(g.guard_acc[:c0], free.guard_acc[:c0])


def test_guard_replay_and_end_below_peak_by_hand() -> None:
    acc = np.array([[0.1, 0.0, 0.6], [0.5, 0.2, 0.3], [0.2, 0.25, 0.3], [0.6, 0.1, 0.3]])
    # member 0 falls 0.3 at check 2; member 1 never by more than 0.15; member 2 falls 0.3 from check 0
    # to check 1, which the guard does not compare (training began after check 0)
    np.testing.assert_array_equal(guard_replay(acc, 0.2), [2, -1, -1])
    np.testing.assert_array_equal(guard_replay(acc, 0.0), [2, 3, -1])
    np.testing.assert_allclose(end_below_peak(acc), [0.0, 0.15, 0.3])
    np.testing.assert_allclose(end_below_peak(acc, np.array([2, 3, 3])), [0.3, 0.15, 0.3])
    # a peak below peak_min never collapses
    np.testing.assert_allclose(
        end_below_peak(acc, np.array([2, 3, 3]), peak_min=0.3), [0.3, 0.0, 0.3]
    )
    # only trained checks hold the peak; the end always counts, so a fall is never negative
    clean = np.array([[0.5, 0.5, 0.5], [0.5, 0.9, 0.9], [0.9, 0.9, 0.9], [0.9, 0.7, 0.9]])
    peak, at = trained_peak(acc, clean=clean, clean_min=0.8)
    np.testing.assert_allclose(peak, [0.6, 0.25, 0.3])
    np.testing.assert_array_equal(at, [3, 2, 1])
    np.testing.assert_allclose(end_below_peak(acc, clean=clean, clean_min=0.8), [0.0, 0.15, 0.0])
    np.testing.assert_allclose(
        end_below_peak(acc, np.array([2, 1, 1]), clean=clean, clean_min=0.95), 0.0
    )
    # a textbook collapse: clean accuracy rises while the robust accuracy falls
    pgd = np.array([[0.1], [0.5], [0.55], [0.05], [0.04]])
    rising = np.array([[0.5], [0.7], [0.75], [0.9], [0.93]])
    np.testing.assert_allclose(end_below_peak(pgd, clean=rising, clean_min=0.6), [0.51])
    with pytest.raises(AdvsimError, match="end"):
        end_below_peak(acc, np.array([4, 0, 0]))
    with pytest.raises(AdvsimError, match="clean"):
        trained_peak(acc, clean=clean[:2])
    with pytest.raises(AdvsimError, match="guard_acc"):
        guard_replay(np.zeros(3), 0.2)


def test_cyclic_schedule_peaks_at_two_fifths_with_no_zero_step() -> None:
    f = [cyclic_factor(t, 10) for t in range(10)]
    assert (
        f[3] == pytest.approx(1.0) and f[0] == pytest.approx(0.25) and f[-1] == pytest.approx(0.1)
    )
    assert all(v > 0 for v in f) and f[:4] == sorted(f[:4]) and f[3:] == sorted(f[3:], reverse=True)
    with pytest.raises(AdvsimError, match="lr_schedule"):
        TrainConfig(steps=1, lr_schedule="cosine")
    with pytest.raises(AdvsimError, match="step"):
        cyclic_factor(10, 10)


def test_gradient_alignment_is_one_for_a_linear_net_and_matches_autograd() -> None:
    gen = torch.Generator().manual_seed(3)
    X = torch.randn(20, 5, dtype=D64, generator=gen)
    ens = init_ensemble(5, 8, seeds=[0, 1], dtype=D64)
    ball = LinfBall(eps=0.3)
    # every unit active on the whole ball: f is linear there, the gradients are equal
    lin = TwoLayerEnsemble(ens.W, ens.b + 100.0, ens.a)
    np.testing.assert_allclose(gradient_alignment(lin, X, ball).numpy(), 1.0, rtol=0, atol=1e-12)
    got = gradient_alignment(ens, X, ball, seed=5)
    eta = ball.random_start(X.expand(2, 20, 5), 5)
    want = []
    for i in range(2):
        net = TwoLayerEnsemble(ens.W[i : i + 1], ens.b[i : i + 1], ens.a[i : i + 1])
        gs = []
        for pts in (X, X + eta[i]):
            x = pts.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(net.forward(x[None]).sum(), x)
            gs.append(g)
        cos = torch.nn.functional.cosine_similarity(gs[0], gs[1], dim=-1)
        want.append(float(cos.mean()))
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-12)


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
#: fast ℓ2 AT trails by 3.9 points, interval [2.0, 6.0], inconclusive (the sparse part holds). The map
#: (simulation 13, digits): no cell's test PGD accuracy falls from a trained peak (FAST-overfitting
#: fails: largest cell mean 0.008, interval [0.001, 0.018]); the radii split into robust (0.35 of the
#: cap: fast AT 0.74–0.78 to the end, PGD-AT 0.66) and never robust (half the cap: test PGD ≤ 0.08 at
#: the trained peak for every method, PGD-AT included, while FGSM accuracy ends at 0.30–0.35 — the end
#: state of a collapse without the collapse). With nothing collapsing, the guard, the random start and
#: the alignment have nothing to act on (inconclusive);
#: ``test_map_checks_judge_a_collapse_and_their_controls_flip`` shows those checks on a collapse.
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
    "FAST-random-start": "inconclusive",
    "FAST-alignment": "inconclusive",
}


def test_every_fast_claim_is_pinned() -> None:
    assert pinned_claim_ids("FAST-") == set(VERDICTS)


@pytest.mark.parametrize("cid", tiered(VERDICTS))
def test_fast_verdicts_and_every_negative_control_flips(quick: QuickRuns, cid: str) -> None:
    check_pinned(quick(sim_number(cid)), cid, VERDICTS[cid])


#: Why the map's comparisons are inconclusive at quick: nothing collapses (not missing records).
NOTHING_COLLAPSES = ("FAST-guard", "FAST-random-start", "FAST-alignment")


@pytest.mark.parametrize("cid", tiered(NOTHING_COLLAPSES))
def test_map_comparisons_are_inconclusive_because_nothing_collapses(
    quick: QuickRuns, cid: str
) -> None:
    res = check_pinned(quick(sim_number(cid)), cid, "inconclusive")
    assert "collapses" in res.main.reason and res.main.n_runs > 0, res.main


@pytest.mark.parametrize(
    "stem",
    tiered_figures(["fig11_fgsm_rs_statistics", "fig12_fast_vs_pgd", "fig13_overfitting_map"]),
)
def test_fast_figures_draw(quick: QuickRuns, tmp_path: Path, stem: str) -> None:
    assert draw_quick(quick, stem, tmp_path) == "drawn"


# ----------------------------------------------------------------------------- the map's checks, by hand
def _map_cell(
    root: Path,
    method: str,
    frac: float,
    pgd: list[float],
    *,
    clean: float | np.ndarray = 0.9,
    fired: int = -1,
) -> None:
    """A fake simulation-13 cell of 8 members: the members' test PGD trajectory ``pgd`` (one value per
    check, plus a little member noise), FGSM rising where PGD falls, the alignment following PGD."""
    rng = np.random.default_rng(len(pgd) + int(100 * frac) + len(method))
    C, M = len(pgd), 8
    p = np.clip(np.asarray(pgd)[:, None] + rng.uniform(-0.02, 0.02, (C, M)), 0, 1)
    peak = np.maximum.accumulate(p, axis=0)
    arrays = {
        "checks": np.arange(C) * 10,
        "pgd": p,
        "clean": np.broadcast_to(np.asarray(clean, dtype=float).reshape(-1, 1), (C, M)).copy()
        if np.ndim(clean)
        else np.full((C, M), clean),
        "fgsm": np.clip(p + (peak - p), 0, 1),
        "align": 0.98 - (peak - p),
        "guard_acc": p,
        "guard_fired": np.full(M, fired),
        "pgd_guarded": p[fired - 1 if fired >= 0 else -1],
        "train_acc": np.full(M, 0.9),
        "test_acc": np.full(M, 0.9),
    }
    cond = f"digits-{method}-f{frac:g}"
    config = {"condition": cond, "data": "digits", "method": method, "frac": frac}
    RunStore(root, "13_overfitting_map").write(
        cond,
        {
            "config": config,
            "metrics": {"eps": frac * 0.375, "clean_min": 0.6},
            "scale": "quick",
            "status": "ok",
        },
        arrays,
    )


RISE_AND_COLLAPSE = [0.1, 0.4, 0.6, 0.62, 0.3, 0.05, 0.04, 0.05]
STEADY = [0.1, 0.4, 0.6, 0.62, 0.62, 0.63, 0.62, 0.63]


@pytest.mark.parametrize(
    "case", ["collapse", "clean_rises", "untrained_peak", "guard_late", "guard_untrained"]
)
def test_map_checks_judge_a_collapse_and_their_controls_flip(tmp_path: Path, case: str) -> None:
    """The four map claims on hand-made cells: a rise-and-collapse of zero-init FGSM and FGSM-RS with
    α = 2ε at half the cap, FGSM-RS α = 1.25ε steady, nothing at the smallest radius. The guard fires
    at the fall (or, ``guard_late``, only after the collapse has ended the run); ``clean_rises``: the
    clean accuracy climbs from 0.65 to 0.95 through the collapse (it still counts); ``untrained_peak``:
    the clean accuracy stays at the level of one class for every point until the end — an untrained
    net's robustness, which must not count; ``guard_untrained``: the guard fires at check 2 and keeps
    check 1, where a net still at one class's level (clean 0.5) has test PGD 0.55 — it kept nothing."""
    from paper_checks.claims import evaluate
    from paper_checks.registry import CLAIMS

    fired = {"guard_late": 7, "guard_untrained": 2}.get(case, 4)
    for method in ("fgsm", "rs1.25", "rs2"):
        _map_cell(tmp_path, method, 0.2, [0.1, 0.7, 0.8, 0.8, 0.8, 0.81, 0.8, 0.8])
        traj = STEADY if method == "rs1.25" else RISE_AND_COLLAPSE
        clean: float | np.ndarray = 0.9
        if case == "clean_rises":
            clean = np.linspace(0.65, 0.95, len(traj))
        elif case == "guard_untrained":  # the guard fires at check 2 and keeps check 1, untrained
            clean = np.array([0.5, 0.5, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
            traj = [traj[0], 0.55, *traj[2:]]
        _map_cell(
            tmp_path, method, 0.5, traj, clean=clean, fired=-1 if method == "rs1.25" else fired
        )
    if case == "untrained_peak":  # clean accuracy 0.5 (one class) until the end, then 0.9
        for r in RunStore(tmp_path, "13_overfitting_map").records():
            a = {k: np.array(v) for k, v in r.arrays().items()}
            a["clean"][:-1] = 0.5
            RunStore(tmp_path, "13_overfitting_map").write(r.key, dict(r.data), a)
    got = {
        c.id: evaluate(c, tmp_path, scale="quick") for c in CLAIMS if c.sim == "13_overfitting_map"
    }
    assert set(got) == {"FAST-overfitting", "FAST-guard", "FAST-random-start", "FAST-alignment"}
    if case == "untrained_peak":
        assert got["FAST-overfitting"].verdict == "fails", got["FAST-overfitting"].main
        assert {got[c].verdict for c in got if c != "FAST-overfitting"} == {"inconclusive"}
        return
    assert got["FAST-overfitting"].verdict == "holds", got["FAST-overfitting"].note
    assert got["FAST-random-start"].verdict == "holds", got["FAST-random-start"].note
    assert got["FAST-alignment"].verdict == "holds", got["FAST-alignment"].note
    for cid in ("FAST-overfitting", "FAST-random-start", "FAST-alignment", "FAST-guard"):
        assert all(cmp.status == "fails" for _, cmp in got[cid].controls), (cid, got[cid].controls)
    late = case in ("guard_late", "guard_untrained")
    assert got["FAST-guard"].verdict == ("fails" if late else "holds"), got["FAST-guard"].note


def test_map_constants_agree_between_simulation_checks_and_figure() -> None:
    from figures import fig13_overfitting_map as fig
    from paper_checks import fast_at as checks

    sim = importlib.import_module("sims.13_overfitting_map")
    assert checks.PEAK_MIN == sim.PEAK_MIN == fig.PEAK_MIN
    assert checks.SMALLEST_FRAC == sim.FRACTIONS[0] == sim.QUICK_FRACTIONS[0]
    assert checks.COLLAPSE == sim.DROP
