"""Simulation 03 — smaller initialisation, smaller off-subspace gradients, larger flip radius.

Paper: Melamed, Yehudai & Vardi (NeurIPS 2023): "smaller initialisation scale … makes the network more
robust in those directions" [paper, abstract]. Derived (PAPERS.md §1): with the first layer initialised
at ``N(0, β²/d)``, ``P⊥∇f(x) = Σ_{j active} a_j P⊥w_j(0)`` is proportional to β for a given activation
pattern, so ``log ‖P⊥∇f‖`` against ``log β`` has slope 1, and the off-subspace flip radius grows as β
shrinks (not exactly as 1/β: ``|f|`` and the active sets move).

Grid: β ∈ {1, 1/2, 1/4, 1/8, 1/16}, networks with fixed ``a_j = ±1/√m`` trained by GD to 100% training
accuracy, and the same trained to the margin ``min_i y_i f(x_i) > 0.3`` (:data:`STOP_MARGIN`); at test
points the off-subspace gradient, the output ``f`` (for ``r* = |f|/‖P⊥∇f‖``) and the minimal
off-subspace flip radius found by :class:`sims.attacks.MinNorm` restricted to ``P⊥``.
Negative control: the same grid trained by Adam on a rotated basis, whose updates move ``P⊥W`` by
amounts that do not scale with β.

Arrays: :func:`sims.subspace_runs.gradient_arrays` plus ``flip_radius (M, n_test)`` (``inf`` where no
flip was found; NaN for misclassified points), ``train_acc``, ``test_acc``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from sims.cli import main_for
from sims.simulation import RunContext, RunOutput, Simulation, first_of_group, one_row
from sims.subspace_runs import (
    SearchedCondition,
    SubspaceSetup,
    flip_radius,
    gradient_arrays,
    searched_group,
    summary_metrics,
    train_group,
    training_metrics,
)

BETAS = (1.0, 0.5, 0.25, 0.125, 0.0625)

#: The second stop rule: train until ``min_i y_i f(x_i) > 0.3`` (the authors' figure code, PAPERS.md
#: §1), so every β ends with the same margin at the data and the flip radius ``≈ |f|/‖P⊥∇f‖`` compares
#: the off-subspace gradients alone; stopping at the first 100% training accuracy leaves ``|f|``
#: moving with β as well.
STOP_MARGIN = 0.3


#: One init scale β (``setup.first_scale``) under a stop rule or the control optimizer, and the effort
#: of the flip-radius search.
Config = SearchedCondition


def configs(scale: str) -> list[Config]:
    """β grid for GD under both stop rules (the law) and for rotated Adam (the control)."""
    if scale == "quick":
        base = SubspaceSetup(d=100, k=10, m=200, n=60, n_test=30, n_seeds=8)
        search = {"search_steps": 10, "search_pgd_steps": 20, "search_restarts": 2}
    elif scale == "medium":
        base = SubspaceSetup(d=150, k=15, m=300, n=80, n_test=30, n_seeds=12)
        search = {"search_steps": 10, "search_pgd_steps": 20, "search_restarts": 2}
    else:
        base = SubspaceSetup(d=400, k=20, m=1000, n=100, n_test=100, n_seeds=16)
        search = {"search_steps": 14, "search_pgd_steps": 50, "search_restarts": 5}
    margin = replace(base, stop_accuracy=None, stop_margin=STOP_MARGIN)
    out = []
    for beta in BETAS:
        out.append(Config(f"gd-beta{beta:g}", "law", replace(base, first_scale=beta), **search))
        out.append(
            Config(f"gd_margin-beta{beta:g}", "law", replace(margin, first_scale=beta), **search)
        )
        out.append(
            Config(
                f"adam-beta{beta:g}",
                "control",
                replace(base, first_scale=beta, optimizer="adam", lr=0.01),
                **search,
            )
        )
    return out


def run_group(cfgs: Sequence[Config], ctx: RunContext) -> list[RunOutput]:
    """Train every row at once; measure off-subspace gradients and the minimal off-subspace flip
    radius (one search over all members), then split the measurements by row."""
    first: Config = first_of_group(searched_group, cfgs, "the init scale β")
    tg = train_group([c.setup for c in cfgs], ctx.device)
    flip = flip_radius(tg, "off", **first.search())
    k = first.setup.n_seeds
    outs = []
    for i, cfg in enumerate(cfgs):
        t = tg.row(i, k)
        arrays = gradient_arrays(t)
        arrays["flip_radius"] = flip[i * k : (i + 1) * k]
        metrics = {
            **summary_metrics(arrays),
            "beta": cfg.setup.first_scale,
            "flip_radius_median": float(np.nanmedian(arrays["flip_radius"])),
            **training_metrics(t),
        }
        outs.append(RunOutput(metrics=metrics, arrays=arrays))
    return outs


SIM = Simulation(
    number="03",
    name="init_scale",
    title="off-subspace gradient scales with the init scale beta; the flip radius grows as beta shrinks",
    paper="Melamed, Yehudai & Vardi 2023, PAPERS.md §1 init scale",
    configs=configs,
    run=one_row(run_group),
    label=lambda c: c.condition,
    group=searched_group,
    run_group=run_group,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
