"""advsim's engine and numbered simulations.

The library surface is importable from the package itself — ``import sims`` then ``sims.PGD``,
``sims.L2Ball``, ``sims.train`` — and loaded lazily (PEP 562): importing the package imports nothing
heavy (no torch), and the first use of a name imports the one module that defines it. The engine
modules behind the names:

- data: :mod:`sims.data` (points on a subspace; the authors' line and checkerboard) and
  :mod:`sims.sparse` (sparse codes ``x = Mz + ξ``);
- models: :mod:`sims.nets` (ensembles of two-layer networks with closed-form gradients, the symmetric
  soft-threshold unit) and :mod:`sims.baselines` (the NTK linearisation);
- threat models and attacks: :mod:`sims.threat`, :mod:`sims.attacks`;
- training: :mod:`sims.methods` (clean, PGD-AT, fast AT, TRADES, BAT), :mod:`sims.training`,
  :mod:`sims.optim`, :mod:`sims.losses`;
- measurements: :mod:`sims.measure`;
- simulations and their records: :mod:`sims.simulation`, :mod:`sims.registry`, :mod:`sims.records`.

Command line: ``python -m sims list`` and ``python -m sims run <number|name|all> [--scale
quick|medium|paper]``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sims.errors import AdvsimError

#: Public name -> the module that defines it (the one place to extend the surface).
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        ("SubspaceData", "make_subspace_data", "random_basis", "checkerboard", "diagonal_line"),
        "sims.data",
    ),
    **dict.fromkeys(("SparseCodingLaw", "SparseCodingData", "make_sparse_data"), "sims.sparse"),
    **dict.fromkeys(
        (
            "TwoLayerEnsemble",
            "TwoLayerNet",
            "LinearEnsemble",
            "ThresholdRule",
            "init_ensemble",
            "symmetric_ensemble",
            "activation",
            "weight_arrays",
        ),
        "sims.nets",
    ),
    "LinearizedEnsemble": "sims.baselines",
    **dict.fromkeys(("L2Ball", "LinfBall", "Subspace", "ThreatModel"), "sims.threat"),
    **dict.fromkeys(
        (
            "PGD",
            "FGM",
            "FGSM",
            "MinNorm",
            "AttackResult",
            "MinNormResult",
            "RobustAccuracy",
            "robust_accuracy",
            "worst_case",
        ),
        "sims.attacks",
    ),
    **dict.fromkeys(
        ("Method", "Clean", "PGDAT", "FastAT", "TRADES", "BAT", "bernoulli_kl"), "sims.methods"
    ),
    **dict.fromkeys(("train", "TrainConfig", "TrainResult", "Measure"), "sims.training"),
    "OptimizerConfig": "sims.optim",
    **dict.fromkeys(("loss_value", "loss_derivative"), "sims.losses"),
    **dict.fromkeys(
        (
            "accuracy",
            "abs_cosine",
            "input_grad_split",
            "mixture_correlations",
            "neuron_decomposition",
            "offsubspace_drift",
            "offsubspace_ratio",
            "perturbation_structure",
            "project",
            "project_perp",
            "weight_split",
        ),
        "sims.measure",
    ),
    **dict.fromkeys(
        (
            "Simulation",
            "RunContext",
            "RunOutput",
            "SCALES",
            "member_seeds",
            "run_simulation",
            "run_simulations",
        ),
        "sims.simulation",
    ),
    **dict.fromkeys(("all_simulations", "find_simulation"), "sims.registry"),
    **dict.fromkeys(
        ("digits_pixels", "digits_subspace", "image_patches", "offsubspace_energy"), "sims.real_data"
    ),
    **dict.fromkeys(("RunRecord", "load_records", "skipped_records"), "sims.records"),
}

__all__ = [
    "BAT",
    "FGM",
    "FGSM",
    "PGD",
    "PGDAT",
    "SCALES",
    "TRADES",
    "AdvsimError",
    "AttackResult",
    "Clean",
    "FastAT",
    "L2Ball",
    "LinearEnsemble",
    "LinearizedEnsemble",
    "LinfBall",
    "Measure",
    "Method",
    "MinNorm",
    "MinNormResult",
    "OptimizerConfig",
    "RobustAccuracy",
    "RunContext",
    "RunOutput",
    "RunRecord",
    "Simulation",
    "SparseCodingData",
    "SparseCodingLaw",
    "Subspace",
    "SubspaceData",
    "ThreatModel",
    "ThresholdRule",
    "TrainConfig",
    "TrainResult",
    "TwoLayerEnsemble",
    "TwoLayerNet",
    "abs_cosine",
    "accuracy",
    "activation",
    "all_simulations",
    "bernoulli_kl",
    "checkerboard",
    "diagonal_line",
    "digits_pixels",
    "digits_subspace",
    "find_simulation",
    "image_patches",
    "init_ensemble",
    "input_grad_split",
    "load_records",
    "loss_derivative",
    "loss_value",
    "make_sparse_data",
    "make_subspace_data",
    "member_seeds",
    "mixture_correlations",
    "neuron_decomposition",
    "offsubspace_drift",
    "offsubspace_energy",
    "offsubspace_ratio",
    "perturbation_structure",
    "project",
    "project_perp",
    "random_basis",
    "robust_accuracy",
    "run_simulation",
    "run_simulations",
    "skipped_records",
    "symmetric_ensemble",
    "train",
    "weight_arrays",
    "weight_split",
    "worst_case",
]
assert set(__all__) == {"AdvsimError", *_EXPORTS}, "keep __all__ and _EXPORTS in step"
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Import the module behind a public name on first use (PEP 562) and cache the name here."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sims' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # what a type checker and an IDE see; nothing is imported at run time
    from sims.attacks import (
        FGM,
        FGSM,
        PGD,
        AttackResult,
        MinNorm,
        MinNormResult,
        RobustAccuracy,
        robust_accuracy,
        worst_case,
    )
    from sims.baselines import LinearizedEnsemble
    from sims.data import (
        SubspaceData,
        checkerboard,
        diagonal_line,
        make_subspace_data,
        random_basis,
    )
    from sims.losses import loss_derivative, loss_value
    from sims.measure import (
        abs_cosine,
        accuracy,
        input_grad_split,
        mixture_correlations,
        neuron_decomposition,
        offsubspace_drift,
        offsubspace_ratio,
        perturbation_structure,
        project,
        project_perp,
        weight_split,
    )
    from sims.methods import BAT, PGDAT, TRADES, Clean, FastAT, Method, bernoulli_kl
    from sims.nets import (
        LinearEnsemble,
        ThresholdRule,
        TwoLayerEnsemble,
        TwoLayerNet,
        activation,
        init_ensemble,
        symmetric_ensemble,
        weight_arrays,
    )
    from sims.optim import OptimizerConfig
    from sims.real_data import digits_pixels, digits_subspace, image_patches, offsubspace_energy
    from sims.records import RunRecord, load_records, skipped_records
    from sims.registry import all_simulations, find_simulation
    from sims.simulation import (
        SCALES,
        RunContext,
        RunOutput,
        Simulation,
        member_seeds,
        run_simulation,
        run_simulations,
    )
    from sims.sparse import SparseCodingData, SparseCodingLaw, make_sparse_data
    from sims.threat import L2Ball, LinfBall, Subspace, ThreatModel
    from sims.training import Measure, TrainConfig, TrainResult, train
