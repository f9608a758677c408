"""Simulation 12 — fast adversarial training against PGD adversarial training: robustness and cost.

Wong, Rice & Kolter (2020, ℓ∞) and Goodwin, Brown & Helus (2020, ℓ2); PAPERS.md §3: one FGSM step from a
random start (``α = 1.25ε``; ℓ2: direction × uniform radius, normalised-gradient step, projection) trains
networks about as robust as multi-step PGD training at a fraction of the cost. A reader should see fast
AT's robust accuracy within a few points of PGD-AT's (10 steps) at about 2/11 of its gradient
evaluations, and both far above clean training.

Two data sets: points on a 10-dimensional subspace of ``R^100`` (the off-subspace setting, trained from
scratch, :mod:`sims.subspace_runs`) and ``k = 4``-sparse codes in ``R^64`` (adversarial training continued
from the clean weights, :mod:`sims.purification_runs`), each in ℓ∞ and ℓ2. Robust accuracy: worst case of
PGD-50 with two restarts at ``ε·{0.5, 1, 1.5}`` in the training norm. Cost: gradient evaluations
(training steps × the method's passes per step) and wall seconds of the (adversarial) training.

Pairing: every row of a data set draws the same data (data seed 0) and seeds member ``i`` alike
(:func:`sims.simulation.member_seeds`), and on the sparse codes every method continues from the same
clean-trained weights; the rows are attacked on the same test points. So member ``i`` of the fast and of
the PGD-AT row differ only in the training method — what a paired interval on their difference needs.
The clean-trained weights (sparse codes) and the clean rows' training (identical for ℓ∞ and ℓ2) are
computed once per process and reused by the rows that share them.

Whether fast ℓ2 AT keeps the features of robust models (Goodwin et al.'s "human-aligned" features; our
synthetic analogue, PAPERS.md §3) is measured as the share ``‖P∇f‖/‖∇f‖`` of input-gradient mass on the
data subspace (subspace data) and the neurons' purity in the dictionary basis (sparse codes).

Scales: ``quick`` — 8 members, 150 (subspace) / 100 (sparse) training steps, 300 attacked points;
``medium`` — 16 members, 600 attacked points, 4× the steps and twice the width on the subspace data, 2×
the steps on the sparse codes (whose full-batch steps on 2 000 points dominate the cost); the data and the
radii are quick's (ε is set against the data's scale, so the comparison stays the same comparison);
``paper`` — 5× the steps, 16 members and 600 attacked points, at quick's width.

Records: ``eps_grid (K,)``, ``robust (M, K)``, ``robust_points (M, K, n)`` (robust at each radius, per
attacked point), ``train_acc (M,)``, ``test_acc (M,)``, ``grad_on_share (M, n)`` (subspace) or
``purity (M, m)`` (sparse); ``grad_evals`` and ``seconds`` (metrics).
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from sims.attacks import PGD, robust_accuracy
from sims.cli import main_for
from sims.errors import check_choice, check_float, check_int
from sims.measure import accuracy, input_grad_split, neuron_decomposition
from sims.methods import Clean
from sims.nets import TwoLayerEnsemble
from sims.purification_runs import (
    ATSpec,
    CleanRun,
    PurificationSetup,
    continue_with,
    correct_points,
    threat,
    train_clean,
)
from sims.simulation import SCALES, RunContext, RunOutput, Simulation
from sims.subspace_runs import SubspaceSetup, Trained, train_setup

#: Training radii per data set and norm.
EPS = {
    ("subspace", "linf"): 0.05,
    ("subspace", "l2"): 0.5,
    ("sparse", "linf"): 0.125,
    ("sparse", "l2"): 0.25,
}
PGD_STEPS = 10
MULTIPLES = (0.5, 1.0, 1.5)


@dataclass(frozen=True)
class Sizes:
    """A rung's sizes: members, training steps and width per data set, attacked test points."""

    seeds: int
    steps: dict[str, int]
    m: dict[str, int]
    n_eval: int


