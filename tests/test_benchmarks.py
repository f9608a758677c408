"""The benchmark harness compares like with like: its naive baselines compute advsim's numbers."""

from __future__ import annotations

from collections.abc import Callable

import torch

from benchmarks import naive
from benchmarks.cases import (
    between_readings,
    check_train_identical,
    fraction_of_peak,
    median_call,
    ratio_to_reference,
)
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

    def advancing(self, durations: list[float], log: list[str] | None = None) -> Callable[[], None]:
        """A function whose calls take ``durations`` in turn (the first is the warm-up's)."""
        left = iter(durations)

        def fn() -> None:
            self.now += next(left)
            if log is not None:
                log.append("call")

        return fn


def test_each_call_lies_between_two_readings() -> None:
    clock, log = _Clock(), list[str]()
    fn = clock.advancing([9.0, 1.0, 2.0, 4.0], log)
    readings = iter([10.0, 20.0, 5.0, 40.0])

    def probe() -> float:
        log.append("probe")
        return next(readings)

    pairs = between_readings(fn, probe, max, repeats=3, clock=clock)
    assert pairs == [(1.0, 20.0), (2.0, 20.0), (4.0, 40.0)]
    assert log == ["call", "probe", "call", "probe", "call", "probe", "call", "probe"]
    clock = _Clock()
    readings = iter([10.0, 20.0, 5.0, 40.0])
    fn = clock.advancing([9.0, 1.0, 2.0, 4.0])
    assert between_readings(fn, lambda: next(readings), min, repeats=3, clock=clock) == [
        (1.0, 10.0),
        (2.0, 5.0),
        (4.0, 5.0),
    ]


def test_median_call_reports_one_call() -> None:
    pairs = [(1.0, 20.0), (2.0, 20.0), (4.0, 40.0), (8.0, 1.0)]
    # values 20, 10, 10, 0.125: sorted 0.125, 10 (call 1), 10 (call 2), 20 — the lower middle is call 1
    assert median_call(pairs, lambda t, r: r / t) == (2.0, 20.0, 10.0, [0.125, 20.0])


def test_fraction_of_peak_holds_each_call_against_its_own_peak() -> None:
    """Calls of 1, 2 and 4 s at 100 GFLOP each against peaks 10, 20, 5, 40 read around them: 100/20,
    50/20 and 25/40 of the higher neighbouring peak — not one fraction against one peak reading, nor
    against the lower or only the earlier neighbour."""
    clock = _Clock()
    readings = iter([10.0, 20.0, 5.0, 40.0])
    fn = clock.advancing([0.5, 1.0, 2.0, 4.0])
    r = fraction_of_peak(fn, 100e9, peak=lambda: next(readings), clock=clock)
    assert r["advsim_fraction_of_peak"] == 2.5 and r["fraction_of_peak_range"] == [0.625, 5.0]
    # the median call's own numbers: 50 GFLOP/s over its peak 20 is the fraction reported
    assert r["advsim_gflops"] == 50.0 and r["peak_gflops"] == 20.0
    assert r["peak_gflops_range"] == [20.0, 40.0]


def test_ratio_to_reference_holds_each_call_against_the_faster_reference() -> None:
    """Steps of 3, 6 and 2 s between reference timings 2, 4, 3, 1: against the faster neighbour the
    ratios are 1.5, 2 and 2 (the slower would give 0.75, 1.5, 0.67; the earlier one 1.5, 1.5, 0.67)."""
    clock = _Clock()
    readings = iter([2.0, 4.0, 3.0, 1.0])
    fn = clock.advancing([0.0, 3.0, 6.0, 2.0])
    r = ratio_to_reference(fn, lambda: next(readings), repeats=3, clock=clock)
    assert r["ratio_range"] == [1.5, 2.0] and r["ratio"] == 2.0
    assert (r["s"], r["reference_s"]) == (6.0, 3.0)
