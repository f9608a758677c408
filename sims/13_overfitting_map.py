"""Simulation 13 — catastrophic overfitting of fast AT: the published recipes, read on the test set.

Wong, Rice & Kolter (2020), PAPERS.md §3: fast AT's PGD robust accuracy can collapse to about zero
within a few epochs — while its accuracy against FGSM keeps rising — when the step ``α`` is too large
or there is no random start; their guard (PGD on a fixed training batch after every epoch; stop and
keep the previous weights on a fall of more than 0.2) prevents it. Andriushchenko & Flammarion (2020)
tie the collapse to a fall of *gradient alignment*, the cosine between input gradients at ``x`` and at
a random point of the ε-ball. This map runs the recipes under which the collapse was reported, each a
condition (a row per cell):

* **steps and starts:** zero-init FGSM with ``α = ε`` (``fgsm``), FGSM-RS with ``α = 1.25ε`` (the
  authors' recipe, ``rs1.25``) and ``α = 2ε`` (where they saw the collapse, ``rs2``); beside them the
  reference PGD-7 AT (``pgd``, steps of ε/4): whether a robust net exists at the radius at all;
* **radii from the data's geometry:** ``ε = f · cap`` for ``f`` in :data:`FRACTIONS`, where ``cap`` is
  the median over test points of half the ℓ∞ distance to the nearest training point of the other
  class (no classifier right on both points is robust beyond it), measured on the data before any
  injected feature — never from the collapse itself;
* **the authors' training:** minibatch SGD (batch :data:`BATCH`, momentum 0.9, weight decay 5e-4) with
  the cyclic learning rate (0 → :data:`LR` at 2/5 of the run → 0), long runs, a two-layer ReLU net of
  width ``m``;
* **data:** real digits in pixel intensities ``[0, 1]`` (``digits``: 0–4 vs 5–9, ``d = 64``); the same
  digits with an injected discriminative non-robust feature (``digits-inject``: ``x + β y v`` for a
  fixed unit vector ``v``, Ortiz-Jiménez et al.; ``β = ε_f ‖v‖₁`` with ``ε_f`` the radius at
  :data:`INJECT_FRAC`, half the smallest of the map, so the feature is easy to use and not robust at
  any radius of the map); nonlinear teacher labels on a 10-dimensional subspace of ``R^100``
  (``subspace-teacher``); the earlier linear labels (``subspace-linear``).

Every :data:`CHECK_EPOCHS` epochs (and at the end) a check records, on :data:`N_EVAL` held-out test
points (not the guard's training batch), the clean accuracy, the PGD-10 and the FGSM robust
accuracies — the collapse's signature is PGD falling while FGSM does not — and the gradient alignment
(:func:`sims.measure.gradient_alignment`), plus the guard's own PGD-5 accuracy on the first 128
training points. The guard runs with its drop out of reach, and its effect is read off the same run
(:func:`sims.training.guard_replay`: members train independently, so a guarded member is the unguarded
one stopped at the first fall, with the previous check's weights; the authors check every epoch).

The threat model is the unbounded ℓ∞ ball, as everywhere in advsim: perturbed digits are not clipped
to ``[0, 1]``.

All cells of one data set seed member ``i`` alike (:func:`sims.simulation.member_seeds`, the same
minibatch order), so the cells are paired by member and the checks resample members jointly.

Scales: ``quick`` — 8 members, :data:`STEPS` steps (54 epochs of the digits, 11 steps each), the digits only, the
three smaller radii; ``medium`` — 12 members, 2.5× the steps, all four data sets and radii; ``paper`` —
16 members, 5× the steps; width :data:`WIDTH` throughout.

Records per row: ``checks (C,)``, ``clean``, ``pgd``, ``fgsm``, ``align`` and ``guard_acc`` ``(C, M)``;
``guard_fired (M,)`` (the check at which the guard would fire, −1: never), ``pgd_guarded (M,)`` (the
guarded member's final test PGD accuracy), ``robust (M,)`` (PGD-50, two restarts, at the end),
``train_acc (M,)``, ``test_acc (M,)``; metrics ``eps``, ``cap``, ``clean_min`` (the clean accuracy at
which a check counts as trained: the more frequent class's share + :data:`TRAINED_MARGIN`),
``peak_pgd`` (the trained peak, :func:`sims.measure.trained_peak`), ``collapse`` (the members' mean of
the test PGD accuracy's end below that peak, counted where it reached :data:`PEAK_MIN`,
:func:`sims.measure.end_below_peak`) and ``gap`` (FGSM minus PGD test accuracy at the end: the state a
collapse leaves).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from sims.attacks import PGD
from sims.cli import main_for
from sims.data import make_subspace_data
from sims.errors import check_choice, check_float, check_int
from sims.measure import (
    accuracy,
    end_below_peak,
    feasibility_cap,
    gradient_alignment,
    trained_peak,
)
from sims.methods import PGDAT, FastAT, Method
from sims.nets import TwoLayerEnsemble, init_ensemble
from sims.optim import OptimizerConfig
from sims.simulation import (
    SCALES,
    RunContext,
    RunOutput,
    Simulation,
    first_of_group,
    member_seeds,
    one_row,
    torch_dtype,
)
from sims.threat import LinfBall
from sims.training import OverfitGuard, TrainConfig, guard_replay, train

#: Data sets of the map (see the module docstring).
DATA = ("digits", "digits-inject", "subspace-teacher", "subspace-linear")
#: Methods: ``(family, random start, step as a fraction of ε)`` — zero-init FGSM (α = ε), FGSM-RS
#: with α = 1.25ε and 2ε, and the reference PGD-7 AT with steps of ε/4 from a random start (Madry et
#: al.'s recipe): whether a robust net exists at the radius at all.
METHODS = {
    "fgsm": ("fast", False, 1.0),
    "rs1.25": ("fast", True, 1.25),
    "rs2": ("fast", True, 2.0),
    "pgd": ("pgd", True, 0.25),
}
#: PGD-AT's attack steps.
PGD_STEPS = 7
#: Radii as fractions of the data's ℓ∞ feasibility cap (the quick rung leaves out the largest).
FRACTIONS = (0.2, 0.35, 0.5, 0.65)
QUICK_FRACTIONS = FRACTIONS[:3]
#: The injected feature's strength: ℓ∞-robust only up to this fraction of the cap (``β = f · cap ·
#: ‖v‖₁``), half the smallest radius of the map — non-robust at every radius, as Ortiz-Jiménez et al.
#: need (a feature robust at the radius is a robust shortcut: at ``f = 0.35`` every cell reached PGD
#: accuracy 1.00).
INJECT_FRAC = 0.1
#: Steps at the quick rung.
STEPS = 600
#: Checks (the guard's and the test measurements') every this many epochs (passes over the
#: training points at :data:`BATCH` points a step, rounded up).
CHECK_EPOCHS = 2
#: Test points every check is read on.
N_EVAL = 300
#: A check counts as trained when its clean test accuracy exceeds the share of the more frequent
#: class by this (a net that puts every point in one class is trivially robust on that class).
TRAINED_MARGIN = 0.1
#: The authors' training recipe (CIFAR-10: batch 128, cyclic lr up to 0.2, momentum 0.9, wd 5e-4).
BATCH = 128
LR = 0.2
WEIGHT_DECAY = 5e-4
WIDTH = 256
#: The guard's tolerated fall (Wong et al.) — applied by replay; the run itself keeps it out of reach.
DROP = 0.2
#: A fall below the trained peak counts only where that peak reached this (a member that never
#: became robust cannot collapse).
PEAK_MIN = 0.3
#: Training points of the synthetic data sets (their test sets hold :data:`N_EVAL` points).
N_SUBSPACE = 1000


@dataclass(frozen=True)
class Config:
    """One cell: data set, method and ``ε`` as a fraction of the data's ℓ∞ cap."""

    condition: str
    role: str
    data: str
    method: str
    frac: float
    steps: int = STEPS
    n_seeds: int = 8
    seed: int = 0
    m: int = WIDTH

    def __post_init__(self) -> None:
        check_choice("role", self.role, ("law", "control", "reference"))
        check_choice("data", self.data, DATA)
        check_choice("method", self.method, tuple(METHODS))
        check_float("frac", self.frac, 0.0, lo_open=True)
        check_int("steps", self.steps, 1)
        check_int("n_seeds", self.n_seeds, 1)
        check_int("m", self.m, 1)


