"""Simulation 07 — adversarial training lowers the off-subspace gradient (and moves ``P⊥W``).

Not claimed by Melamed, Yehudai & Vardi; simulated in PAPERS.md §1 ("adversarial training also lowers
``‖P⊥∇f‖``, 0.65 → 0.40") and listed in the adversarial-training story. Training on PGD points whose
perturbations leave the data subspace puts off-subspace directions into ``span{x_i + δ_i}``, so the
first layer's ``P⊥W`` finally moves — invariant 1 no longer applies — and the off-subspace input
gradient shrinks. Negative control: the same adversarial training with perturbations restricted to
the data subspace (``P`` only), which keeps every training point in ``P`` and ``P⊥W`` frozen.

Grid: clean GD vs ℓ2 PGD-AT (ε ∈ {0.25, 0.5}, 10 steps) in the gradient-law setting, a fixed number of
full-batch steps; arrays of :func:`sims.subspace_runs.gradient_arrays` plus ``drift (M,)`` (the first
layer's off-subspace drift) and ``train_acc``, ``test_acc``.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from sims.cli import main_for
from sims.measure import offsubspace_drift
from sims.simulation import RunContext, RunOutput, Simulation
from sims.subspace_runs import (
    Condition,
    SubspaceSetup,
    gradient_arrays,
    summary_metrics,
    train_setup,
)

Config = Condition


def configs(scale: str) -> list[Config]:
    """Clean vs adversarial training, and AT restricted to the subspace (control)."""
    if scale == "quick":
        base = SubspaceSetup(
            d=100, k=10, m=200, n=60, n_test=40, n_seeds=8, steps=150, stop_accuracy=None, lr=0.5
        )
        epss: tuple[float, ...] = (0.25, 0.5)
    elif scale == "medium":
        base = SubspaceSetup(
            d=150, k=15, m=300, n=80, n_test=50, n_seeds=10, steps=200, stop_accuracy=None, lr=0.5
        )
        epss = (0.125, 0.25, 0.5)
    else:
        base = SubspaceSetup(
            d=400,
            k=20,
            m=1000,
            n=100,
            n_test=100,
            n_seeds=16,
            steps=600,
            stop_accuracy=None,
            lr=0.5,
        )
        epss = (0.125, 0.25, 0.5)
    out = [Config("clean", "law", base)]
    for eps in epss:
        out.append(Config(f"pgd_at-eps{eps:g}", "law", replace(base, at_eps=eps)))
        out.append(
            Config(
                f"pgd_at_on_subspace-eps{eps:g}",
                "control",
                replace(base, at_eps=eps, at_subspace="on"),
            )
        )
    return out


def run(cfg: Config, ctx: RunContext) -> RunOutput:
    """Train (clean or adversarially); measure off-subspace gradients and drift."""
    t = train_setup(cfg.setup, ctx.device)
    arrays = gradient_arrays(t)
    arrays["drift"] = offsubspace_drift(t.ens.W, t.ens0.W, t.data.basis).cpu().numpy()
    metrics = {
        **summary_metrics(arrays),
        "at_eps": cfg.setup.at_eps,
        "drift_mean": float(arrays["drift"].mean()),
    }
    return RunOutput(metrics=metrics, arrays=arrays)


SIM = Simulation(
    number="07",
    name="adversarial_training_subspace",
    title="adversarial training moves P-perp W and lowers the off-subspace gradient",
    paper="PAPERS.md §1 (simulated, not claimed by the paper); adversarial-training story",
    configs=configs,
    run=run,
    label=lambda c: c.condition,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
