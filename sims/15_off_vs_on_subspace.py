"""Simulation 15 — adversarial examples exist off the data subspace: off- vs on-subspace flip radius.

Paper: Melamed, Yehudai & Vardi (NeurIPS 2023), the headline result [paper, abstract]: networks trained
on data in a low-dimensional linear subspace are "susceptible to small adversarial ℓ2-perturbations in
the directions orthogonal to the data subspace". Derived (PAPERS.md §1, gradient law; :mod:`theory.
subspace`): ``P⊥∇f(x) = Σ_{j active} a_j P⊥w_j(0)`` has RMS size ``β √(p̄ ℓ⊥/d)`` (order one at fixed
``k_P``), so the first-order off-subspace radius ``r* = |f|/‖P⊥∇f‖`` does not grow with the co-dimension
``ℓ⊥ = d − k_P`` (:func:`theory.subspace.offsubspace_radius_exponent`), whereas the on-subspace radius is
set by the learned function in ``P``, which ℓ⊥ does not enter.

Data scale: the radius of the point cloud sets how the initialisation sees the data. Standard
initialisation (LeCun/He: ``N(0, 1/d)`` weights) is designed for inputs of unit variance per coordinate,
``‖x‖ ≈ √d``, where the pre-activations ``w_j·x`` are of order β at initialisation; the random-network
results this paper builds on use the same normalisation. The law rows therefore draw points with
``E‖x‖² = d`` (``radius = √d``). On unit-norm data (the generator's default, simulations 02–05) the
pre-activations start at ``β/√d``: for the data that is a small initialisation by a factor ``√d``, so
those rows are a control, like β = 1/16.

Grid: ``k_P = 5`` fixed, ``d`` swept (ℓ⊥ from 15 to 155 at ``quick``), GD with fixed ``a_j = ±1/√m``
until ``min_i y_i f(x_i) > 0.3`` (:data:`STOP_MARGIN`), learning rate ``1/d`` (``1/radius²``: the
same effective step at every data scale), biases fixed at 0 (a bias's step would not rescale). At
every test point and for every member: the minimal ℓ2 flip radius restricted to ``P⊥`` (``r_off``), to
``P`` (``r_on``) and unrestricted (``r_any``), all from :func:`sims.subspace_runs.flip_radius` with
the same search effort, and the distance to the nearest training point of the other class
(``nn_other``). Every member trains on its own draw of the data (``per_member_data``: points and
labels, on one shared subspace — the init is rotation invariant, so which subspace does not matter), so
members are independent replicates of the whole experiment and the claims' intervals, which resample
members, cover the data draw; member ``j`` has the same draw in every row of a ``d`` (a paired design
across conditions). Controls: a small initialisation (β = 1/16, the paper's remedy: ``‖P⊥∇f‖ ∝ β``) and
unit-norm data (a small initialisation relative to the data) for the off- vs on-subspace comparison;
for the radius law, unit-norm data again and a first-layer variance that does not shrink with ``d``
(``N(0, 1/d_min)``, β = √(d/d_min)), under which ``‖P⊥∇f‖ ∝ √ℓ⊥``: the law reads the radius per unit
of output, ``r_off/|f|`` (what the derivation predicts at fixed ``|f|``), which then falls as
``ℓ⊥^{−1/2}`` whatever a larger initialisation does to ``|f|``. The three rows at data scale ``√d``
train as one ensemble per ``d``; the unit-norm row (the same draws, rescaled) trains on its own.

Arrays: :func:`sims.subspace_runs.gradient_arrays` (with per-member data: ``X (M, n, d)``, ``y (M, n)``,
``X_test``, ``y_test`` likewise) plus ``r_off``, ``r_on``, ``r_any`` and ``nn_other``, each
``(M, n_test)`` (NaN for points the member misclassifies, ``inf`` where no flip was found within the
search).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from sims.cli import main_for
from sims.simulation import RunContext, RunOutput, Simulation, first_of_group, one_row
from sims.subspace_runs import (
    FLIP_DIRECTIONS,
    SearchedCondition,
    SubspaceSetup,
    flip_radius,
    gradient_arrays,
    nearest_other_class,
    searched_group,
    summary_metrics,
    train_group,
    training_metrics,
)

#: Every member trains until ``min_i y_i f(x_i) > 0.3`` — the stop rule of the authors' own figure code
#: (PAPERS.md §1) — so that ``|f|`` at the data is the same at every ``d`` and the radii compare
#: ``‖P⊥∇f‖`` and ``‖P∇f‖``, not how far training happened to go.
STOP_MARGIN = 0.3

#: The init scale of the small-initialisation control (``‖P⊥∇f‖`` is 16 times smaller at a given
#: activation pattern: :func:`theory.subspace.init_scale_slope`).
SMALL_INIT = 1.0 / 16


@dataclass(frozen=True)
class _Grid:
    """One rung: the subspace dimension, the swept ambient dimensions, width, training and test points
    and members per row."""

    k: int
    ds: tuple[int, ...]
    m: int
    n: int
    n_test: int
    n_seeds: int
    steps: int


_GRIDS = {
    "quick": _Grid(k=5, ds=(20, 40, 80, 160), m=200, n=60, n_test=30, n_seeds=8, steps=8000),
    "medium": _Grid(
        k=5, ds=(20, 40, 80, 160, 320), m=300, n=60, n_test=40, n_seeds=12, steps=8000
    ),
    "paper": _Grid(
        k=10, ds=(40, 80, 160, 320, 640, 1280), m=1000, n=100, n_test=100, n_seeds=16, steps=20000
    ),
}


#: One ambient dimension ``d`` (in ``setup``) under the law (GD, β = 1) or a control, and the effort of
#: the three flip-radius searches.
Config = SearchedCondition


def configs(scale: str) -> list[Config]:
    """The ``d`` sweep at fixed ``k_P``, data at the standard scale ``‖x‖ ≈ √d``: GD at β = 1 (the law);
    controls: β = 1/16, a first-layer variance that does not shrink with ``d`` (β = √(d/d_min)), and
    the law's GD on unit-norm data."""
    g = _GRIDS[scale]
    out = []
    for d in g.ds:
        unit = SubspaceSetup(
            d=d,
            k=g.k,
            m=g.m,
            n=g.n,
            n_test=g.n_test,
            n_seeds=g.n_seeds,
            stop_accuracy=None,
            stop_margin=STOP_MARGIN,
            steps=g.steps,
            train_b=False,
            per_member_data=True,
        )
        # x = R x' with W = W'/R is unit-norm data under init β·R and learning rate η·R²: η = 1/R²
        # keeps GD's effective step that of the unit-norm rows. The biases stay at 0 (train_b=False):
        # their gradient does not scale with R, so trained biases would step 1/d here and break the
        # equivalence across the sweep.
        r = math.sqrt(d)
        base = replace(unit, radius=r, lr=1.0 / d)
        out.append(Config(f"gd-d{d}", "law", base))
        out.append(Config(f"small_init-d{d}", "control", replace(base, first_scale=SMALL_INIT)))
        fixed = replace(base, first_scale=math.sqrt(d / g.ds[0]))
        out.append(Config(f"fixed_variance-d{d}", "control", fixed))
        out.append(Config(f"unit_norm-d{d}", "control", unit))
    return out