#: Per scale: training steps and members.
SIZES = {"quick": (STEPS, 8), "medium": (STEPS * 5 // 2, 12), "paper": (5 * STEPS, 16)}
#: Data sets per scale: the quick rung maps the real digits (the cheapest real data, with radii where
#: every method is robust and radii where none is); the teacher labels, the injected feature and the
#: earlier linear labels join from medium.
SCALE_DATA = {
    "quick": ("digits",),
    "medium": DATA,
    "paper": DATA,
}
assert tuple(SIZES) == SCALES


def configs(scale: str) -> list[Config]:
    """Every (data, method, ε) cell at the rung's :data:`SIZES`; the smallest radius is the control
    (catastrophic overfitting needs a large radius relative to the data), PGD-AT the reference, the
    others the law rows."""
    steps, seeds = SIZES[check_choice("scale", scale, SCALES)]
    return [
        Config(
            f"{data}-{method}-f{frac:g}",
            "reference" if method == "pgd" else ("control" if frac == FRACTIONS[0] else "law"),
            data,
            method,
            frac,
            steps,
            seeds,
        )
        for data in SCALE_DATA[scale]
        for method in METHODS
        for frac in (QUICK_FRACTIONS if scale == "quick" else FRACTIONS)
    ]


def group(cfg: Config) -> tuple[object, ...]:
    """Cells of one data set, method family and start batch (α and ε are per member)."""
    return (cfg.data, *METHODS[cfg.method][:2], cfg.steps, cfg.n_seeds, cfg.seed, cfg.m)


@lru_cache(maxsize=8)
def map_data(
    data: str, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """``(X_train, y_train, X_test, y_test, cap)`` of a data set of the map (read-only arrays); ``cap`` is
    the median over test points of half the ℓ∞ distance to the nearest training point of the other
    class, of the data *before* any injected feature."""
    check_choice("data", data, DATA)
    if data.startswith("digits"):
        from sims.real_data import digits_pixels, digits_subspace

        tr, te = digits_subspace(projected=False, seed=seed)
        Xtr, Xte = digits_pixels(tr.X, seed=seed) / 16.0, digits_pixels(te.X, seed=seed) / 16.0
        ytr, yte = tr.y, te.y
    else:
        sd = make_subspace_data(
            N_SUBSPACE + N_EVAL,
            100,
            10,
            seed=seed,
            labels="teacher" if data == "subspace-teacher" else "linear",
        )
        Xtr, ytr = sd.X[:N_SUBSPACE], sd.y[:N_SUBSPACE]
        Xte, yte = sd.X[N_SUBSPACE:], sd.y[N_SUBSPACE:]
    t = torch.from_numpy
    cap = feasibility_cap(t(Xte), t(yte), t(Xtr), t(ytr), p=float("inf"))
    if data == "digits-inject":
        v = np.random.default_rng(seed + 1).standard_normal(Xtr.shape[1])
        v = v / float(np.linalg.norm(v))
        beta = INJECT_FRAC * cap * float(np.abs(v).sum())
        Xtr, Xte = Xtr + beta * ytr[:, None] * v, Xte + beta * yte[:, None] * v
    out = tuple(np.array(a, dtype=np.float64) for a in (Xtr, ytr, Xte[:N_EVAL], yte[:N_EVAL]))
    for a in out:
        a.flags.writeable = False
    return (*out, cap)  # type: ignore[return-value]


def run_group(cfgs: Sequence[Config], ctx: RunContext) -> list[RunOutput]:
    """Fast AT on one data set for every cell at once (each cell's members with their own ε and α);
    test-set trajectories at every check; the guard replayed; the final PGD-50 robust accuracy."""
    first: Config = first_of_group(group, cfgs, "ε and α/ε")
    dtype = torch_dtype("float32")
    Xtr_np, ytr_np, Xte_np, yte_np, cap = map_data(first.data, first.seed)
    Xtr, ytr = (torch.tensor(a, dtype=dtype, device=ctx.device) for a in (Xtr_np, ytr_np))
    Xte, yte = (torch.tensor(a, dtype=dtype, device=ctx.device) for a in (Xte_np, yte_np))
    k, d = first.n_seeds, Xtr.shape[1]
    seeds = member_seeds(first.seed, k) * len(cfgs)
    ens = init_ensemble(
        d,
        first.m,
        seeds=seeds,
        scheme="paper",
        bias="uniform",
        bias_std=1.0 / float(np.sqrt(d)),
        dtype=dtype,
        device=ctx.device,
    )
    eps = tuple(c.frac * cap for c in cfgs for _ in range(k))
    family, start, _ = METHODS[first.method]
    steps_of = tuple(METHODS[c.method][2] for c in cfgs for _ in range(k))
    method: Method = (
        FastAT(norm="linf", eps=eps, alpha=steps_of, random_start=start, seed=first.seed)
        if family == "fast"
        else PGDAT(norm="linf", eps=eps, steps=PGD_STEPS, rel_stepsize=steps_of, seed=first.seed)
    )
    radii = torch.tensor(eps, dtype=torch.float64)[:, None]
    ball = LinfBall(eps=radii)
    fgsm = PGD(steps=1, rel_stepsize=1.0, random_start=False, keep_best=False)
    pgd = PGD(steps=10, rel_stepsize=0.25)

    def measure(net: TwoLayerEnsemble) -> dict[str, torch.Tensor]:
        a_pgd, a_fgsm = pgd(net, Xte, yte, ball), fgsm(net, Xte, yte, ball)
        ok = a_pgd.clean_margin > 0
        return {
            "clean": ok.to(dtype).mean(1),
            "pgd": ((a_pgd.margin > 0) & ok).to(dtype).mean(1),
            "fgsm": ((a_fgsm.margin > 0) & ok).to(dtype).mean(1),
            "align": gradient_alignment(net, Xte, ball, seed=first.seed),
        }

    every = CHECK_EPOCHS * -(-len(ytr_np) // BATCH)
    checks = sorted({*range(0, first.steps + 1, every), first.steps})
    res = train(
        ens,
        Xtr,
        ytr,
        TrainConfig(
            steps=first.steps,
            optimizer=OptimizerConfig(
                name="heavy_ball", lr=LR, momentum=0.9, weight_decay=WEIGHT_DECAY
            ),
            batch_size=BATCH,
            lr_schedule="cyclic",
            method=method,
            guard=OverfitGuard(every=every, drop=2.0, n_points=128),
        ),
        seeds=seeds,
        measure=measure,
        measure_at=checks,
    )
    assert res.guard_acc is not None and res.guard_checks is not None
    assert list(res.guard_checks) == checks == res.measure_steps
    atk = PGD(steps=50, restarts=2)(ens, Xte, yte, ball)
    robust = ((atk.margin > 0) & (atk.clean_margin > 0)).double().mean(1).cpu().numpy()
    test_acc, train_acc = accuracy(ens, Xte, yte), accuracy(ens, Xtr, ytr)
    fired = guard_replay(res.guard_acc, DROP)
    majority = float(max(np.mean(yte_np > 0), np.mean(yte_np < 0)))
    clean_min = min(1.0, majority + TRAINED_MARGIN)
    hist = {key: np.asarray(v, dtype=np.float64) for key, v in res.history.items()}
    last = len(checks) - 1
    pgd_guarded = hist["pgd"][np.where(fired >= 0, fired - 1, last), np.arange(ens.M)]
    outs = []
    for i, cfg in enumerate(cfgs):
        rows = slice(i * k, (i + 1) * k)
        arrays = {
            "checks": np.asarray(checks, dtype=np.int64),
            **{key: v[:, rows] for key, v in hist.items()},
            "guard_acc": np.asarray(res.guard_acc[:, rows], dtype=np.float64),
            "guard_fired": fired[rows],
            "pgd_guarded": pgd_guarded[rows],
            "robust": robust[rows],
            "train_acc": train_acc[rows],
            "test_acc": test_acc[rows],
        }
        peak, _ = trained_peak(
            hist["pgd"][:, rows], clean=hist["clean"][:, rows], clean_min=clean_min
        )
        metrics = {
            "eps": cfg.frac * cap,
            "cap": cap,
            "clean_min": clean_min,
            "robust": float(robust[rows].mean()),
            "peak_pgd": float(peak.mean()),
            "collapse": float(
                end_below_peak(
                    hist["pgd"][:, rows],
                    peak_min=PEAK_MIN,
                    clean=hist["clean"][:, rows],
                    clean_min=clean_min,
                ).mean()
            ),
            "gap": float((hist["fgsm"][-1, rows] - hist["pgd"][-1, rows]).mean()),
            "fired": float((fired[rows] >= 0).mean()),
        }
        outs.append(RunOutput(metrics=metrics, arrays=arrays))
    return outs


SIM = Simulation(
    number="13",
    name="overfitting_map",
    title="catastrophic overfitting of fast AT: published recipes on the test set, guard replayed",
    paper="Wong, Rice & Kolter 2020; Andriushchenko & Flammarion 2020 (PAPERS.md §3)",
    configs=configs,
    run=one_row(run_group),
    label=lambda c: c.condition,
    group=group,
    run_group=run_group,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
