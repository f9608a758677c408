"""Benchmark cases. Each runs advsim's way and the naive way side by side in one process.

Every comparison first checks that both ways compute the same numbers (float64, a few members and
steps), then times each (warm-up, repeats, median) and reports the ratio; advsim's achieved GFLOP/s
is reported as a fraction of the matmul peak read just before and just after each timed call
(:func:`fraction_of_peak`: this host's speed drifts within a run).
FLOPs counted: one training step or one PGD step costs ``4·M·n·m·d`` (two GEMM-sized products).
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from benchmarks import naive
from sims.attacks import PGD
from sims.losses import loss_value
from sims.methods import PGDAT
from sims.nets import TwoLayerEnsemble, init_ensemble
from sims.optim import OptimizerConfig
from sims.threat import L2Ball
from sims.training import TrainConfig, train

Result = dict[str, Any]


def timeit(fn: Callable[[], object], *, repeats: int = 3, warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeats`` calls after ``warmup`` calls, back to back
    (:func:`between_readings` with no reading)."""
    pairs = between_readings(fn, lambda: 0.0, max, repeats=repeats, warmup=warmup)
    return statistics.median(t for t, _ in pairs)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_peak(dtype: torch.dtype = torch.float32, size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of a large square GEMM (this machine's practical peak), the median of ``repeats``."""
    a = torch.randn(size, size, dtype=dtype)
    b = torch.randn(size, size, dtype=dtype)
    t = timeit(lambda: a @ b, repeats=repeats)
    return 2 * size**3 / t / 1e9


def between_readings(
    fn: Callable[[], object],
    probe: Callable[[], float],
    pick: Callable[[float, float], float],
    *,
    repeats: int,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> list[tuple[float, float]]:
    """``(wall time, reading)`` for each of ``repeats`` calls of ``fn`` (after ``warmup``), the reading
    being ``pick`` of the two ``probe`` readings taken just before and just after the call (one
    reading between two calls serves both).

    A ratio of two measurements taken at different moments — a case's time and the matmul peak read
    before it, or an attack step and the passes it is held against — mixes two states of a host whose
    speed drifts (shared or throttled cores: this machine's peak read 73, 106 and 150 GFLOP/s within
    one run); a ratio per call against the readings around it keeps both in one state, and the spread
    of those ratios shows how much the host moved. ``max`` for a rate (the peak) and ``min`` for a
    reference time make the ratio against them conservative.
    """
    for _ in range(warmup):
        fn()
    times, probes = [], [probe()]
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
        probes.append(probe())
    return [(t, pick(a, b)) for t, (a, b) in zip(times, itertools.pairwise(probes), strict=True)]


def median_call(
    pairs: list[tuple[float, float]], value: Callable[[float, float], float]
) -> tuple[float, float, float, list[float]]:
    """The call whose ``value(time, reading)`` is the median — the lower middle one for an even count —
    as ``(time, reading, value, [lowest value, highest value])``: its time, reading and value are one
    call's, so they agree with each other where a median of each would not."""
    values = [value(t, r) for t, r in pairs]
    order = sorted(range(len(pairs)), key=values.__getitem__)
    i = order[(len(order) - 1) // 2]
    return pairs[i][0], pairs[i][1], values[i], [min(values), max(values)]


def fraction_of_peak(
    fn: Callable[[], object],
    flops: float,
    *,
    repeats: int = 3,
    dtype: torch.dtype = torch.float32,
    peak: Callable[[], float] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Result:
    """``fn``'s fraction of the matmul peak, call by call: each call's GFLOP/s over the higher of the
    peaks read just before and just after it (:func:`between_readings`; ``peak`` reads GFLOP/s, by
    default the median of three timed 2048² GEMMs of ``dtype`` after one warm-up, fewer than a one-off
    reading's five so that a probe stays short). Reports the call at the median fraction
    (:func:`median_call`: its GFLOP/s over its peak is its fraction) and the range over calls."""
    probe = peak if peak is not None else (lambda: matmul_peak(dtype, repeats=3))
    pairs = between_readings(fn, probe, max, repeats=repeats, clock=clock)
    t, p, frac, span = median_call(pairs, lambda t, p: flops / t / 1e9 / p)
    return {
        "advsim_gflops": flops / t / 1e9,
        "peak_gflops": p,
        "peak_gflops_range": [min(r for _, r in pairs), max(r for _, r in pairs)],
        "advsim_fraction_of_peak": frac,
        "fraction_of_peak_range": span,
    }


def ratio_to_reference(
    fn: Callable[[], object],
    reference: Callable[[], float],
    *,
    repeats: int = 5,
    clock: Callable[[], float] = time.perf_counter,
) -> Result:
    """``fn``'s time over a ``reference`` time, call by call: each call against the faster of the two
    reference timings just before and just after it (:func:`between_readings`). Reports the call at the
    median ratio (:func:`median_call`) and the range over calls."""
    pairs = between_readings(fn, reference, min, repeats=repeats, clock=clock)
    t, r, ratio, span = median_call(pairs, lambda t, r: t / r)
    return {"s": t, "reference_s": r, "ratio": ratio, "ratio_range": span}


def _data(n: int, d: int, dtype: torch.dtype, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen, dtype=torch.float64).to(dtype) / np.sqrt(d)
    y = torch.where(torch.rand(n, generator=gen) > 0.5, 1.0, -1.0).to(dtype)
    return X, y


def _ens(M: int, d: int, m: int, dtype: torch.dtype) -> TwoLayerEnsemble:
    return init_ensemble(d, m, seeds=list(range(M)), bias="normal", bias_std=0.1, dtype=dtype)


def check_train_identical(d: int, m: int, n: int) -> float:
    """Max abs difference of advsim and the naive loop after 20 GD steps (4 members, float64)."""
    ens = _ens(4, d, m, torch.float64)
    X, y = _data(n, d, torch.float64)
    mods = naive.make_modules(ens.W, ens.b, ens.a)
    naive.train_loop(mods, X, y, steps=20, lr=0.1)
    train(ens, X, y, TrainConfig(steps=20, optimizer=OptimizerConfig("sgd", lr=0.1)))
    diff = 0.0
    for i, net in enumerate(mods):
        diff = max(
            diff,
            float((net.hidden.weight.detach() - ens.W[i]).abs().max()),
            float((net.out.weight[0].detach() - ens.a[i]).abs().max()),
        )
    return diff


def case_train(
    name: str,
    M: int,
    n: int,
    d: int,
    m: int,
    steps: int,
    dtype: torch.dtype,
    naive_members: int,
) -> Result:
    """advsim's batched training vs the naive loop over ``nn.Module``s: the speed-up from back-to-back
    timings of both ways; advsim's GFLOP/s and fraction of the matmul peak from further calls, each
    between two peak readings (:func:`fraction_of_peak`)."""
    diff = check_train_identical(d, m, min(n, 200))
    if diff > 1e-9:
        raise AssertionError(f"{name}: advsim and the naive loop disagree by {diff:g}")
    X, y = _data(n, d, dtype)
    cfg = TrainConfig(steps=steps, optimizer=OptimizerConfig("sgd", lr=0.1))
    ens0 = _ens(M, d, m, dtype)

    def ours() -> None:
        train(ens0.clone(), X, y, cfg)

    flops = 4.0 * M * n * m * d * steps
    t_ours = timeit(ours)
    k = min(M, naive_members)
    mods = naive.make_modules(ens0.W[:k], ens0.b[:k], ens0.a[:k])
    t_naive_k = timeit(
        lambda: naive.train_loop(mods, X, y, steps=steps, lr=0.1), repeats=1, warmup=0
    )
    t_naive = t_naive_k * M / k  # the loop is exactly linear in the number of models
    return {
        "case": name,
        "shape": {"M": M, "n": n, "d": d, "m": m, "steps": steps},
        "dtype": str(dtype).removeprefix("torch."),
        "identical_max_abs_diff": diff,
        "advsim_s": t_ours,
        "naive_s": t_naive,
        "naive_timed_members": k,
        "naive_extrapolated": k < M,
        "speedup": t_naive / t_ours,
        "naive_gflops": flops / t_naive / 1e9,
        **fraction_of_peak(ours, flops, dtype=dtype),
    }


def case_pgd(name: str, M: int, n: int, d: int, m: int, steps: int, naive_members: int) -> Result:
    """advsim's batched ℓ2 PGD vs a PGD loop over models (same starts, same steps): the speed-up from
    back-to-back timings of both ways; advsim's GFLOP/s and fraction of the matmul peak from further
    calls, each between two peak readings (:func:`fraction_of_peak`)."""
    eps = 0.5
    # identical results first (float64, textbook last-iterate output on both sides)
    e64 = _ens(3, d, m, torch.float64)
    X64, y64 = _data(min(n, 100), d, torch.float64)
    threat = L2Ball(eps)
    attack = PGD(steps=10, keep_best=False)
    ours64 = attack(e64, X64, y64, threat).delta
    start = threat.project(threat.random_start(X64, seed=0).expand(3, *X64.shape))
    ref = naive.pgd_l2_loop(
        naive.make_modules(e64.W, e64.b, e64.a),
        X64,
        y64,
        start,
        eps=eps,
        steps=10,
        alpha=attack.alpha * eps,
    )
    diff = float((ours64 - ref).abs().max())
    if diff > 1e-9:
        raise AssertionError(f"{name}: advsim and the naive PGD disagree by {diff:g}")
    ens = _ens(M, d, m, torch.float32)
    X, y = _data(n, d, torch.float32)
    pgd = PGD(steps=steps, keep_best=False)
    flops = 4.0 * M * n * m * d * steps
    t_ours = timeit(lambda: pgd(ens, X, y, threat), repeats=3)
    k = min(M, naive_members)
    mods = naive.make_modules(ens.W[:k], ens.b[:k], ens.a[:k])
    d0 = threat.project(threat.random_start(X, seed=0).expand(k, *X.shape))
    t_naive = timeit(
        lambda: naive.pgd_l2_loop(mods, X, y, d0, eps=eps, steps=steps, alpha=pgd.alpha * eps),
        repeats=1,
        warmup=0,
    )
    t_naive *= M / k
    return {
        "case": name,
        "shape": {"M": M, "n": n, "d": d, "m": m, "steps": steps},
        "dtype": "float32",
        "identical_max_abs_diff": diff,
        "advsim_s": t_ours,
        "naive_s": t_naive,
        "naive_timed_members": k,
        "naive_extrapolated": k < M,
        "speedup": t_naive / t_ours,
        **fraction_of_peak(lambda: pgd(ens, X, y, threat), flops),
        "throughput_point_steps_per_s": M * n * steps / t_ours,
    }


def case_at_step(name: str, M: int, n: int, d: int, m: int) -> Result:
    """One PGD-10 adversarial-training step of an ensemble (ℓ2, margin-loss attack, logistic loss:
    :class:`sims.methods.PGDAT`'s ``loss_grads``) against the work it cannot avoid: 11 passes of
    forward-and-input-gradient (``value_and_grad``) at per-member points ``(M, n, d)`` — ten attack
    steps and the training gradient. Also timed: the same step composed the plain way (the attack,
    then a fresh forward and parameter gradient at ``x + δ``). Both ways must give the same loss and
    gradients first (float64). Each timed step lies between two timings of the 11 passes and is held
    against the faster of them (:func:`ratio_to_reference`: the step at the median ratio, and the
    range); the fraction of the matmul peak comes from further steps, each between two peak readings
    (:func:`fraction_of_peak`)."""
    method = PGDAT(norm="l2", eps=0.5, steps=10)
    e64 = _ens(3, d, m, torch.float64)
    X64, y64 = _data(min(n, 100), d, torch.float64)
    loss, grads = method.loss_grads(e64, X64, y64, step=0)
    ref_loss, ref_grads = _at_step_composed(method, e64, X64, y64)
    diff = max(
        float((loss - ref_loss).abs().max()),
        *(float((grads[k] - ref_grads[k]).abs().max()) for k in grads),
    )
    if diff > 1e-9:
        raise AssertionError(f"{name}: the AT step and its composed form disagree by {diff:g}")
    ens = _ens(M, d, m, torch.float32)
    X, y = _data(n, d, torch.float32)
    gen = torch.Generator().manual_seed(1)
    Xp = X + 0.1 * torch.randn(M, n, d, generator=gen) / np.sqrt(d)
    ens.value_and_grad(Xp)  # warm-up of the passes

    def step() -> None:
        method.loss_grads(ens, X, y, step=0)

    ratio = ratio_to_reference(
        step, lambda: 11 * timeit(lambda: ens.value_and_grad(Xp), repeats=11, warmup=0), repeats=5
    )
    t_composed = timeit(lambda: _at_step_composed(method, ens, X, y), repeats=5)
    flops = 11 * 4.0 * M * n * m * d
    return {
        "case": name,
        "shape": {"M": M, "n": n, "d": d, "m": m, "attack_steps": 10},
        "dtype": "float32",
        "identical_max_abs_diff": diff,
        "advsim_s": ratio["s"],
        "composed_s": t_composed,
        "eleven_passes_s": ratio["reference_s"],
        "ratio_to_eleven_passes": ratio["ratio"],
        "ratio_range": ratio["ratio_range"],
        **fraction_of_peak(step, flops),
    }


def _at_step_composed(
    method: PGDAT, ens: TwoLayerEnsemble, X: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The AT step without reuse: the attack, then the loss and its gradients at ``x + δ`` afresh."""
    delta = method.attack()(ens, X, y, method.threat()).delta
    f, grads = ens.loss_grads(X[None] + delta, y, method.loss)
    return loss_value(method.loss, f, y).mean(dim=1), grads


def case_torchattacks(d: int = 20, n: int = 200) -> Result:
    """What torchattacks' PGDL2 does on our vector data, as a user would call it (reported, not hidden)."""
    out: Result = {"case": "torchattacks_pgdl2"}
    try:
        import torchattacks
    except ImportError:
        out["status"] = "torchattacks not installed (pip install --no-deps torchattacks)"
        return out
    ens = _ens(1, d, 16, torch.float32)
    X, y = _data(n, d, torch.float32)
    net = ens.member(0)

    class TwoLogits(torch.nn.Module):
        def __init__(self, body: torch.nn.Module) -> None:
            super().__init__()
            self.body = body

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.body(x.reshape(x.shape[0], -1))
            return torch.stack([torch.zeros_like(f), f], dim=1)

    model = TwoLogits(net)
    labels = (y > 0).long()
    eps = 0.05
    atk = torchattacks.PGDL2(model, eps=eps, alpha=2.5 * eps / 50, steps=50)
    try:
        atk(X, labels)
        out["vector_input"] = "ran"
    except Exception as exc:  # reported: this is the finding
        out["vector_input"] = f"raises {type(exc).__name__}: {str(exc)[:120]}"
    adv = atk(X.reshape(n, 1, 1, d), labels).reshape(n, d)
    norms = (adv - X).norm(dim=1)
    out.update(
        {
            "image_reshaped_input": "ran",
            "eps": eps,
            "median_perturbation_norm": float(norms.median()),
            "max_perturbation_over_eps": float(norms.max() / eps),
            "clamped_to_unit_box": bool(adv.min() >= 0 and adv.max() <= 1),
            "fraction_inputs_outside_unit_box": float(((X < 0) | (X > 1)).float().mean()),
        }
    )
    return out


def case_size_sweep() -> Result:
    """Seconds per training step over shapes; the fitted exponent of time vs ``M·n·m·d``."""
    shapes = [
        (32, 200, 20, 16),
        (64, 200, 20, 16),
        (128, 400, 20, 16),
        (64, 400, 40, 32),
        (128, 800, 40, 32),
        (64, 1000, 100, 64),
        (64, 1000, 200, 128),
        (64, 1000, 200, 256),
    ]
    rows = []
    for M, n, d, m in shapes:
        ens = _ens(M, d, m, torch.float32)
        X, y = _data(n, d, torch.float32)
        cfg = TrainConfig(steps=10, optimizer=OptimizerConfig("sgd", lr=0.1))

        def ten_steps(
            e: TwoLayerEnsemble = ens,
            X: torch.Tensor = X,
            y: torch.Tensor = y,
            cfg: TrainConfig = cfg,
        ) -> None:
            train(e, X, y, cfg)

        t = timeit(ten_steps) / 10
        rows.append({"M": M, "n": n, "d": d, "m": m, "product": M * n * m * d, "s_per_step": t})
    p = np.log([r["product"] for r in rows])
    s = np.log([r["s_per_step"] for r in rows])
    slope_all = float(np.polyfit(p, s, 1)[0])
    big = p >= np.log(1e8)
    slope_big = float(np.polyfit(p[big], s[big], 1)[0]) if big.sum() >= 2 else float("nan")
    return {
        "case": "size_sweep",
        "rows": rows,
        "exponent_all": slope_all,
        "exponent_large": slope_big,
    }


def case_import_overhead() -> Result:
    """Seconds of ``import sims`` engine modules beyond ``import torch`` (median of 5 fresh processes)."""

    def run(code: str) -> float:
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    t_torch = run("import torch")
    t_sims = run("import torch, sims.nets, sims.training, sims.attacks, sims.simulation")
    return {
        "case": "import_overhead",
        "torch_s": t_torch,
        "sims_s": t_sims,
        "overhead_s": t_sims - t_torch,
    }


def case_memory_large(steps: int = 1) -> Result:
    """The issue's largest sweep row: M = 1024 networks, n = 10 000, d = 500, m = 512, float32 —
    initialise, take ``steps`` full-batch GD steps and measure the outputs; report the peak memory."""
    M, n, d, m = 1024, 10_000, 500, 512
    t0 = time.perf_counter()
    ens = _ens(M, d, m, torch.float32)
    X, y = _data(n, d, torch.float32)
    t_init = time.perf_counter() - t0
    t0 = time.perf_counter()
    train(ens, X, y, TrainConfig(steps=steps, optimizer=OptimizerConfig("sgd", lr=0.1)))
    t_train = time.perf_counter() - t0
    flops = 4.0 * M * n * m * d * steps
    return {
        "case": "memory_large",
        "shape": {"M": M, "n": n, "d": d, "m": m, "steps": steps},
        "init_s": t_init,
        "train_s": t_train,
        "advsim_gflops": flops / t_train / 1e9,
        "params_mib": (M * m * (d + 2)) * 4 / 2**20,
    }


def case_sim01() -> Result:
    """Simulation 01 at the quick scale, end to end (fresh results directory)."""
    from sims.registry import find_simulation
    from sims.simulation import run_simulation

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        s = run_simulation(find_simulation("01"), scale="quick", out=tmp, progress=False)
        t = time.perf_counter() - t0
    return {"case": "sim01_quick", "seconds": t, "runs": s.ran, "failed": s.failed}


def case_sweep_workers(worker_counts: tuple[int, ...] = (1, 2, 4)) -> Result:
    """A fixed fast-AT sweep (simulation 13's quick grid: minibatch fast AT and PGD-AT on the digits)
    run row by row in-process (the naive way: one ensemble per row), grouped in-process (rows that
    share shapes batched into one ensemble, per-member ``ε`` and ``α``; the default), and grouped on a
    local Dask cluster of 1, 2, 4 single-threaded workers (each group split over the workers) — our
    analogue of distributed fast AT (Goodwin et al. 2020). Every variant must write the same records:
    same run keys, metrics and arrays (checked, largest difference reported)."""
    from sims.records import RunStore
    from sims.registry import find_simulation
    from sims.simulation import run_simulation

    sim = find_simulation("13")
    variants: list[tuple[str, int | None, bool]] = [
        ("in_process_row_by_row", None, False),
        ("in_process_grouped", None, True),
        *[(f"workers_{w}_grouped", w, True) for w in worker_counts],
    ]
    times: dict[str, float] = {}
    runs: dict[str, dict[str, tuple[dict[str, float], dict[str, np.ndarray]]]] = {}
    for label, workers, group in variants:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            s = run_simulation(
                sim, scale="quick", out=tmp, progress=False, workers=workers, group=group
            )
            times[label] = time.perf_counter() - t0
            if s.failed:
                raise SystemExit(f"sweep failed: {s.failures}")
            runs[label] = {
                r.key: (r.metrics, {k: np.asarray(v) for k, v in r.arrays().items()})
                for r in RunStore(tmp, sim.id).records()
            }
    ref = runs["in_process_row_by_row"]
    diff = 0.0
    identical = all(set(v) == set(ref) for v in runs.values())
    for v in runs.values():
        for key, (metrics, arrays) in v.items():
            if key not in ref:
                continue
            rm, ra = ref[key]
            got = [np.asarray([metrics.get(k, np.nan) for k in rm])] + [arrays[k] for k in ra]
            want = [np.asarray([rm[k] for k in rm])] + [ra[k] for k in ra]
            for a, b in zip(got, want, strict=True):
                if a.shape != b.shape:  # e.g. a guard trajectory of another length
                    identical, diff = False, float("inf")
                    continue
                identical &= bool(np.array_equal(a, b, equal_nan=True))
                both = ~(np.isnan(a) & np.isnan(b))
                if both.any():
                    gap = np.abs(a[both].astype(float) - b[both].astype(float))
                    diff = max(diff, float(np.nan_to_num(gap, nan=np.inf).max()))
    base = times["in_process_row_by_row"]
    return {
        "case": "sweep_workers",
        "runs": len(sim.grid("quick")),
        "seconds": times,
        "speedup_vs_row_by_row": {k: base / v for k, v in times.items()},
        "identical_records": identical,
        "max_abs_difference": diff,
        "cpu_count": os.cpu_count(),
    }


def run_case(name: str, quick: bool) -> Result:
    """Run one case by name (in this process) and add its peak memory."""
    torch.manual_seed(0)
    if name == "train_small":
        r = case_train(name, 256, 200, 20, 16, 200, torch.float32, 32 if quick else 256)
    elif name == "train_large_f32":
        r = case_train(
            name,
            64,
            1000,
            200,
            256,
            20 if quick else 200,
            torch.float32,
            4 if quick else 64,
        )
    elif name == "train_large_f64":
        r = case_train(
            name,
            64,
            1000,
            200,
            256,
            20 if quick else 200,
            torch.float64,
            4 if quick else 64,
        )
        r["peak_gflops_f32"] = matmul_peak(torch.float32)
    elif name == "pgd_small":
        r = case_pgd(name, 64, 200, 20, 16, 50, 16 if quick else 64)
    elif name == "pgd_large":
        r = case_pgd(name, 64, 1000, 200, 256, 10 if quick else 50, 4 if quick else 64)
    elif name == "at_step":
        r = case_at_step(name, 64, 1000, 200, 256)
    elif name == "at_step_small":
        r = case_at_step(name, 64, 200, 20, 16)
    elif name == "torchattacks_pgdl2":
        r = case_torchattacks()
    elif name == "size_sweep":
        r = case_size_sweep()
    elif name == "import_overhead":
        r = case_import_overhead()
    elif name == "memory_large":
        r = case_memory_large()
    elif name == "sim01_quick":
        r = case_sim01()
    elif name == "sweep_workers":
        r = case_sweep_workers()
    else:
        raise SystemExit(f"unknown case {name!r}")
    r["peak_rss_mb"] = peak_rss_mb()
    r["torch_threads"] = torch.get_num_threads()
    return r


CASES = [
    "train_small",
    "train_large_f32",
    "train_large_f64",
    "pgd_small",
    "pgd_large",
    "at_step",
    "at_step_small",
    "torchattacks_pgdl2",
    "size_sweep",
    "import_overhead",
    "sim01_quick",
    "memory_large",
    "sweep_workers",
]
#: Cases skipped by ``--quick`` (minutes each).
SLOW_CASES = ("memory_large", "sweep_workers")


def main_case(name: str, quick: bool) -> None:
    """Entry for the child process: print the case's JSON on stdout."""
    print(json.dumps(run_case(name, quick)))
