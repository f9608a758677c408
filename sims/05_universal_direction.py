"""Simulation 05 — one off-subspace direction moves every point towards the other class.

Paper: Melamed, Yehudai & Vardi (NeurIPS 2023) show that a *universal* off-subspace perturbation exists
[paper]; its numbers are derived (PAPERS.md §1): with ``g_j = P⊥w_j(0)`` frozen, every point's
off-subspace gradient is ``Σ_{j active} a_j g_j``, which shares the direction
``g_univ = Σ_j a_j P⊥w_j(0)`` with cosine ≈ ``√(ρ(x) / Σ_j a_j²)`` (≈ 0.7 with half the neurons active).
So the single perturbation ``−y·r·ĝ_univ`` (one per class) lowers every margin.

Grid: the gradient-law setting (fixed ``a_j = ±1/√m``, GD to 100% training accuracy); at test points the
cosine of ``P⊥∇f(x)`` with ``g_univ`` and, for radii ``r`` in multiples of each member's median first-order
flip radius ``r* = |f|/‖P⊥∇f‖``, the fraction of each class flipped by its one perturbation.
Negative controls: Adam on a rotated basis and data off the subspace (``P⊥W`` moves, so the direction
built from the initial weights goes stale).

Arrays: :func:`sims.subspace_runs.gradient_arrays` plus ``g_univ (M, d)``, ``cos_univ (M, n_test)``,
``rstar_median (M,)``, ``multiples (C,)``, ``flip_frac (M, C, 2)`` (classes +1, −1) and the per-point
``flipped (M, C, n_test)`` (1 flipped, 0 not, NaN for points the member misclassifies), from which the
fractions are computed (and resampled by the paper check).
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

from sims.cli import main_for
from sims.simulation import RunContext, RunOutput, Simulation
from sims.subspace_runs import (
    UNIVERSAL_MULTIPLES,
    Condition,
    SubspaceSetup,
    gradient_arrays,
    summary_metrics,
    train_setup,
    universal_arrays,
)

Config = Condition


def configs(scale: str) -> list[Config]:
    """The law setting at two co-dimensions, and the controls."""
    if scale == "quick":
        base = SubspaceSetup(d=400, k=10, m=500, n_test=200, n_seeds=8)
        shapes = [(400, 10), (200, 20)]
    elif scale == "medium":
        base = SubspaceSetup(d=800, k=10, m=800, n_test=250, n_seeds=12)
        shapes = [(800, 10), (400, 20)]
    else:
        base = SubspaceSetup(d=1000, k=10, m=2000, n_test=400, n_seeds=16)
        shapes = [(1000, 10), (400, 40), (200, 20)]
    out = [Config(f"d{d}-k{k}", "law", replace(base, d=d, k=k)) for d, k in shapes]
    out.append(Config("adam_rotated", "control", replace(base, optimizer="adam", lr=0.01)))
    out.append(Config("off_subspace_noise", "control", replace(base, noise=1.0)))
    return out


def run(cfg: Config, ctx: RunContext) -> RunOutput:
    """Train; build ``g_univ`` from the initial weights; sweep the universal perturbation
    (:func:`sims.subspace_runs.universal_arrays`)."""
    t = train_setup(cfg.setup, ctx.device)
    arrays = {**gradient_arrays(t), **universal_arrays(t)}
    frac = arrays["flip_frac"]
    metrics = {
        **summary_metrics(arrays),
        "cos_univ_median": float(np.median(arrays["cos_univ"])),
        "flip_frac_at_3rstar_min": float(frac[:, UNIVERSAL_MULTIPLES.index(3.0), :].min()),
    }
    return RunOutput(metrics=metrics, arrays=arrays)


SIM = Simulation(
    number="05",
    name="universal_direction",
    title="one off-subspace direction built from the initial weights flips every point",
    paper="Melamed, Yehudai & Vardi 2023, PAPERS.md §1 universal direction",
    configs=configs,
    run=run,
    label=lambda c: c.condition,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
