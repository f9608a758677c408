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
import torch

from sims.cli import main_for
from sims.measure import project_perp
from sims.simulation import RunContext, RunOutput, Simulation
from sims.subspace_runs import (
    Condition,
    SubspaceSetup,
    gradient_arrays,
    summary_metrics,
    train_setup,
)

MULTIPLES = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


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
    """Train; build ``g_univ`` from the initial weights; sweep the universal perturbation."""
    t = train_setup(cfg.setup, ctx.device)
    arrays = gradient_arrays(t)
    U = torch.as_tensor(t.data.basis, dtype=t.ens.dtype, device=t.ens.device)
    with torch.no_grad():
        g_univ = torch.einsum("Mm,Mmd->Md", t.ens.a, project_perp(t.ens0.W, U))
        ghat = g_univ / g_univ.norm(dim=1, keepdim=True)
        G_off = project_perp(t.ens.input_grad(t.X_test), U)
        cos = (G_off * ghat[:, None, :]).sum(-1) / G_off.norm(dim=-1).clamp_min(1e-30)
        f = t.ens.forward(t.X_test)
        rstar = f.abs() / G_off.norm(dim=-1).clamp_min(1e-30)
        correct = t.y_test * f > 0
        rstar_med = torch.stack([rstar[i][correct[i]].median() for i in range(t.ens.M)])
        frac = torch.zeros(t.ens.M, len(MULTIPLES), 2, dtype=torch.float64)
        per_point = torch.full((t.ens.M, len(MULTIPLES), t.X_test.shape[0]), float("nan"))
        for c, mult in enumerate(MULTIPLES):
            radius = (mult * rstar_med)[:, None, None]
            delta = -t.y_test[None, :, None] * radius * ghat[:, None, :]
            flipped = t.y_test * t.ens.forward(t.X_test[None] + delta) <= 0
            per_point[:, c] = torch.where(correct, flipped.double(), float("nan")).float().cpu()
            for k, cls in enumerate((1.0, -1.0)):
                pick = correct & (t.y_test == cls)
                frac[:, c, k] = (flipped & pick).sum(1).double() / pick.sum(1).clamp_min(1).double()
    arrays.update(
        {
            "g_univ": g_univ.cpu().numpy(),
            "cos_univ": cos.cpu().numpy(),
            "rstar_median": rstar_med.cpu().numpy(),
            "multiples": np.asarray(MULTIPLES),
            "flip_frac": frac.numpy(),
            "flipped": per_point.numpy(),
        }
    )
    metrics = {
        **summary_metrics(arrays),
        "cos_univ_median": float(np.median(arrays["cos_univ"])),
        "flip_frac_at_3rstar_min": float(frac[:, MULTIPLES.index(3.0), :].min()),
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
