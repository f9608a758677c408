"""Simulation 02 — the off-subspace gradient law ``‖P⊥∇f(x)‖² = σ_w² ρ(x) χ²_{ℓ⊥}``.

Paper: Melamed, Yehudai & Vardi (NeurIPS 2023), the abstract's "large gradients orthogonal to the data
subspace"; the law itself is derived in shared/PAPERS.md §1 ("Gradient law"): with the off-subspace
weights frozen (simulation 01), ``P⊥∇f(x) = Σ_{j active} a_j P⊥w_j(0)``, a Gaussian vector independent of
everything training did, so given the active-set weight ``ρ(x) = Σ_{j active} a_j²`` its squared norm is
``σ_w² ρ(x)`` times a ``χ²_{ℓ⊥}`` variable — of typical size ``√(ℓ⊥/(2d))``, order one.

Grid: co-dimension (several ``d``, ``k_P``) × width, networks with fixed ``a_j = ±1/√m`` trained by GD on
the logistic loss to 100% training accuracy; measured at fresh test points of the same subspace. Every
rung has at least three ``d`` at one ``k_P`` in the law's regime (ℓ⊥ >= 100, m >= 500), so that "order one,
not vanishing with d" is tested as the exponent of ``‖P⊥∇f‖`` in ``d`` against the ρ-free size
``√(σ_w² ℓ⊥ Σ_j a_j(0)² p̄)`` (:func:`theory.subspace.expected_offsubspace_grad_norm`, ``p̄`` the share of
active units).
Negative controls: data off the subspace (isotropic noise in ``P⊥``: training moves ``P⊥W`` in every
direction), data on an affine subspace (training moves ``P⊥W`` along the one offset direction only) and
Adam on a rotated basis (moves ``P⊥W`` everywhere).

What a reader should see: measured ``‖P⊥∇f‖`` on the identity line against ``√(σ_w² ρ ℓ⊥)`` for every
co-dimension, not shrinking with ``d``; the controls off it.

Arrays: those of :func:`sims.subspace_runs.gradient_arrays` (with ``active_share``, ``train_acc (M,)``
and ``test_acc (M,)``).
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

from sims.cli import main_for
from sims.simulation import RunContext, RunOutput, Simulation
from sims.subspace_runs import (
    Condition,
    SubspaceSetup,
    gradient_arrays,
    summary_metrics,
    train_setup,
    training_metrics,
)

Config = Condition


#: Per rung: the (d, k_P) shapes, widths, members per row, test points, and the (d, k_P) of the controls.
#: Every rung has at least three ``d`` at one ``k_P`` in the law's regime (ℓ⊥ >= 100, m >= 500), so the
#: exponent of ``‖P⊥∇f‖`` in ``d`` ("order one, not vanishing with d") can be fitted.
_GRIDS: dict[str, tuple[list[tuple[int, int]], list[int], int, int, tuple[int, int]]] = {
    "quick": ([(100, 10), (200, 10), (400, 10), (800, 10), (400, 100)], [500], 16, 40, (400, 10)),
    "medium": ([(300, 20), (600, 20), (1200, 20), (600, 150)], [600], 20, 50, (600, 20)),
    "paper": (
        [(100, 10), (200, 10), (400, 10), (400, 100), (1000, 10), (1000, 500)],
        [500, 2000],
        32,
        100,
        (400, 10),
    ),
}


def configs(scale: str) -> list[Config]:
    """Co-dimension × width grid, and the negative controls."""
    shapes, widths, seeds, n_test, (d, k) = _GRIDS[scale]
    out = []
    for dd, kk in shapes:
        for m in widths:
            s = SubspaceSetup(d=dd, k=kk, m=m, n_test=n_test, n_seeds=seeds)
            out.append(Config(f"d{dd}-k{kk}-m{m}", "law", s))
    base = SubspaceSetup(d=d, k=k, m=widths[0], n_test=n_test, n_seeds=seeds)
    out.append(Config("affine", "control", replace(base, offset=3.0)))
    out.append(Config("off_subspace_noise", "control", replace(base, noise=1.0)))
    out.append(Config("adam_rotated", "control", replace(base, optimizer="adam", lr=0.01)))
    return out


def run(cfg: Config, ctx: RunContext) -> RunOutput:
    """Train to 100% training accuracy; measure gradients at the test points."""
    t = train_setup(cfg.setup, ctx.device)
    arrays = gradient_arrays(t)
    metrics = {
        **summary_metrics(arrays),
        "grad_on_median": float(np.median(arrays["grad_on"])),
        "rho_mean": float(arrays["rho"].mean()),
        **training_metrics(t),
        "sigma_w2": cfg.setup.sigma_w2,
        "codim": float(cfg.setup.codim),
    }
    return RunOutput(metrics=metrics, arrays=arrays)


SIM = Simulation(
    number="02",
    name="gradient_law",
    title="off-subspace input gradients follow sigma_w^2 rho chi^2 and stay order one",
    paper="Melamed, Yehudai & Vardi 2023, PAPERS.md §1 gradient law",
    configs=configs,
    run=run,
    label=lambda c: c.condition,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
