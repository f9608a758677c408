"""Simulation 10 — the robust-accuracy window: clean vs adversarially trained vs low-complexity models.

Allen-Zhu & Li (2020), PAPERS.md §2: clean training reaches high clean accuracy but is not robust at a
radius τ where adversarial training is; linear classifiers and the network's neural tangent kernel
cannot be robust at that τ whatever trains them. Derived (M = I): the clean net flips at ℓ∞ radius
``≈ k^{-3/2}``, the purified net holds to ``≈ k^{-1/2}``, so robust accuracy should differ most for τ in
``(k^{-3/2}, k^{-1/2})`` (:func:`theory.purification.robustness_window_linf`).

Models, all on the same training points: the clean-trained symmetric network; PGD-AT continued from it
(ℓ∞ at ``ε = k^{-3/2}``, and ℓ2 at 0.25 for the ℓ2 analogue); logistic regression (exact flip radii
``|f|/‖w‖₁`` and ``|f|/‖w‖₂`` recorded too, as ``linear_flip_linf``/``linear_flip_l2``); the network's linearisation at a standard init (its NTK
model, :class:`sims.baselines.LinearizedEnsemble`). Robust accuracy is the worst case of PGD-50 with two
restarts on a radius grid spanning ``k^{-3/2}/2 … k^{-1/2}`` (ℓ∞) and ``0.125 … 1`` (ℓ2); clean accuracy is
recorded beside it. Control: dense codes (``k = d``), where the window and the gap should vanish.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import torch

from sims.attacks import PGD, robust_accuracy
from sims.cli import main_for
from sims.measure import accuracy
from sims.nets import LinearEnsemble, ScalarModel
from sims.purification_runs import (
    ATSpec,
    Condition,
    PurificationSetup,
    continue_at,
    data_arrays,
    threat,
    train_clean,
    train_linear,
    train_ntk,
)
from sims.simulation import RunContext, RunOutput, Simulation
from theory.purification import robustness_window_linf

Config = Condition

#: Test points whose robust accuracy is measured.
N_EVAL = 500
L2_GRID = (0.125, 0.25, 0.5, 1.0)
MODELS = ("clean", "at_linf", "at_l2", "linear", "ntk")


def linf_grid(k: int) -> np.ndarray:
    """Seven radii, log-spaced from ``k^{-3/2}/2`` to ``k^{-1/2}`` (the window and a point below)."""
    lo, hi = robustness_window_linf(k)
    return np.geomspace(lo / 2, hi, 7)


def configs(scale: str) -> list[Config]:
    """Sparse codes (law) and dense codes (control)."""
    base = PurificationSetup(dtype="float32", n_seeds=2 if scale == "quick" else 8)
    steps = 200 if scale == "quick" else 1000
    if scale == "paper":
        base = replace(base, d=256, k=8, m=1024, n=8000, clean_steps=2000)

    def specs(k: int) -> tuple[ATSpec, ...]:
        return (ATSpec("linf", k**-1.5, "pgd", steps=steps), ATSpec("l2", 0.25, "pgd", steps=steps))

    return [
        Condition("sparse", "law", base, specs(base.k)),
        Condition("dense", "control", replace(base, k=base.d), specs(base.d)),
    ]


def run(cfg: Config, ctx: RunContext) -> RunOutput:
    """Train the four kinds of model; robust accuracy of each on both grids."""
    s = cfg.setup
    r = train_clean(s, ctx.device)
    models: dict[str, ScalarModel] = {
        "clean": r.ens,
        "at_linf": continue_at(r, cfg.at[0]),
        "at_l2": continue_at(r, cfg.at[1]),
        "linear": train_linear(r, steps=s.clean_steps, lr=s.lr * 10),
        "ntk": train_ntk(r, steps=s.clean_steps, lr=s.lr),
    }
    X, y = r.X_test[:N_EVAL], r.y_test[:N_EVAL]
    grids = {"linf": linf_grid(s.k), "l2": np.asarray(L2_GRID)}
    arrays = {**data_arrays(r), "linf_grid": grids["linf"], "l2_grid": grids["l2"]}
    metrics: dict[str, float] = {}
    attacks = (PGD(steps=50, restarts=2),)
    for name, model in models.items():
        arrays[f"{name}_test_acc"] = accuracy(model, r.X_test, r.y_test)
        metrics[f"{name}_test_acc"] = float(arrays[f"{name}_test_acc"].mean())
        for norm, grid in grids.items():
            ra = robust_accuracy(model, X, y, threat(norm), grid, attacks=attacks)
            arrays[f"{name}_{norm}_robust"] = ra.accuracy.detach().cpu().numpy()
    lin = models["linear"]
    assert isinstance(lin, LinearEnsemble)
    with torch.no_grad():
        arrays["linear_w"] = lin.w.detach().cpu().numpy()
        arrays["linear_c"] = lin.c.detach().cpu().numpy()
        # exact minimal flips |f(x)|/‖w‖_q (q dual to the norm; PAPERS.md §5), the attacks' ground truth
        arrays["linear_flip_linf"] = lin.flip_radius(X, 1.0).cpu().numpy()
        arrays["linear_flip_l2"] = lin.flip_radius(X, 2.0).cpu().numpy()
    metrics["linear_flip_linf_median"] = float(np.median(arrays["linear_flip_linf"]))
    return RunOutput(metrics=metrics, arrays=arrays)


SIM = Simulation(
    number="10",
    name="robust_window",
    title="robust accuracy: clean vs adversarially trained vs linear and NTK models",
    paper="Allen-Zhu & Li 2020 (PAPERS.md §2: non-robustness of clean training; low-complexity bound)",
    configs=configs,
    run=run,
    label=lambda c: c.condition,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
