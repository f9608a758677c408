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
recorded beside it, and every accuracy is also stored per member and point (``*_test_correct``,
``*_linf_robust_points``: what the checks' paired intervals resample). Control: dense codes (``k = d``),
where the window and the gap should vanish; it trains no baselines (no check reads them there).

Scales: ``quick`` — ``d = 64``, ``k = 4``, 8 members, 250 attacked points, no ℓ2-trained net (no claim
reads it); ``medium`` — ``d = 80``, ``k = 5``, ``m = 320``, 10 members, 500 clean and 250 adversarial steps, 500
attacked points, no ℓ2-trained net either; ``paper`` (with the ℓ2-trained net, for the figure) — ``d = 256``, ``k = 8``, ``m = 1024``, ``n = 8000``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

import numpy as np
import torch

from sims.attacks import PGD, robust_accuracy
from sims.cli import main_for
from sims.errors import check_int
from sims.measure import accuracy
from sims.nets import LinearEnsemble, ScalarModel
from sims.purification_runs import (
    ATSpec,
    PurificationSetup,
    continue_at,
    correct_points,
    data_arrays,
    threat,
    train_clean,
    train_linear,
    train_ntk,
)
from sims.simulation import RunContext, RunOutput, Simulation
from theory.purification import robustness_window_linf

L2_GRID = (0.125, 0.25, 0.5, 1.0)
MODELS = ("clean", "at_linf", "at_l2", "linear", "ntk")


@dataclass(frozen=True)
class Config:
    """One row: the purification setting, the adversarial trainings continued from the clean weights
    (``at``: ℓ∞ first, then optionally ℓ2), whether the low-complexity baselines (logistic regression,
    NTK model) are trained too, and how many test points are attacked."""

    condition: str
    role: str
    setup: PurificationSetup
    at: tuple[ATSpec, ...]
    baselines: bool = True
    n_eval: int = 500

    def __post_init__(self) -> None:
        check_int("n_eval", self.n_eval, 1)
        if not self.at or self.at[0].norm != "linf":
            raise ValueError("at must start with the l-inf adversarial training")

    @property
    def models(self) -> tuple[str, ...]:
        """The models this row trains, in :data:`MODELS` order."""
        out = ["clean", "at_linf"] + (["at_l2"] if len(self.at) > 1 else [])
        return tuple(out + (["linear", "ntk"] if self.baselines else []))


def linf_grid(k: int) -> np.ndarray:
    """Seven radii, log-spaced from ``k^{-3/2}/2`` to ``k^{-1/2}`` (the window and a point below)."""
    lo, hi = robustness_window_linf(k)
    return np.geomspace(lo / 2, hi, 7)


def configs(scale: str) -> list[Config]:
    """Sparse codes (law) and dense codes (control)."""
    if scale == "quick":
        base = PurificationSetup(dtype="float32", n_seeds=8)
        steps, n_eval, with_l2 = 200, 250, False
    elif scale == "medium":
        base = PurificationSetup(dtype="float32", d=80, k=5, m=320, clean_steps=500, n_seeds=10)
        steps, n_eval, with_l2 = 250, 500, False  # no claim reads the l2-trained model
    else:
        base = PurificationSetup(
            dtype="float32", d=256, k=8, m=1024, n=8000, clean_steps=2000, n_seeds=8
        )
        steps, n_eval, with_l2 = 1000, 500, True

    def specs(k: int) -> tuple[ATSpec, ...]:
        linf = ATSpec("linf", k**-1.5, "pgd", steps=steps)
        return (linf, ATSpec("l2", 0.25, "pgd", steps=steps)) if with_l2 else (linf,)

    return [
        Config("sparse", "law", base, specs(base.k), n_eval=n_eval),
        Config("dense", "control", replace(base, k=base.d), specs(base.d), False, n_eval),
    ]


def run(cfg: Config, ctx: RunContext) -> RunOutput:
    """Train the row's models; clean and robust accuracy of each, per point, on both grids."""
    s = cfg.setup
    r = train_clean(s, ctx.device)
    models: dict[str, ScalarModel] = {"clean": r.ens}
    for spec in cfg.at:
        models[f"at_{spec.norm}"] = continue_at(r, spec)
    if cfg.baselines:
        models["linear"] = train_linear(r, steps=s.clean_steps, lr=s.lr * 10)
        models["ntk"] = train_ntk(r, steps=s.clean_steps, lr=s.lr)
    X, y = r.X_test[: cfg.n_eval], r.y_test[: cfg.n_eval]
    grids = {"linf": linf_grid(s.k), "l2": np.asarray(L2_GRID)}
    arrays = {**data_arrays(r), "linf_grid": grids["linf"], "l2_grid": grids["l2"]}
    metrics: dict[str, float] = {}
    attacks = (PGD(steps=50, restarts=2),)
    for name, model in models.items():
        arrays[f"{name}_train_acc"] = accuracy(model, r.X, r.y)
        arrays[f"{name}_test_correct"] = correct_points(model, r.X_test, r.y_test)
        arrays[f"{name}_test_acc"] = arrays[f"{name}_test_correct"].mean(axis=1)
        metrics[f"{name}_test_acc"] = float(arrays[f"{name}_test_acc"].mean())
        for norm, grid in grids.items():
            ra = robust_accuracy(model, X, y, threat(norm), grid, attacks=attacks)
            clean_ok = ra.success.new_tensor(arrays[f"{name}_test_correct"][:, : cfg.n_eval])
            points = clean_ok[:, None, :] & ~ra.success
            arrays[f"{name}_{norm}_robust"] = ra.accuracy.detach().cpu().numpy()
            arrays[f"{name}_{norm}_robust_points"] = points.cpu().numpy()
    if cfg.baselines:
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
