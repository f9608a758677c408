"""Simulation 17 — feature purification on real data: natural-image patches on a learned dictionary.

Paper: Allen-Zhu & Li (2020), PAPERS.md §2, whose model ``x = Mz + ξ`` stands for natural images being
sparse in a learned dictionary. Data: :func:`sims.real_data.image_patches` — 8×8 grey-level patches of
scikit-learn's two sample photographs (``d = 64``, unit norm, mean removed), an orthonormal dictionary
``M`` learned from the training patches, codes ``z`` with ``k = 4`` non-zeros; the residual ``x − Mz``
is the model's noise (RMS 0.54–0.56 of ``‖x‖`` at ``k = 4``, for 1 000–4 000 training patches: real
patches are only approximately sparse). Labels: a teacher on the codes (``y = sign⟨w*, z⟩``, the model's rule on real codes — the law rows) and
which photograph a patch comes from (a real attribute; test patches come from the photographs' bottom
rows, which hold other content, so its test accuracy is near chance and only its neurons are read;
these rows run from the ``medium`` rung on).

Setting: simulation 09's network and clean training (the symmetric two-layer ReLU net of width 256 —
1 024 at the paper rung — init scale 0.01, the noise threshold rule, full-batch GD), then training
*continued from the clean weights* with PGD-AT or FGM-AT, or continued clean training (the control
that never sees adversarial points). Radii come from the data's geometry, never from a prediction:
``ε = ¼`` of the median distance from a training patch to the nearest training patch of the other
class, in the attack's norm (ℓ∞ and ℓ2 separately; :data:`EPS_SHARE`) — half of the largest radius
at which any classifier right on both points can be robust for the median point. Controls: continued
clean training; dense codes (``k = d``: nothing sparse to purify: the same dictionary with all ``d``
coefficients, radii by the same rule on its own data); adversarial training from the initialisation
instead of from clean weights, for as many steps as the clean and the continued training together,
its radius ramped up over the clean training's share (:func:`sims.purification_runs.from_init_schedule`,
as in simulation 09; at the full radius from the first step it did not reach the clean-started net's
accuracy, even with the clean training's steps added).

Measured for the clean net (prefix ``clean_``) and the continued one (prefix ``at_``): the neuron
decomposition on the learned dictionary (:func:`sims.purification_runs.neuron_arrays`), accuracies,
per-point robustness under PGD-20 at the run's ℓ∞ and ℓ2 radii (``robust_linf``, ``robust_l2``,
``(M, n_att)``), and each attacked point's *minimal* ℓ2 perturbation (:class:`sims.attacks.MinNorm`):
its norm ``min_dist`` and its structure on the dictionary — the share of ``‖Mᵀδ‖²`` on ``supp(z)`` and
the participation ratio (``min_share``, ``min_participation``; the paper's Figure 5 without a fixed
radius). Records also carry ``eps_linf``, ``eps_l2`` and the nearest other-class distances they came
from, and the weights ``W0``, ``W_clean``, ``at_W`` (rows of 8×8 filters) with ``W_reference``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from sims.cli import main_for
from sims.errors import check_choice, check_float, check_int
from sims.measure import (
    abs_cosine,
    accuracy,
    nearest_other_class_distance,
)
from sims.nets import TwoLayerEnsemble
from sims.purification_runs import (
    ATSpec,
    CleanRun,
    PurificationSetup,
    attack_points,
    continue_at,
    data_arrays,
    from_init_schedule,
    minimal_structure,
    neuron_arrays,
    train_clean,
)
from sims.simulation import RunContext, RunOutput, Simulation, first_of_group, one_row
from sims.validate import check_defaults

#: Attacks and minimal perturbations are measured on this many test points.
N_ATTACKED = 200
#: The training radius as a share of the median nearest other-class distance (in the attack's norm).
EPS_SHARE = 0.25
#: PGD steps of the robustness measurement.
EVAL_STEPS = 20


@dataclass(frozen=True)
class Config:
    """One row: a name, its role, the setup, the continued training (``attack``: ``'pgd'``, ``'fgm'`` or
    ``'none'`` — continued clean steps; ``norm``; ``steps``) and where it starts (``'clean'`` weights, as
    in the paper, or the ``'init'`` they were trained from). The radius comes from the data
    (:func:`radii`)."""

    condition: str
    role: str
    setup: PurificationSetup
    attack: str = "pgd"
    norm: str = "linf"
    steps: int = 200
    start: str = "clean"
    eps_share: float = EPS_SHARE
    eps_ramp: int = 0

    def __post_init__(self) -> None:
        check_choice("role", self.role, ("law", "control"))
        check_choice("attack", self.attack, ("pgd", "fgm", "none"))
        check_choice("norm", self.norm, ("linf", "l2"))
        check_choice("start", self.start, ("clean", "init"))
        check_float("eps_share", self.eps_share, 0.0, 0.5, lo_open=True)
        check_int("eps_ramp", self.eps_ramp, 0, self.steps)
        if self.attack == "none":
            check_defaults(
                self, {"eps_ramp": 0}, "for continued clean training (no radius to ramp)"
            )

    def spec(self, eps: dict[str, float]) -> ATSpec:
        """The continued training at the data's radius of this row's norm (ramped up over the first
        ``eps_ramp`` steps: :class:`sims.purification_runs.ATSpec`)."""
        if self.attack == "none":
            return ATSpec(self.norm, 0.0, "pgd", attack_steps=1, steps=self.steps)
        return ATSpec(
            self.norm, eps[self.norm], self.attack, steps=self.steps, eps_ramp=self.eps_ramp
        )


def configs(scale: str) -> list[Config]:
    """Teacher labels (law) with PGD-AT, FGM-AT (ℓ∞; ℓ2 too from ``medium``) and continued clean
    training; from ``medium``, image labels with PGD-AT and continued clean training; dense codes and
    AT from init (controls)."""
    if scale == "quick":
        base = PurificationSetup(dtype="float32", n_seeds=8, n=1000)
        steps = 200
        laws: tuple[str, ...] = ("pgd_linf", "fgm_linf")
    else:
        if scale == "medium":
            base = PurificationSetup(dtype="float32", n_seeds=10, n=4000, clean_steps=500)
            steps = 300
        else:
            base = PurificationSetup(dtype="float32", n_seeds=16, n=8000, m=1024, clean_steps=2000)
            steps = 1000
        laws = ("pgd_linf", "fgm_linf", "pgd_l2", "fgm_l2")
    teacher = replace(base, dictionary="orthonormal", source="patches_teacher")
    image = replace(teacher, source="patches_image")
    # dense codes on the same dictionary (learned for k-sparse codes): only the sparsity changes
    dense = replace(teacher, k=teacher.d, dictionary_k=teacher.k)
    out = []
    for name in laws:
        attack, norm = name.split("_")
        out.append(Config(f"teacher-{name}", "law", teacher, attack, norm, steps))
    out.append(Config("teacher-none", "control", teacher, "none", "linf", steps))
    out.append(
        Config(
            "teacher-from_init-pgd_linf",
            "control",
            teacher,
            "pgd",
            "linf",
            start="init",
            **from_init_schedule(teacher.clean_steps, steps),
        )
    )
    out.append(Config("dense-pgd_linf", "control", dense, "pgd", "linf", steps))
    if scale != "quick":  # image labels do not transfer to the test rows: their neurons only
        out.append(Config("image-pgd_linf", "law", image, "pgd", "linf", steps))
        out.append(Config("image-none", "control", image, "none", "linf", steps))
    return out


def group(cfg: Config) -> tuple[object, ...]:
    """Rows that share a clean training and a radius rule: their setup and ``eps_share``."""
    return (cfg.setup, cfg.eps_share)


def radii(run: CleanRun, share: float) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The training radii ``share × median nearest other-class distance`` over the training points, per
    norm, and those distances (``nn_other_linf``, ``nn_other_l2``, ``(n,)``)."""
    X, y = torch.as_tensor(run.data.X), torch.as_tensor(run.data.y)  # float64, as the data are
    nn = {
        norm: nearest_other_class_distance(X, y, X, y, p).numpy()
        for norm, p in (("linf", float("inf")), ("l2", 2.0))
    }
    eps = {norm: share * float(np.median(v)) for norm, v in nn.items()}
    return eps, {f"nn_other_{norm}": v for norm, v in nn.items()}


