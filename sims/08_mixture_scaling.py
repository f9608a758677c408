"""Simulation 08 — dense mixtures after clean training, and how they scale with k and d.

Allen-Zhu & Li (2020), PAPERS.md §2, "form of a clean-trained neuron" [recalled; derived]: a clean-trained
neuron is one pure dictionary atom plus a dense mixture with a coefficient ``≈ k/d`` on every other atom,
signs along ``M w*``. Measured per neuron (:func:`sims.measure.neuron_decomposition`): the median ratio
``|c_ij'/c_ij*|``, purity, ``‖v‖₂``, ``‖Mᵀv‖₁``, ``cos(v, M w*)`` and the mixture's correlation with the
average input ``E[y x]`` versus with individual inputs. A reader should see the median ratio grow like
``k`` and fall like ``1/d`` (log-log slopes +1 and −1), and mixtures aligned with ``M w*``.

The sweep holds everything but the swept size fixed (issue #15, item 5):

* the threshold is one fixed share of the signal, ``t_i = ‖w_i‖/(2√k)`` — half of what one atom of a
  code gives a unit neuron — once a neuron's largest response over the training inputs reaches one
  atom's signal, and half of that largest response before
  (:class:`sims.purification_runs.PurificationSetup` reading ``'peak'``), so once neurons reach it
  it does not move relative to the signal as ``k`` or ``d`` does. The fixed ``‖w_i‖/(2√k)`` alone
  (reading ``'signal'``) is ``√d/(2√k)`` standard deviations of a random neuron's response at the
  initialisation: at the medium
  rung no neuron reached it for ``k = 2, d = 128`` and ``d ≥ 256, k = 4`` (training accuracy
  0.00–0.14); half the largest of ``n`` Gaussian responses is within reach whatever ``d/k`` is;
* the width is fixed (``m = 256`` at quick and medium, 2 048 at paper), not tied to ``d``;
* clean training runs to a loss plateau (the trainer's stop rule: a member stops once its mean logistic
  loss over a 50-step window fell by at most :data:`PLATEAU` nats — finer at the paper rung — with a
  cap on the steps, :data:`MAX_STEPS`, and armed only once the loss is below :data:`PLATEAU_BELOW`:
  the flat start from a small initialisation is a saddle, not a plateau), not for a fixed number of
  steps; the records carry each member's steps.

Grid: ``k ∈ {2, 4, 8}`` at ``d = 64`` and ``d ∈ {32, 64, 128}`` at ``k = 4`` (identity dictionary; 8 members,
2 000 training points); ``medium`` sweeps ``k ∈ {2, 4, 8}`` at ``d = 128`` (``k ≤ √d``, as the derivation
needs) and ``d ∈ {64, 128, 256, 512}`` at ``k = 4`` with 10 members; ``paper`` ``k`` to 16 at ``d = 256`` and
``d`` to 512 at width 2 048 with 8 000 points.

The clean nets' minimal ℓ∞ and ℓ2 flip radii (:func:`sims.purification_runs.flip_radii`, on
:data:`N_RADIUS` test points) over the same sweep give the radius's scaling in ``k`` and ``d``, against the
flip radius of the paper's clean network with its threshold
(:func:`theory.purification.clean_network_flip_radius`; issue #15, item 2). Negative control: the same grid on *shuffled* labels (the
same data, seeds and training, no label signal for the mixture to follow), and a second shuffle (another
permutation) — the noise floor of the true-minus-shuffled slope difference.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

from sims.cli import main_for
from sims.purification_runs import (
    Condition,
    PurificationSetup,
    clean_summary,
    data_arrays,
    flip_radii,
    neuron_arrays,
    setup_variants,
    train_clean,
)
from sims.simulation import RunContext, RunOutput, Simulation

Config = Condition

#: The loss-plateau tolerance of the clean training (nats per 50-step window) and the most steps a
#: member may take, per rung.
PLATEAU = {"quick": 0.01, "medium": 0.01, "paper": 0.002}
MAX_STEPS = {"quick": 800, "medium": 2000, "paper": 10_000}
#: The plateau rule is armed only below this mean loss (nats): from the small initialisation the loss
#: first sits at log 2 ≈ 0.69 (a saddle), which a rule armed from the start took for a plateau at the
#: medium rung (members of d = 256 and 512 stopped untrained at step 100).
PLATEAU_BELOW = 0.5
#: The threshold, as a share of one atom's signal (or of the neuron's largest response while that is
#: smaller: reading ``'peak'``).
THRESHOLD = 0.5
#: The test points whose minimal flip radii are measured.
N_RADIUS = 200
#: The arms of every shape: true labels, shuffled labels, and a second shuffle.
ARMS = {"true": (False, 0), "shuffled": (True, 0), "reshuffled": (True, 1)}


def _shapes(scale: str) -> list[tuple[int, int]]:
    """``(d, k)``: a sweep in ``k`` at one ``d`` and a sweep in ``d`` at one ``k`` (sharing a row)."""
    if scale == "quick":
        return [(64, 2), (64, 4), (64, 8), (32, 4), (128, 4)]
    if scale == "medium":
        return [(128, 2), (128, 4), (128, 8), (64, 4), (256, 4), (512, 4)]
    return [(256, 2), (256, 4), (256, 8), (256, 16), (64, 4), (128, 4), (512, 4)]


def configs(scale: str) -> list[Config]:
    """The (d, k) grid, each shape on true labels and on two shuffles of them."""
    if scale == "quick":
        base = PurificationSetup(dtype="float32", n_seeds=8, m=256)
    elif scale == "medium":
        base = PurificationSetup(dtype="float32", n_seeds=10, m=256)
    else:
        base = PurificationSetup(dtype="float32", n=8000, n_seeds=8, m=2048)
    base = replace(
        base,
        threshold_kind="peak",
        threshold=THRESHOLD,
        clean_steps=MAX_STEPS[scale],
        clean_plateau=PLATEAU[scale],
        clean_plateau_below=PLATEAU_BELOW,
    )
    out = []
    for d, k in _shapes(scale):
        for arm, (shuffled, draw) in ARMS.items():
            s = replace(base, d=d, k=k, shuffle_labels=shuffled, shuffle_draw=draw)
            out.append(Config(f"{arm}-d{d}-k{k}", "control" if shuffled else "law", s))
    return out


def run(cfg: Config, ctx: RunContext) -> RunOutput:
    """Train clean to the loss plateau; decompose every neuron; measure the minimal ℓ∞ and ℓ2 flip
    radii of the first :data:`N_RADIUS` test points."""
    r = train_clean(cfg.setup, ctx.device)
    arrays = {
        **data_arrays(r),
        **neuron_arrays(r.ens.W, r.data, ""),
        **clean_summary(r),
        **flip_radii(r.ens, r.X_test[:N_RADIUS], r.y_test[:N_RADIUS]),
    }
    if r.ens.threshold is not None:  # the attacked nets' thresholds (with W_clean: re-attackable)
        arrays["threshold"] = r.ens.threshold.cpu().numpy()
    metrics = {
        "d": cfg.setup.d,
        "k": cfg.setup.k,
        "mixture_ratio_median": float(np.median(arrays["mixture_ratio"])),
        "purity_median": float(np.median(arrays["purity"])),
        "mixture_cos_median": float(np.median(arrays["mixture_cos"])),
        "test_acc_mean": float(arrays["test_acc"].mean()),
        "train_acc_mean": float(arrays["train_acc"].mean()),
        "clean_steps_median": float(np.median(arrays["clean_steps_taken"])),
        "flip_linf_median": float(np.nanmedian(arrays["flip_linf"])),
        "flip_l2_median": float(np.nanmedian(arrays["flip_l2"])),
    }
    return RunOutput(metrics=metrics, arrays=arrays)


SIM = Simulation(
    number="08",
    name="mixture_scaling",
    title="clean training leaves dense mixtures of size k/d along M w*",
    paper="Allen-Zhu & Li 2020 (PAPERS.md §2: form of a clean-trained neuron)",
    configs=configs,
    run=run,
    label=lambda c: c.condition,
    variants=setup_variants(),
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
