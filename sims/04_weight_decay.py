"""Simulation 04 — weight decay shrinks the off-subspace gradient by exactly ``(1 − ηλ)^t``.

Paper: Melamed, Yehudai & Vardi (NeurIPS 2023): "L2 regularisation … makes the network more robust in
those directions" [paper, abstract]. Derived (PAPERS.md §1, invariant 2 and "Weight decay"): with coupled
decay λ and plain GD, ``P⊥W_t = (1 − ηλ)^t P⊥W_0``, so at every point
``P⊥∇f(x) = (1 − ηλ)^t Σ_{j active at x} a_j P⊥w_j(0)`` — an exact identity, whatever the activation
pattern became — and the off-subspace flip radius grows with λ. On long runs ``P⊥W → 0``.

Grid: λ ∈ {0, 1e-4, 3e-4, 1e-3, 3e-3} for a fixed number of full-batch GD steps (no early stop, so every
run has the same ``t``), decaying the trained parameters ``W`` and ``b`` with ``a_j = ±1/√m`` fixed; the
paper-code variant also trains (and decays) the second layer from ``N(0, 1/m)``; a long run at the
largest λ. Negative
controls: heavy-ball momentum and Adam with the same decay (other laws), and decay that skips the
first layer (``P⊥W`` untouched, so the flip radius must not grow).

Arrays: :func:`sims.subspace_runs.gradient_arrays` plus ``perp_ratio (M,)`` (``‖P⊥W_t‖/‖P⊥W_0‖``),
``flip_radius (M, n_test)``, ``train_acc``, ``test_acc``. Runs are float64 so the identity can be checked
to rounding.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from sims.cli import main_for
from sims.errors import check_choice
from sims.measure import offsubspace_ratio
from sims.simulation import RunContext, RunOutput, Simulation, first_of_group, one_row
from sims.subspace_runs import (
    Condition,
    SubspaceSetup,
    flip_radius,
    gradient_arrays,
    setup_group_key,
    summary_metrics,
    train_group,
)

LAMBDAS = (0.0, 1e-4, 3e-4, 1e-3, 3e-3)


@dataclass(frozen=True)
class Config(Condition):
    """One decay λ (``setup.weight_decay``) under a variant."""

    variant: str = "first_layer"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("variant", self.variant, ("first_layer", "paper_code", "long"))


def configs(scale: str) -> list[Config]:
    """λ grid × variants, the long run and the controls."""
    if scale == "quick":
        base = SubspaceSetup(
            d=100,
            k=10,
            m=200,
            n=60,
            n_test=20,
            n_seeds=8,
            steps=400,
            stop_accuracy=None,
            dtype="float64",
        )
        long_steps = 4000
    elif scale == "medium":
        base = SubspaceSetup(
            d=150,
            k=15,
            m=250,
            n=80,
            n_test=24,
            n_seeds=10,
            steps=500,
            stop_accuracy=None,
            dtype="float64",
        )
        long_steps = 5000
    else:
        base = SubspaceSetup(
            d=400,
            k=20,
            m=1000,
            n=100,
            n_test=100,
            n_seeds=16,
            steps=2000,
            stop_accuracy=None,
            dtype="float64",
        )
        long_steps = 20000
    # Rows read only by the exact identity (MYV-wd-gradient) need no interval: below the paper scale they
    # keep fewer members (6, 8) than the flip-radius comparison's rows (first layer and its control).
    exact_seeds = {"quick": 6, "medium": 8}.get(scale, base.n_seeds)
    exact_only = replace(base, n_seeds=exact_seeds)
    out = []
    for lam in LAMBDAS:
        out.append(Config(f"gd-l{lam:g}", "law", replace(base, weight_decay=lam)))
        out.append(
            Config(
                f"paper-l{lam:g}",
                "law",
                replace(exact_only, weight_decay=lam, init="paper", train_a=True),
                variant="paper_code",
            )
        )
    out.append(
        Config(
            "gd-long",
            "law",
            replace(exact_only, weight_decay=LAMBDAS[-1], steps=long_steps),
            variant="long",
        )
    )
    for lam in (0.0, 1e-3, 3e-3):
        out.append(
            Config(
                f"no-W-decay-l{lam:g}", "control", replace(base, weight_decay=lam, decay=("b", "a"))
            )
        )
    out.append(
        Config(
            "heavy_ball",
            "control",
            replace(exact_only, weight_decay=1e-3, optimizer="heavy_ball", momentum=0.9, lr=0.1),
        )
    )
    out.append(
        Config("adam", "control", replace(exact_only, weight_decay=1e-3, optimizer="adam", lr=0.01))
    )
    return out


def group(cfg: Config) -> tuple[object, ...]:
    """Rows that differ only in λ (a per-member weight decay) train and are searched as one ensemble."""
    return (setup_group_key(cfg.setup), cfg.variant)


def run_group(cfgs: Sequence[Config], ctx: RunContext) -> list[RunOutput]:
    """Train every row for a fixed number of steps at once; measure gradients, ``P⊥W`` and the flip
    radius (one search over all members), then split the measurements by row."""
    first: Config = first_of_group(group, cfgs, "the decay λ")
    tg = train_group([c.setup for c in cfgs], ctx.device)
    flip = flip_radius(tg, "off")
    k = first.setup.n_seeds
    outs = []
    for i, cfg in enumerate(cfgs):
        t = tg.row(i, k)
        arrays = gradient_arrays(t)
        arrays["perp_ratio"] = offsubspace_ratio(t.ens.W, t.ens0.W, t.data.basis).cpu().numpy()
        arrays["flip_radius"] = flip[i * k : (i + 1) * k]
        metrics = {
            **summary_metrics(arrays),
            "weight_decay": cfg.setup.weight_decay,
            "perp_ratio_mean": float(arrays["perp_ratio"].mean()),
            "flip_radius_median": float(np.nanmedian(arrays["flip_radius"])),
        }
        outs.append(RunOutput(metrics=metrics, arrays=arrays))
    return outs


SIM = Simulation(
    number="04",
    name="weight_decay",
    title="weight decay shrinks the off-subspace gradient by (1 - eta lambda)^t",
    paper="Melamed, Yehudai & Vardi 2023, PAPERS.md §1 weight decay",
    configs=configs,
    run=one_row(run_group),
    label=lambda c: c.condition,
    group=group,
    run_group=run_group,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
