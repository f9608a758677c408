"""Simulation 16 — the off-subspace mechanism on real data: handwritten digits on a PCA subspace.

Paper: Melamed, Yehudai & Vardi (NeurIPS 2023), PAPERS.md §1, motivated by real images lying near a
low-dimensional subspace. Data: :func:`sims.real_data.digits_subspace` — scikit-learn's 8×8 digits
(``d = 64``), digits 0–4 against 5–9, standardised, with the top-``k`` principal directions of the
training split as the subspace ``P``. Two versions of the same points:

* ``digits`` — every point projected onto ``P``: the data lie *exactly* on a ``k``-dimensional linear
  subspace with real geometry, so the theorem's condition holds and every derived statement of
  simulations 01–05 and 15 applies unchanged: ``P⊥W`` stays at its initial value under GD (an
  identity), ``‖P⊥∇f‖`` follows the initialisation's law, a small initialisation shrinks it by β, and one
  direction built from the initial weights is universal;
* ``digits_raw`` — the standardised points themselves, which lie only *near* ``P`` (41% of their energy
  off it at ``k = 10``): the control where the invariant holds only approximately — how far does the
  mechanism survive?

Setting (the gradient-law setting of simulations 02 and 15): first layer ``N(0, β²/d)``, fixed
output weights ``±1/√m``, biases fixed at 0, full-batch GD on the logistic loss for a fixed number
of steps (digits 0–4 vs 5–9 are not separable by these nets in reasonable time, so no stop rule), in
float64 (the frozen-weights identity is checked at float64 rounding; the Adam control runs in
float32). Standardised pixels have unit variance, so the data sit at the standard scale ``‖x‖ ≈ √d``
the initialisation is designed for (simulation 15's law rows). Rows: GD at β = 1 (the law) and β =
1/16 (the paper's remedy), on both versions; Adam on the projected digits (a control: Adam's
per-coordinate steps move ``P⊥W``). Members differ by their initialisation only (one data set, one
split): the claims' intervals resample members and test points within members.

Measured per member and test point: the gradient law's arrays (:func:`sims.subspace_runs.
gradient_arrays`), the universal direction (:func:`sims.subspace_runs.universal_arrays`), the minimal
ℓ2 flip radius off the subspace, inside it and unrestricted (``r_off``, ``r_on``, ``r_any``,
:func:`sims.subspace_runs.flip_search`) and the distance to the nearest training point of the other
class (``nn_other``) — neither on the Adam row — and, for the pictures, the minimal off- and on-subspace
perturbations of the first :data:`N_PICTURED` test points (``delta_off``, ``delta_on``, ``(M, 8, 64)``).
``drift (M,)`` is the final ``‖P⊥(W − W0)‖_F / ‖P⊥W0‖_F``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from sims.cli import main_for
from sims.measure import offsubspace_drift
from sims.simulation import RunContext, RunOutput, Simulation, first_of_group, one_row
from sims.subspace_runs import (
    FLIP_DIRECTIONS,
    SearchedCondition,
    SubspaceSetup,
    flip_search,
    gradient_arrays,
    nearest_other_class,
    searched_group,
    summary_metrics,
    train_group,
    training_metrics,
    universal_arrays,
)

#: Test points whose minimal perturbations are kept whole (for the figure of 8×8 pictures).
N_PICTURED = 8
#: The init scale of the small-initialisation rows (the paper's remedy; ``‖P⊥∇f‖ ∝ β``).
SMALL_INIT = 1.0 / 16
#: The PCA subspace dimension (the loader's default, fixed before any run).
K = 10


@dataclass(frozen=True)
class Config(SearchedCondition):
    """One row: a :class:`sims.subspace_runs.SearchedCondition` whose flip-radius search can be turned
    off (``flips=False``: the Adam control, which no claim reads radii from)."""

    flips: bool = True


def group(cfg: Config) -> tuple[object, ...]:
    """Rows that train as one ensemble (they differ only in β) and share the search."""
    return (*searched_group(cfg), cfg.flips)


@dataclass(frozen=True)
class _Grid:
    m: int
    n_test: int
    n_seeds: int
    steps: int
    lr: float


_GRIDS = {
    "quick": _Grid(m=100, n_test=100, n_seeds=8, steps=1000, lr=0.1),
    "medium": _Grid(m=200, n_test=200, n_seeds=12, steps=4000, lr=0.05),
    "paper": _Grid(m=500, n_test=449, n_seeds=16, steps=10000, lr=0.05),
}

#: Training points: the whole training split of digits 0–9 at the loader's default test share 0.25.
N_TRAIN = 1348


def configs(scale: str) -> list[Config]:
    """GD at β = 1 and β = 1/16 on the projected and on the raw digits; Adam on the projected ones."""
    g = _GRIDS[scale]
    base = SubspaceSetup(
        d=64,
        k=K,
        m=g.m,
        n=N_TRAIN,
        n_test=g.n_test,
        n_seeds=g.n_seeds,
        steps=g.steps,
        lr=g.lr,
        stop_accuracy=None,
        train_b=False,
        dtype="float64",
        source="digits",
    )
    out: list[Config] = []
    for source, tag, role in (("digits", "digits", "law"), ("digits_raw", "raw", "control")):
        s = replace(base, source=source)
        out.append(Config(f"{tag}-gd", role, s))
        out.append(Config(f"{tag}-small_init", "control", replace(s, first_scale=SMALL_INIT)))
    adam = replace(base, optimizer="adam", lr=0.01, dtype="float32")
    out.append(Config("digits-adam", "control", adam, flips=False))
    return out


def run_group(cfgs: Sequence[Config], ctx: RunContext) -> list[RunOutput]:
    """Train the rows of one group at once; measure gradients, the universal direction, the three
    flip radii (one search per direction over all members) and the nearest other-class distance."""
    first: Config = first_of_group(group, cfgs, "the init scale β")
    tg = train_group([c.setup for c in cfgs], ctx.device)
    searched = (
        {where: flip_search(tg, where, **first.search()) for where in FLIP_DIRECTIONS}
        if first.flips
        else {}
    )
    nn = nearest_other_class(tg)
    k = first.setup.n_seeds
    outs = []
    for i, cfg in enumerate(cfgs):
        t = tg.row(i, k)
        arrays = {**gradient_arrays(t), **universal_arrays(t)}
        arrays["drift"] = offsubspace_drift(t.ens.W, t.ens0.W, t.data.basis).cpu().numpy()
        rows = slice(i * k, (i + 1) * k)
        metrics = {
            **summary_metrics(arrays),
            "beta": cfg.setup.first_scale,
            "drift_max": float(arrays["drift"].max()),
            "cos_univ_median": float(np.median(arrays["cos_univ"])),
            **training_metrics(t),
        }
        for where, (dist, delta) in searched.items():
            arrays[f"r_{where}"] = dist[rows]
            metrics[f"r_{where}_median"] = float(np.nanmedian(dist[rows]))
            if where != "any":
                arrays[f"delta_{where}"] = delta[rows, :N_PICTURED]
        if searched:
            arrays["nn_other"] = np.broadcast_to(nn, arrays["r_off"].shape).copy()
        outs.append(RunOutput(metrics=metrics, arrays=arrays))
    return outs


SIM = Simulation(
    number="16",
    name="digits_subspace",
    title="off-subspace weights, gradients and flip radii on handwritten digits (projected vs raw)",
    paper="Melamed, Yehudai & Vardi 2023, PAPERS.md §1, on real data (issue: theories on real data)",
    configs=configs,
    run=one_row(run_group),
    label=lambda c: c.condition,
    group=group,
    run_group=run_group,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
