"""The benchmark harness compares like with like: its naive baselines compute advsim's numbers."""

from __future__ import annotations

import torch

from benchmarks import naive
from benchmarks.cases import adjacent, check_train_identical, fraction_of_peak, interleaved
from sims.attacks import PGD
from sims.nets import init_ensemble
from sims.threat import L2Ball


def test_naive_training_loop_equals_advsim() -> None:
    assert check_train_identical(d=5, m=4, n=30) < 1e-9


def test_naive_pgd_loop_equals_advsim_textbook_pgd() -> None:
    ens = init_ensemble(6, 5, seeds=[0, 1], bias="normal", bias_std=0.2, dtype=torch.float64)
    X = torch.randn(15, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.sign(ens.forward(X)[0])
    threat = L2Ball(0.4)
    attack = PGD(steps=7, keep_best=False)
    ours = attack(ens, X, y, threat).delta
    start = threat.project(threat.random_start(X, seed=0).expand(2, *X.shape))
    ref = naive.pgd_l2_loop(
        naive.make_modules(ens.W, ens.b, ens.a),
        X,
        y,
        start,
        eps=0.4,
        steps=7,
        alpha=attack.alpha * 0.4,
    )
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)


class _Clock:
    """A fake clock that the timed function advances: timing arithmetic without wall-clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_interleaved_reads_the_probe_around_every_timed_call() -> None:
    clock, log = _Clock(), []
    durations = iter([9.0, 1.0, 2.0, 4.0])  # the first is the warm-up's

    def fn() -> None:
        clock.now += next(durations)
        log.append("call")

    readings = iter([10.0, 20.0, 5.0, 40.0])

    def probe() -> float:
        log.append("probe")
        return next(readings)

    times, probes = interleaved(fn, probe, repeats=3, clock=clock)
    assert times == [1.0, 2.0, 4.0] and probes == [10.0, 20.0, 5.0, 40.0]
    assert log == ["call", "probe", "call", "probe", "call", "probe", "call", "probe"]
    assert adjacent(probes, max) == [20.0, 20.0, 40.0]
    assert adjacent(probes, min) == [10.0, 5.0, 5.0]


def test_fraction_of_peak_holds_each_call_against_its_own_peak() -> None:
    """Calls of 1, 2 and 4 s at 100 GFLOP each against peaks 10, 20, 5, 40 read around them: 100/20,
    50/20 and 25/40 of the higher neighbouring peak — not one fraction against one peak reading."""
    clock = _Clock()
    durations = iter([0.5, 1.0, 2.0, 4.0])
    readings = iter([10.0, 20.0, 5.0, 40.0])

    def fn() -> None:
        clock.now += next(durations)

    r = fraction_of_peak(fn, 100e9, peak=lambda: next(readings), clock=clock)
    assert r["advsim_s"] == 2.0 and r["advsim_gflops"] == 50.0
    assert r["advsim_fraction_of_peak"] == 2.5
    assert r["fraction_of_peak_range"] == [0.625, 5.0]
    assert r["peak_gflops"] == 15.0 and r["peak_gflops_range"] == [5.0, 40.0]
