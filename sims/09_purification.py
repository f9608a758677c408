"""Simulation 09 — adversarial training purifies the clean-trained neurons (the purification principle).

Allen-Zhu & Li (2020), PAPERS.md §2. Clean training first; adversarial training then *continues from
the clean weights*. A reader should see, for most neurons: ``|cos(w_i, w_i')| > 1/√2`` between the clean
weight ``w_i`` and the adversarially trained ``w_i'`` (the principle ``‖β_i w_i'‖ > ‖v_i‖``, [derived]); the
dense mixture ``‖Mᵀv_i‖₁`` falling and the purity ``|c_ij*|/‖c_i‖`` rising (the paper's Figure 6
analogue); both weights barely correlated with the initialisation; training on FGM points purifying like
PGD; and attack perturbations turning from dense to "pure" — their share of ``‖Mᵀδ‖²`` on ``supp(z)``
rising and their participation ratio falling (the paper's Figure 5 analogue).

Grid (one run per continued training): ``d = 64``, ``k = 4`` sparse codes, continued with PGD-AT (ℓ∞ at
``ε = k^{-3/2}``; ℓ2 at 0.25 and at half and all of the ℓ∞ ball's ℓ2 reach ``k^{-3/2}·√d``, matched
strength), FGM-AT (ℓ∞, ℓ2), or — the control that never sees adversarial points — the
same number of continued *clean* steps (``ε = 0``). Controls: dense codes (``k = d``); adversarial
training from the initialisation instead of from clean weights, for as many steps as the clean and the
continued training together, its radius ramped up over the clean training's share
(:func:`sims.purification_runs.from_init_schedule`).
Rows that share a setup share one clean training (``run_group``: every row's record is what it would
be alone). ``quick`` (8 members) runs only
the rows a claim reads — no FGM-ℓ2 and no continued clean training on dense codes; ``medium``
(``d = 80``, ``k = 5``, ``m = 320``, 10 members, 500 clean and 250 adversarial steps) and ``paper``
(``d = 256``, ``k = 8``, ``m = 1024``, ``n = 8000``) run them all.

Records: for the clean net (prefix ``clean_``) and the continued one (prefix ``at_``), the neuron
decomposition, accuracy, the structure of ℓ2 PGD-50 perturbations at radii :data:`DELTA_RADII`, and
of each attacked point's *minimal* ℓ2 perturbation (``min_dist``, ``min_share``, ``min_participation``:
:func:`sims.purification_runs.minimal_structure`, no fixed radius);
``at_W``, and the cosines ``at_cos_clean``, ``at_cos_init``, ``clean_cos_init``; ``W_reference``, the
clean-trained weights the principle compares with (``W_clean``, except for the AT-from-init control,
where ``W_clean`` is the initialisation and the reference is clean training from it); training and test
accuracy of both nets (``clean_train_acc``, ``at_train_acc``, ...); and the course of the continued
training (issue #15, item 6): at the steps ``at_path_steps`` (every ``steps // PATH_POINTS`` and the last), each
neuron's ``‖Mᵀv‖₁/‖w‖`` (``at_path_mixture``) and purity (``at_path_purity``), ``(T, M, m)``
(:func:`sims.purification_runs.purification_path`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from sims.cli import main_for
from sims.errors import check_choice
from sims.measure import abs_cosine, accuracy, perturbation_structure
from sims.nets import TwoLayerEnsemble
from sims.purification_runs import (
    ATSpec,
    CleanRun,
    PurificationSetup,
    attack_points,
    continue_training,
    data_arrays,
    from_init_schedule,
    minimal_structure,
    neuron_arrays,
    purification_path,
    setup_variants,
    train_clean,
)
from sims.simulation import RunContext, RunOutput, Simulation, one_row

#: ℓ2 radii of the perturbation-structure attacks (the data have ‖x‖ = 1).
DELTA_RADII = (0.25, 0.5, 1.0)
#: Test points attacked for the perturbation structure.
N_ATTACKED = 300
#: Points at which the course of the purification is measured during the continued training (every
#: ``steps // PATH_POINTS`` steps from 0, and the last step).
PATH_POINTS = 20


@dataclass(frozen=True)
class Config:
    """One row: a name, its role (``law``: the paper's conditions hold; ``control``: one is broken), the
    setup, the continued training, and where it starts (``'clean'``: the clean-trained weights, as in the
    paper; ``'init'``: the initialisation those weights were trained from)."""

    condition: str
    role: str
    setup: PurificationSetup
    at: tuple[ATSpec, ...]
    start: str = "clean"

    def __post_init__(self) -> None:
        check_choice("role", self.role, ("law", "control"))
        check_choice("start", self.start, ("clean", "init"))


def at_specs(k: int, d: int, steps: int) -> dict[str, ATSpec]:
    """The continued trainings by name: PGD-AT and FGM-AT in ℓ∞ and ℓ2, and continued clean training
    (``none``); ℓ∞ radii are ``k^{-3/2}`` for the *sparse* ``k`` (the dense control keeps them). ℓ2
    PGD-AT also runs at the ℓ2 reach of that ℓ∞ ball, ``k^{-3/2}·√d`` (``pgd_l2_full``), and at half of
    it (``pgd_l2_half``): ℓ2 training at matched strength (issue #15, item 6)."""
    e_inf = k**-1.5
    reach = e_inf * d**0.5
    return {
        "pgd_linf": ATSpec("linf", e_inf, "pgd", steps=steps),
        "fgm_linf": ATSpec("linf", e_inf, "fgm", steps=steps),
        "pgd_l2": ATSpec("l2", 0.25, "pgd", steps=steps),
        "pgd_l2_half": ATSpec("l2", reach / 2, "pgd", steps=steps),
        "pgd_l2_full": ATSpec("l2", reach, "pgd", steps=steps),
        "fgm_l2": ATSpec("l2", 0.25, "fgm", steps=steps),
        "none": ATSpec("linf", 0.0, "pgd", attack_steps=1, steps=steps),
    }


def configs(scale: str) -> list[Config]:
    """Sparse codes (law) with every continued training; dense codes and AT-from-init (controls)."""
    if scale == "quick":
        base = PurificationSetup(dtype="float32", n_seeds=8)
        steps = 200
        sparse: tuple[str, ...] = (
            "pgd_linf",
            "pgd_l2",
            "pgd_l2_half",
            "pgd_l2_full",
            "fgm_linf",
            "none",
        )
        dense_rows: tuple[str, ...] = ("pgd_linf", "fgm_linf")
    else:
        if scale == "medium":
            base = PurificationSetup(dtype="float32", d=80, k=5, m=320, clean_steps=500, n_seeds=10)
            steps = 250
        else:
            base = PurificationSetup(
                dtype="float32", d=256, k=8, m=1024, n=8000, clean_steps=2000, n_seeds=8
            )
            steps = 1000
        sparse = ("pgd_linf", "pgd_l2", "pgd_l2_half", "pgd_l2_full", "fgm_linf", "fgm_l2", "none")
        dense_rows = ("pgd_linf", "fgm_linf", "none")
    specs = at_specs(base.k, base.d, steps)
    out = [Config(f"sparse-{name}", "law", base, (specs[name],)) for name in sparse]
    dense = replace(base, k=base.d)
    dense_specs = at_specs(
        dense.k, dense.d, steps
    )  # ℓ∞ radius k^{-3/2} of the dense k: never erases a code
    for name in dense_rows:
        out.append(Config(f"dense-{name}", "control", dense, (dense_specs[name],)))
    from_init = replace(specs["pgd_linf"], **from_init_schedule(base.clean_steps, steps))
    out.append(Config("from_init-pgd_linf", "control", base, (from_init,), start="init"))
    return out


def _net_arrays(ens: TwoLayerEnsemble, r: CleanRun, prefix: str) -> dict[str, np.ndarray]:
    out = neuron_arrays(ens.W, r.data, prefix)
    out[f"{prefix}train_acc"] = accuracy(ens, r.X, r.y)
    out[f"{prefix}test_acc"] = accuracy(ens, r.X_test, r.y_test)
    Xa, ya = r.X_test[:N_ATTACKED], r.y_test[:N_ATTACKED]
    for eps in DELTA_RADII:
        res = attack_points(ens, Xa, ya, "l2", eps)
        ps = perturbation_structure(
            res.delta.detach().cpu().numpy(), r.test.Z[:N_ATTACKED], r.data.dictionary
        )
        tag = f"{prefix}delta{eps:g}_"
        out[f"{tag}share"] = ps["support_share"]
        out[f"{tag}participation"] = ps["participation"]
        out[f"{tag}success"] = res.success.detach().cpu().numpy()
    out.update(
        minimal_structure(ens, Xa, ya, r.test.Z[:N_ATTACKED], r.data.dictionary, prefix=prefix)
    )
    return out


def _row(
    cfg: Config, trained: CleanRun, start_arrays: dict[str, dict[str, np.ndarray]]
) -> RunOutput:
    """One row from the clean training of its setup: continue from the clean weights (or from the
    initialisation they were trained from) and measure both nets. ``start_arrays`` holds the
    measurements of each starting net already made for another row of the group (they are
    deterministic, so every row records what it would alone)."""
    r = trained if cfg.start == "clean" else replace(trained, ens=trained.ens0.clone())
    spec, s = cfg.at[0], r.setup
    every = max(1, spec.steps // PATH_POINTS)
    ens, res = continue_training(
        r,
        spec.method(s.loss, s.seed),
        spec.steps,
        spec.lr,
        measure=purification_path(r.data),
        measure_at=sorted({*range(0, spec.steps + 1, every), spec.steps}),
    )
    if cfg.start not in start_arrays:
        start_arrays[cfg.start] = _net_arrays(r.ens, r, "clean_")
    arrays = {**data_arrays(r), **start_arrays[cfg.start], **_net_arrays(ens, r, "at_")}
    W_clean, W0 = arrays["W_clean"], arrays["W0"]
    W = ens.W.detach().cpu().numpy()
    arrays["at_W"] = W
    arrays["at_cos_clean"] = abs_cosine(W_clean, W)
    arrays["at_cos_init"] = abs_cosine(W0, W)
    arrays["clean_cos_init"] = abs_cosine(W0, W_clean)
    arrays["W_reference"] = trained.ens.W.detach().cpu().numpy()
    arrays["at_path_steps"] = np.asarray(res.measure_steps)
    for key in ("path_mixture", "path_purity"):
        arrays[f"at_{key}"] = res.history[key].astype(np.float32)
    metrics = {
        "clean_test_acc": float(arrays["clean_test_acc"].mean()),
        "at_test_acc": float(arrays["at_test_acc"].mean()),
        "principle_share": float(np.mean(abs_cosine(arrays["W_reference"], W) > 2**-0.5)),
    }
    return RunOutput(metrics=metrics, arrays=arrays)


def run_group(cfgs: Sequence[Config], ctx: RunContext) -> list[RunOutput]:
    """Rows sharing a setup (:func:`group`): one clean training, then each row's continued training."""
    trained = train_clean(cfgs[0].setup, ctx.device)
    start_arrays: dict[str, dict[str, np.ndarray]] = {}
    return [_row(cfg, trained, start_arrays) for cfg in cfgs]


SIM = Simulation(
    number="09",
    name="purification",
    title="adversarial training continued from clean weights purifies the neurons",
    paper="Allen-Zhu & Li 2020 (PAPERS.md §2: purification principle, Figures 5 and 6)",
    configs=configs,
    run=one_row(run_group),
    label=lambda c: c.condition,
    group=lambda c: c.setup,
    run_group=run_group,
    variants=setup_variants(),
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