SIZES = {
    "quick": Sizes(8, {"subspace": 150, "sparse": 100}, {"subspace": 200, "sparse": 256}, 300),
    "medium": Sizes(16, {"subspace": 600, "sparse": 200}, {"subspace": 400, "sparse": 256}, 600),
    "paper": Sizes(16, {"subspace": 750, "sparse": 500}, {"subspace": 200, "sparse": 256}, 600),
}
assert tuple(SIZES) == SCALES


@dataclass(frozen=True)
class Config:
    """One model: the data set, the norm, the training method (``clean``, ``fast``, ``pgd``), the
    radius, and the rung's sizes (training steps, members, width ``m``, attacked test points)."""

    condition: str
    role: str
    data: str
    norm: str
    method: str
    eps: float
    steps: int
    n_seeds: int = 8
    m: int = 200
    n_eval: int = 300

    def __post_init__(self) -> None:
        check_choice("role", self.role, ("law", "control"))
        check_choice("data", self.data, ("subspace", "sparse"))
        check_choice("norm", self.norm, ("linf", "l2"))
        check_choice("method", self.method, ("clean", "fast", "pgd"))
        check_float("eps", self.eps, 0.0, lo_open=True)
        check_int("steps", self.steps, 1)
        check_int("m", self.m, 1)
        check_int("n_eval", self.n_eval, 1)


def configs(scale: str) -> list[Config]:
    """Both data sets × both norms × (clean, fast, PGD), at the rung's :data:`SIZES`."""
    size = SIZES[check_choice("scale", scale, SCALES)]
    out = []
    for (data, norm), eps in EPS.items():
        for method in ("clean", "fast", "pgd"):
            role = "control" if method == "clean" else "law"
            out.append(
                Config(
                    f"{data}-{norm}-{method}",
                    role,
                    data,
                    norm,
                    method,
                    eps,
                    size.steps[data],
                    size.seeds,
                    size.m[data],
                    size.n_eval,
                )
            )
    return out


@dataclass
class Row:
    """A trained row: the model, its training and attacked test points, the training seconds and
    gradient evaluations, and its feature measurements."""

    ens: TwoLayerEnsemble
    X_train: torch.Tensor
    y_train: torch.Tensor
    X: torch.Tensor
    y: torch.Tensor
    seconds: float
    grad_evals: int
    features: dict[str, np.ndarray]


@functools.lru_cache(maxsize=1)
def _train_clean_subspace(s: SubspaceSetup, device: str) -> Trained:
    """:func:`sims.subspace_runs.train_setup` of the clean setup, once per process (the ℓ∞ and ℓ2
    clean rows train the same setup)."""
    return train_setup(s, device)


def _train_subspace(s: SubspaceSetup, device: str) -> Trained:
    """Train a subspace setup (the clean one once per process)."""
    return _train_clean_subspace(s, device) if s.at_eps == 0 else train_setup(s, device)


@functools.lru_cache(maxsize=1)
def _clean_run(s: PurificationSetup, device: str) -> CleanRun:
    """The clean-trained sparse-coding run that every method continues from, once per process."""
    return train_clean(s, device)


def _continue(s: PurificationSetup, device: str, spec: ATSpec) -> tuple[TwoLayerEnsemble, float]:
    """The clean run continued for ``spec.steps`` full-batch steps by ``spec``'s adversarial training,
    or by clean steps when ``spec.eps == 0``, and the seconds it took."""
    r = _clean_run(s, device)
    method = Clean(loss=s.loss) if spec.eps == 0 else spec.method(s.loss, s.seed)
    t0 = time.perf_counter()
    ens = continue_with(r, method, spec.steps, spec.lr)
    return ens, time.perf_counter() - t0


#: The clean continuation, once per process (the same for both norms).
_continue_clean = functools.lru_cache(maxsize=1)(_continue)


