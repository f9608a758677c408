"""Simulation 10 — robust accuracy across the feasible range: clean vs adversarially trained (PGD and
FGM) vs low-complexity models.

Allen-Zhu & Li (2020), PAPERS.md §2: clean training reaches high clean accuracy but is not robust at a
radius τ where adversarial training is — even adversarial training with the one-step fast gradient
method (FGM); linear classifiers and the network's neural tangent kernel cannot be robust at that τ
whatever trains them.

Radii from the data's geometry, not from a prediction: ``cap`` is half the median distance (ℓ∞ or ℓ2)
from a test point to the nearest training point of the other class (:func:`sims.measure.feasibility_cap`;
for ±1/√k codes with ``M = I`` the ℓ∞ cap is ``k^{-1/2}/2``, :func:`theory.purification.feasibility_cap`):
beyond it no classifier right on both points is robust for half the test points. Every model is
evaluated on :data:`EVAL_FRACS` of the cap (1/16 of the cap to the cap), in both norms. (The
simulation keeps its name, ``robust_window``, from its earlier design around a derived window, so
that record paths stay stable.)

Models, all on the same training points and continued from (or trained beside) the same clean members:
the clean-trained symmetric network; ℓ∞ PGD-AT at the training radii :data:`AT_FRACS` of the ℓ∞ cap;
ℓ∞ FGM-AT (FGSM: one step of ε from the clean point) at :data:`FGM_FRAC` of the cap, the middle PGD-AT
radius, so that the two compare at equal training radius; logistic regression (exact flip radii
``|f|/‖w‖₁`` and ``|f|/‖w‖₂`` recorded too, as ``linear_flip_linf``/``linear_flip_l2``); the network's
linearisation at a standard init (its NTK model, :class:`sims.baselines.LinearizedEnsemble`). The
``paper`` rung adds ℓ2 PGD-AT at :data:`L2_FRAC` of the ℓ2 cap. Robust accuracy is the worst case of
PGD-50 with two restarts; clean accuracy is recorded beside it, and every accuracy is also stored per
member and point (``*_test_correct``, ``*_{norm}_robust_points``: what the checks' paired intervals
resample). Every attacked model's parameters are stored (``{model}_W``, ``_b``, ``_a``, ``_threshold``;
the NTK model's base and ``delta``; ``linear_w``, ``linear_c``:
:func:`sims.purification_runs.network_arrays`), so anyone can re-attack it with another library.

Control: dense codes (``k = d``), attacked and trained at the same fractions of *their* cap — the same
radii relative to the code magnitude (entries ``±d^{-1/2}`` instead of ``±k^{-1/2}``; its ℓ∞ cap is
``d^{-1/2}``, with no support to swap); it trains no baselines (no check reads them there).

Scales: ``quick`` — ``d = 64``, ``k = 4``, 8 members, 250 attacked points; ``medium`` — ``d = 80``,
``k = 5``, ``m = 320``, 10 members, 500 clean and 250 adversarial steps, 500 attacked points; ``paper``
(with the ℓ2-trained net) — ``d = 256``, ``k = 8``, ``m = 1024``, ``n = 8000``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

import numpy as np
import torch

from sims.attacks import PGD, robust_accuracy
from sims.cli import main_for
from sims.errors import check_int
from sims.measure import accuracy, feasibility_cap
from sims.nets import LinearEnsemble, ScalarModel
from sims.purification_runs import (
    ATSpec,
    PurificationSetup,
    continue_at,
    correct_points,
    data_arrays,
    network_arrays,
    threat,
    train_clean,
    train_linear,
    train_ntk,
)
from sims.simulation import RunContext, RunOutput, Simulation

#: Evaluation radii as fractions of the data's cap (in each norm).
EVAL_FRACS = (1 / 16, 1 / 8, 1 / 4, 3 / 8, 1 / 2, 3 / 4, 1.0)
#: ℓ∞ PGD-AT's training radii as fractions of the ℓ∞ cap (inside the feasible range).
AT_FRACS = (0.25, 0.5, 0.75)
#: ℓ∞ FGM-AT's training radius as a fraction of the cap: PGD-AT's middle one.
FGM_FRAC = 0.5
assert FGM_FRAC in AT_FRACS
#: ℓ2 PGD-AT's training radius (``paper`` rung) as a fraction of the ℓ2 cap.
L2_FRAC = 0.5
#: The low-complexity baselines.
BASELINES = ("linear", "ntk")


def pgd_name(frac: float) -> str:
    """The model name of ℓ∞ PGD-AT at ``frac`` of the cap (``pgd25`` for 0.25); the records carry the
    names (``at_models``, ``fgm_model``, ``fgm_reference``), so the checks never rebuild them."""
    return f"pgd{round(100 * frac)}"


#: The model trained by FGM at :data:`FGM_FRAC`, and PGD-AT at the same radius.
FGM_MODEL = f"fgm{round(100 * FGM_FRAC)}"
PGD_MATCH = pgd_name(FGM_FRAC)


@dataclass(frozen=True)
class Config:
    """One row: the purification setting, the adversarial trainings' step counts, whether the ℓ2
    PGD-AT net and the low-complexity baselines are trained too, and how many test points are
    attacked."""

    condition: str
    role: str
    setup: PurificationSetup
    at_steps: int = 200
    with_l2: bool = False
    baselines: bool = True
    n_eval: int = 500

    def __post_init__(self) -> None:
        check_int("at_steps", self.at_steps, 1)
        check_int("n_eval", self.n_eval, 1)

    @property
    def models(self) -> tuple[str, ...]:
        """The models this row trains."""
        out = ["clean", *(pgd_name(f) for f in AT_FRACS), FGM_MODEL]
        out += ["pgd_l2"] if self.with_l2 else []
        return tuple(out + (list(BASELINES) if self.baselines else []))


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
    return [
        Config("sparse", "law", base, steps, with_l2, n_eval=n_eval),
        Config("dense", "control", replace(base, k=base.d), steps, with_l2, False, n_eval),
    ]


def run(cfg: Config, ctx: RunContext) -> RunOutput:
    """Train the row's models; clean and robust accuracy of each, per point, on both grids."""
    s = cfg.setup
    r = train_clean(s, ctx.device)
    caps = {
        p: feasibility_cap(r.X_test, r.y_test, r.X, r.y, q)
        for p, q in (("linf", np.inf), ("l2", 2.0))
    }
    models: dict[str, ScalarModel] = {"clean": r.ens}
    for f in AT_FRACS:
        models[pgd_name(f)] = continue_at(
            r, ATSpec("linf", f * caps["linf"], "pgd", steps=cfg.at_steps)
        )
    models[FGM_MODEL] = continue_at(
        r, ATSpec("linf", FGM_FRAC * caps["linf"], "fgm", steps=cfg.at_steps)
    )
    if cfg.with_l2:
        models["pgd_l2"] = continue_at(
            r, ATSpec("l2", L2_FRAC * caps["l2"], "pgd", steps=cfg.at_steps)
        )
    if cfg.baselines:
        models["linear"] = train_linear(r, steps=s.clean_steps, lr=s.lr * 10)
        models["ntk"] = train_ntk(r, steps=s.clean_steps, lr=s.lr)
    X, y = r.X_test[: cfg.n_eval], r.y_test[: cfg.n_eval]
    grids = {p: caps[p] * np.asarray(EVAL_FRACS) for p in caps}
    arrays = {
        **data_arrays(r),
        "linf_grid": grids["linf"],
        "l2_grid": grids["l2"],
        "linf_cap": np.asarray(caps["linf"]),
        "l2_cap": np.asarray(caps["l2"]),
        "at_fracs": np.asarray(AT_FRACS),
        "at_models": np.asarray([pgd_name(f) for f in AT_FRACS]),
        "fgm_model": np.asarray(FGM_MODEL),
        "fgm_reference": np.asarray(PGD_MATCH),
        "fgm_frac": np.asarray(FGM_FRAC),
        "fgm_eps": np.asarray(FGM_FRAC * caps["linf"]),
    }
    metrics: dict[str, float] = {"linf_cap": caps["linf"], "l2_cap": caps["l2"]}
    attacks = (PGD(steps=50, restarts=2),)
    for name, model in models.items():
        arrays.update(network_arrays(model, f"{name}_"))
        arrays[f"{name}_train_acc"] = accuracy(model, r.X, r.y)
        arrays[f"{name}_test_correct"] = correct_points(model, r.X_test, r.y_test)
        arrays[f"{name}_test_acc"] = arrays[f"{name}_test_correct"].mean(axis=1)
        metrics[f"{name}_test_acc"] = float(arrays[f"{name}_test_acc"].mean())
        for norm, grid in grids.items():
            ra = robust_accuracy(model, X, y, threat(norm), tuple(grid), attacks=attacks)
            clean_ok = ra.success.new_tensor(arrays[f"{name}_test_correct"][:, : cfg.n_eval])
            points = clean_ok[:, None, :] & ~ra.success
            arrays[f"{name}_{norm}_robust"] = ra.accuracy.detach().cpu().numpy()
            arrays[f"{name}_{norm}_robust_points"] = points.cpu().numpy()
    if cfg.baselines:
        lin = models["linear"]
        assert isinstance(lin, LinearEnsemble)
        with torch.no_grad():
            # exact minimal flips |f|/‖w‖_q (q dual to the norm; PAPERS.md §5), the attacks' ground truth
            arrays["linear_flip_linf"] = lin.flip_radius(X, 1.0).cpu().numpy()
            arrays["linear_flip_l2"] = lin.flip_radius(X, 2.0).cpu().numpy()
        metrics["linear_flip_linf_median"] = float(np.median(arrays["linear_flip_linf"]))
    return RunOutput(metrics=metrics, arrays=arrays)


SIM = Simulation(
    number="10",
    name="robust_window",
    title="robust accuracy across the feasible range: clean vs PGD-AT and FGM-AT vs linear and NTK",
    paper="Allen-Zhu & Li 2020 (PAPERS.md §2: non-robustness of clean training; low-complexity bound)",
    configs=configs,
    run=run,
    label=lambda c: c.condition,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
