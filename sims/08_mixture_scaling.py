"""Simulation 08 — dense mixtures after clean training, and how they scale with k and d.

Allen-Zhu & Li (2020), PAPERS.md §2, "form of a clean-trained neuron" [recalled; derived]: a clean-trained
neuron is one pure dictionary atom plus a dense mixture with a coefficient ``≈ k/d`` on every other atom,
signs along ``M w*``. Measured per neuron (:func:`sims.measure.neuron_decomposition`): the median ratio
``|c_ij'/c_ij*|``, purity, ``‖v‖₂``, ``‖Mᵀv‖₁``, ``cos(v, M w*)`` and the mixture's correlation with the
average input ``E[y x]`` versus with individual inputs. A reader should see the median ratio grow like
``k`` and fall like ``1/d`` (log-log slopes +1 and −1), and mixtures aligned with ``M w*``.

Grid: ``k ∈ {2, 4, 8}`` at ``d = 64`` and ``d ∈ {32, 64, 128}`` at ``k = 4`` (identity dictionary,
width ``4d``, at most 256; 8 members), in two readings of the paper's threshold schedule (``'noise'``:
``2‖w‖/√d``, ``'signal'``: ``‖w‖/(2√k)``; :mod:`sims.purification_runs`). Negative control: the same grid
trained on *shuffled* labels — the same data and training, but no label signal for the mixture to follow.
``medium`` sweeps ``k`` at ``d = 128`` (``k ≤ √d``, as the derivation needs) and ``d`` up to 256 at ``k = 4``,
with 10 members and 500 steps (width still capped at 256: the time budget);
``paper`` to ``d = 512`` with the full width ``4d`` and longer training. Where the two readings give the same
threshold (``d = 16k``: ``2/√d = 1/(2√k)``) the rows are one training (``run_group``), recorded twice.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Sequence
from dataclasses import replace

import numpy as np

from sims.cli import main_for
from sims.purification_runs import (
    Condition,
    PurificationSetup,
    clean_summary,
    data_arrays,
    neuron_arrays,
    train_clean,
)
from sims.simulation import RunContext, RunOutput, Simulation, one_row

Config = Condition

READINGS = {"noise": 2.0, "signal": 0.5}


def _shapes(scale: str) -> list[tuple[int, int]]:
    """``(d, k)``: a sweep in ``k`` at one ``d`` and a sweep in ``d`` at one ``k`` (sharing a row)."""
    if scale == "quick":
        return [(64, 2), (64, 4), (64, 8), (32, 4), (128, 4)]
    if scale == "medium":
        return [(128, 2), (128, 4), (128, 8), (32, 4), (64, 4), (256, 4)]
    return [(256, 2), (256, 4), (256, 8), (256, 16), (64, 4), (128, 4), (512, 4)]


def configs(scale: str) -> list[Config]:
    """The (d, k) grid in both threshold readings, on true and on shuffled labels."""
    if scale == "quick":
        base, width_cap = PurificationSetup(dtype="float32", n_seeds=8), 256
    elif scale == "medium":
        base = PurificationSetup(dtype="float32", clean_steps=500, n_seeds=10)
        width_cap = 256
    else:
        base, width_cap = (
            PurificationSetup(dtype="float32", n=8000, clean_steps=2000, n_seeds=8),
            2048,
        )
    out = []
    for reading, value in READINGS.items():
        for d, k in _shapes(scale):
            s = replace(base, d=d, k=k, m=min(4 * d, width_cap))
            s = replace(s, threshold_kind=reading, threshold=value)
            out.append(Config(f"{reading}-d{d}-k{k}", "law", s))
            shuffled = replace(s, shuffle_labels=True)
            out.append(Config(f"shuffled-{reading}-d{d}-k{k}", "control", shuffled))
    return out


def training(cfg: Config) -> Hashable:
    """What the clean training depends on: the setup with its threshold reading replaced by the rule it
    gives (rows of the two readings with the same rule train identically)."""
    s = cfg.setup
    return (replace(s, threshold_kind="constant", threshold=0.0), s.rule())


def run_group(cfgs: Sequence[Config], ctx: RunContext) -> list[RunOutput]:
    """Train clean once for rows with the same :func:`training`; decompose every neuron."""
    r = train_clean(cfgs[0].setup, ctx.device)
    arrays = {**data_arrays(r), **neuron_arrays(r.ens.W, r.data, ""), **clean_summary(r)}
    out = []
    for cfg in cfgs:
        metrics = {
            "d": cfg.setup.d,
            "k": cfg.setup.k,
            "mixture_ratio_median": float(np.median(arrays["mixture_ratio"])),
            "purity_median": float(np.median(arrays["purity"])),
            "mixture_cos_median": float(np.median(arrays["mixture_cos"])),
            "test_acc_mean": float(arrays["test_acc"].mean()),
        }
        out.append(RunOutput(metrics=metrics, arrays=dict(arrays)))
    return out


SIM = Simulation(
    number="08",
    name="mixture_scaling",
    title="clean training leaves dense mixtures of size k/d along M w*",
    paper="Allen-Zhu & Li 2020 (PAPERS.md §2: form of a clean-trained neuron)",
    configs=configs,
    run=one_row(run_group),
    label=lambda c: c.condition,
    group=training,
    run_group=run_group,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
