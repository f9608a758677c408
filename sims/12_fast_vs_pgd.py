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
(training steps × the method's passes per step) and wall seconds.

Whether fast ℓ2 AT keeps the features of robust models (Goodwin et al.'s "human-aligned" features; our
synthetic analogue, PAPERS.md §3) is measured as the share ``‖P∇f‖/‖∇f‖`` of input-gradient mass on the
data subspace (subspace data) and the neurons' purity in the dictionary basis (sparse codes).

Records: ``eps_grid (K,)``, ``robust (M, K)``, ``test_acc (M,)``, ``grad_on_share (M, n)`` (subspace) or
``purity (M, m)`` (sparse); ``grad_evals`` and ``seconds`` (metrics).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from sims.attacks import PGD, robust_accuracy
from sims.cli import main_for
from sims.errors import check_choice, check_float
from sims.measure import accuracy, input_grad_split, neuron_decomposition
from sims.nets import TwoLayerEnsemble
from sims.purification_runs import ATSpec, PurificationSetup, continue_at, threat, train_clean
from sims.simulation import RunContext, RunOutput, Simulation
from sims.subspace_runs import SubspaceSetup, train_setup

#: Training radii per data set and norm.
EPS = {
    ("subspace", "linf"): 0.05,
    ("subspace", "l2"): 0.5,
    ("sparse", "linf"): 0.125,
    ("sparse", "l2"): 0.25,
}
PGD_STEPS = 10
MULTIPLES = (0.5, 1.0, 1.5)
N_EVAL = 300


@dataclass(frozen=True)
class Config:
    """One model: the data set, the norm, the training method (``clean``, ``fast``, ``pgd``), the
    radius, and the scale's sizes."""

    condition: str
    role: str
    data: str
    norm: str
    method: str
    eps: float
    steps: int
    n_seeds: int = 2

    def __post_init__(self) -> None:
        check_choice("role", self.role, ("law", "control"))
        check_choice("data", self.data, ("subspace", "sparse"))
        check_choice("norm", self.norm, ("linf", "l2"))
        check_choice("method", self.method, ("clean", "fast", "pgd"))
        check_float("eps", self.eps, 0.0, lo_open=True)


def configs(scale: str) -> list[Config]:
    """Both data sets × both norms × (clean, fast, PGD)."""
    out = []
    for (data, norm), eps in EPS.items():
        steps = (150 if data == "subspace" else 100) * (1 if scale == "quick" else 5)
        seeds = (4 if data == "subspace" else 2) * (1 if scale == "quick" else 4)
        for method in ("clean", "fast", "pgd"):
            role = "control" if method == "clean" else "law"
            out.append(
                Config(f"{data}-{norm}-{method}", role, data, norm, method, eps, steps, seeds)
            )
    return out


Trained = tuple[TwoLayerEnsemble, torch.Tensor, torch.Tensor, float, int, dict[str, np.ndarray]]


def _subspace(cfg: Config, device: str) -> Trained:
    s = SubspaceSetup(
        d=100,
        k=10,
        m=200,
        n=60,
        n_test=N_EVAL,
        n_seeds=cfg.n_seeds,
        steps=cfg.steps,
        stop_accuracy=None,
        lr=0.5,
    )
    if cfg.method != "clean":
        s = replace(s, at_eps=cfg.eps, at_norm=cfg.norm, at_steps=PGD_STEPS, at_method=cfg.method)
    t = train_setup(s, device)
    per_step = 1 if cfg.method == "clean" else (2 if cfg.method == "fast" else PGD_STEPS + 1)
    split = input_grad_split(t.ens, t.X_test, t.data.basis)
    on, off = split["grad_on"].cpu().numpy(), split["grad_off"].cpu().numpy()
    features = {"grad_on_share": on / np.sqrt(on**2 + off**2)}
    return t.ens, t.X_test, t.y_test, t.result.seconds, cfg.steps * per_step, features


def _sparse(cfg: Config, device: str) -> Trained:
    r = train_clean(PurificationSetup(dtype="float32", n_seeds=cfg.n_seeds), device)
    spec = ATSpec(
        cfg.norm,
        cfg.eps if cfg.method != "clean" else 0.0,
        "fast" if cfg.method == "fast" else "pgd",
        attack_steps=PGD_STEPS if cfg.method == "pgd" else 1,
        steps=cfg.steps,
    )
    t0 = time.perf_counter()
    ens = continue_at(r, spec)
    seconds = time.perf_counter() - t0
    per_step = 1 if cfg.method == "clean" else spec.method("logistic", 0).gradient_evaluations
    dec = neuron_decomposition(ens.W.detach().cpu().numpy(), r.data.dictionary, r.data.w_star)
    features = {"purity": dec["purity"]}
    return ens, r.X_test[:N_EVAL], r.y_test[:N_EVAL], seconds, cfg.steps * per_step, features


def run(cfg: Config, ctx: RunContext) -> RunOutput:
    """Train one kind of model; robust accuracy on the radius grid; cost."""
    ens, X, y, seconds, evals, features = (_subspace if cfg.data == "subspace" else _sparse)(
        cfg, ctx.device
    )
    grid = np.asarray(MULTIPLES) * cfg.eps
    ra = robust_accuracy(ens, X, y, threat(cfg.norm), grid, attacks=(PGD(steps=50, restarts=2),))
    arrays = {
        "eps_grid": grid,
        "robust": ra.accuracy.cpu().numpy(),
        **features,
        "test_acc": accuracy(ens, X, y),
    }
    metrics = {
        "robust_at_eps": float(arrays["robust"][:, 1].mean()),
        "test_acc": float(arrays["test_acc"].mean()),
        "grad_evals": float(evals),
        "seconds": seconds,
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