def run_group(cfgs: Sequence[Config], ctx: RunContext) -> list[RunOutput]:
    """Train the rows of one ``d`` at once; measure the gradients, the three flip radii (one search
    per direction over all members) and the nearest other-class distance; split by row."""
    first: Config = first_of_group(searched_group, cfgs, "the init scale β")
    tg = train_group([c.setup for c in cfgs], ctx.device)
    radii = {where: flip_radius(tg, where, **first.search()) for where in FLIP_DIRECTIONS}
    k = first.setup.n_seeds
    # once for the group: member j has the same draw in every row ((M, n_test); (n_test,) if shared)
    nn = nearest_other_class(tg)
    outs = []
    for i, cfg in enumerate(cfgs):
        t = tg.row(i, k)
        arrays = gradient_arrays(t)
        for where, r in radii.items():
            arrays[f"r_{where}"] = r[i * k : (i + 1) * k]
        own = nn[i * k : (i + 1) * k] if nn.ndim == 2 else nn
        row_nn = np.broadcast_to(own, arrays["r_off"].shape).copy()
        arrays["nn_other"] = row_nn
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = arrays["r_off"] / arrays["r_on"]
        metrics = {
            **summary_metrics(arrays),
            "d": float(cfg.setup.d),
            "codim": float(cfg.setup.codim),
            "beta": cfg.setup.first_scale,
            "r_off_median": float(np.nanmedian(arrays["r_off"])),
            "r_on_median": float(np.nanmedian(arrays["r_on"])),
            "r_any_median": float(np.nanmedian(arrays["r_any"])),
            "nn_other_median": float(np.median(row_nn)),
            "off_on_ratio_median": float(np.nanmedian(ratio)),
            **training_metrics(t),
        }
        outs.append(RunOutput(metrics=metrics, arrays=arrays))
    return outs


SIM = Simulation(
    number="15",
    name="off_vs_on_subspace",
    title="minimal flip radius off vs inside the data subspace, over the co-dimension at fixed k",
    paper="Melamed, Yehudai & Vardi 2023, PAPERS.md §1 (the main result)",
    configs=configs,
    run=one_row(run_group),
    label=lambda c: c.condition,
    group=searched_group,
    run_group=run_group,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