def _net_arrays(
    ens: TwoLayerEnsemble, r: CleanRun, prefix: str, eps: dict[str, float]
) -> dict[str, np.ndarray]:
    """One net's neurons, accuracies, robustness at the run's radii and minimal perturbations."""
    out = neuron_arrays(ens.W, r.data, prefix)
    out[f"{prefix}train_acc"] = accuracy(ens, r.X, r.y)
    out[f"{prefix}test_acc"] = accuracy(ens, r.X_test, r.y_test)
    Xa, ya = r.X_test[:N_ATTACKED], r.y_test[:N_ATTACKED]
    for norm, e in eps.items():
        res = attack_points(ens, Xa, ya, norm, e, steps=EVAL_STEPS)
        out[f"{prefix}robust_{norm}"] = res.robust.cpu().numpy()
    out.update(
        minimal_structure(ens, Xa, ya, r.test.Z[:N_ATTACKED], r.data.dictionary, prefix=prefix)
    )
    return out


def run_group(cfgs: Sequence[Config], ctx: RunContext) -> list[RunOutput]:
    """Rows sharing a setup and a radius rule (the group key): one clean training, then each row's continued
    training; the starting nets are measured once per group (deterministic, so every row records
    what it would alone)."""
    first: Config = first_of_group(group, cfgs, "the continued training")
    trained = train_clean(first.setup, ctx.device)
    eps, nn = radii(trained, first.eps_share)
    starts: dict[str, dict[str, np.ndarray]] = {}
    outs = []
    for cfg in cfgs:
        r = trained if cfg.start == "clean" else replace(trained, ens=trained.ens0.clone())
        ens = continue_at(r, cfg.spec(eps))
        if cfg.start not in starts:
            starts[cfg.start] = _net_arrays(r.ens, r, "clean_", eps)
        W = ens.W.detach().cpu().numpy()
        arrays: dict[str, np.ndarray] = {
            **data_arrays(r),
            **nn,
            **starts[cfg.start],
            **_net_arrays(ens, r, "at_", eps),
            "eps_linf": np.asarray(eps["linf"]),
            "eps_l2": np.asarray(eps["l2"]),
            "at_W": W,
            "W_reference": trained.ens.W.detach().cpu().numpy(),
        }
        arrays["at_cos_clean"] = abs_cosine(arrays["W_clean"], W)
        metrics = {
            "eps_linf": eps["linf"],
            "eps_l2": eps["l2"],
            "noise": float(r.data.law.noise),
            "clean_test_acc": float(arrays["clean_test_acc"].mean()),
            "at_test_acc": float(arrays["at_test_acc"].mean()),
            "clean_robust_linf": float(arrays["clean_robust_linf"].mean()),
            "at_robust_linf": float(arrays["at_robust_linf"].mean()),
            "clean_min_share_median": float(np.nanmedian(arrays["clean_min_share"])),
            "at_min_share_median": float(np.nanmedian(arrays["at_min_share"])),
        }
        outs.append(RunOutput(metrics=metrics, arrays=arrays))
    return outs


SIM = Simulation(
    number="17",
    name="patch_purification",
    title="clean vs adversarially trained neurons on natural-image patches and a learned dictionary",
    paper="Allen-Zhu & Li 2020, PAPERS.md §2, on real data (issue: theories on real data)",
    configs=configs,
    run=one_row(run_group),
    label=lambda c: c.condition,
    group=group,
    run_group=run_group,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