def subspace_setup(cfg: Config) -> SubspaceSetup:
    """The off-subspace setting of a subspace row: data seed 0 and member seeds
    :func:`sims.simulation.member_seeds` (0, n) in every row, so rows differ only in the ``at_*``
    fields (the training method)."""
    s = SubspaceSetup(
        d=100,
        k=10,
        m=cfg.m,
        n=60,
        n_test=cfg.n_eval,
        n_seeds=cfg.n_seeds,
        steps=cfg.steps,
        stop_accuracy=None,
        lr=0.5,
    )
    if cfg.method != "clean":
        s = replace(s, at_eps=cfg.eps, at_norm=cfg.norm, at_steps=PGD_STEPS, at_method=cfg.method)
    return s


def sparse_setup(cfg: Config) -> PurificationSetup:
    """The sparse-coding setting of a sparse row: the same data, members and clean training in every
    row (the methods differ only in how they continue)."""
    return PurificationSetup(dtype="float32", n_seeds=cfg.n_seeds, m=cfg.m)


def _subspace(cfg: Config, device: str) -> Row:
    t = _train_subspace(subspace_setup(cfg), device)
    per_step = 1 if cfg.method == "clean" else (2 if cfg.method == "fast" else PGD_STEPS + 1)
    split = input_grad_split(t.ens, t.X_test, t.data.basis)
    on, off = split["grad_on"].cpu().numpy(), split["grad_off"].cpu().numpy()
    features = {"grad_on_share": on / np.sqrt(on**2 + off**2)}
    return Row(
        t.ens, t.X, t.y, t.X_test, t.y_test, t.result.seconds, cfg.steps * per_step, features
    )


def _sparse(cfg: Config, device: str) -> Row:
    s = sparse_setup(cfg)
    r = _clean_run(s, device)
    if cfg.method == "clean":
        spec = ATSpec("linf", 0.0, "pgd", attack_steps=1, steps=cfg.steps)
    else:
        spec = ATSpec(
            cfg.norm,
            cfg.eps,
            cfg.method,
            attack_steps=PGD_STEPS if cfg.method == "pgd" else 1,
            steps=cfg.steps,
        )
    ens, seconds = (_continue_clean if cfg.method == "clean" else _continue)(s, device, spec)
    per_step = 1 if cfg.method == "clean" else spec.method(s.loss, s.seed).gradient_evaluations
    dec = neuron_decomposition(ens.W.detach().cpu().numpy(), r.data.dictionary, r.data.w_star)
    X, y = r.X_test[: cfg.n_eval], r.y_test[: cfg.n_eval]
    return Row(ens, r.X, r.y, X, y, seconds, cfg.steps * per_step, {"purity": dec["purity"]})


def run(cfg: Config, ctx: RunContext) -> RunOutput:
    """Train one kind of model; robust accuracy on the radius grid, per attacked point; cost."""
    row = (_subspace if cfg.data == "subspace" else _sparse)(cfg, ctx.device)
    grid = np.asarray(MULTIPLES) * cfg.eps
    ra = robust_accuracy(
        row.ens, row.X, row.y, threat(cfg.norm), grid, attacks=(PGD(steps=50, restarts=2),)
    )
    correct = correct_points(row.ens, row.X, row.y)
    arrays = {
        "eps_grid": grid,
        "robust": ra.accuracy.cpu().numpy(),
        "robust_points": correct[:, None, :] & ~ra.success.cpu().numpy(),
        **row.features,
        "train_acc": accuracy(row.ens, row.X_train, row.y_train),
        "test_acc": correct.mean(axis=1),
    }
    metrics = {
        "robust_at_eps": float(arrays["robust"][:, 1].mean()),
        "test_acc": float(arrays["test_acc"].mean()),
        "grad_evals": float(row.grad_evals),
        "seconds": row.seconds,
    }
    return RunOutput(metrics=metrics, arrays=arrays)


SIM = Simulation(
    number="12",
    name="fast_vs_pgd",
    title="fast (FGSM-RS) adversarial training vs PGD-AT: robustness and cost",
    paper="Wong, Rice & Kolter 2020; Goodwin, Brown & Helus 2020 (PAPERS.md §3)",
    configs=configs,
    run=run,
    label=lambda c: c.condition,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
