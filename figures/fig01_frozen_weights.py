"""Figure 01 — off-subspace drift of the first layer during training (simulation 01).

(a) ``‖P⊥(W_t − W_0)‖_F / ‖P⊥W_0‖_F`` vs step on log axes: one line per condition (median over runs and
members, band from min to max). The invariant grid sits at float64 rounding; the negative controls do
not. Exact zeros are drawn at the floor 1e-18.
(b) ``‖P⊥W_t‖_F / ‖P⊥W_0‖_F`` for the weight-decay runs (markers, measured) against the predictions of
:mod:`theory.subspace` (lines): ``(1 − ηλ)^t`` for SGD and the momentum recurrence otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from figures.registry import FigureSpec
from figures.style import new_figure, save
from sims.records import load_records
from theory import subspace as th

SIM = "01_frozen_weights"
FLOOR = 1e-18
_ORDER = [
    "gd",
    "sgd",
    "heavy_ball",
    "nesterov",
    "adam_axis_aligned",
    "weight_decay",
    "adam_rotated",
    "affine",
]


def make(results: Path, out: Path) -> list[Path]:
    """Draw figure 01 from the records of simulation 01."""
    runs = load_records(results, SIM)
    fig, (ax_a, ax_b) = new_figure(2)
    groups: dict[str, list[np.ndarray]] = defaultdict(list)
    steps_of: dict[str, np.ndarray] = {}
    for r in runs:
        cond = r.config["condition"]
        if cond not in _ORDER:
            continue
        a = r.arrays()
        label = cond if r.config["role"] == "invariant" else f"{cond} (control)"
        if cond == "weight_decay":
            label = f"weight decay λ={r.config['weight_decay']:g} (control)"
        groups[label].append(a["drift"])
        steps_of[label] = a["steps"]
    order = sorted(
        groups,
        key=lambda k: (_ORDER.index(k.split(" ")[0]) if k.split(" ")[0] in _ORDER else 99, k),
    )
    for label in order:
        d = np.maximum(np.concatenate(groups[label], axis=1), FLOOR)
        s = steps_of[label]
        keep = s > 0
        style = "-" if "control" not in label else "--"
        (line,) = ax_a.plot(s[keep], np.median(d, axis=1)[keep], style, label=label)
        ax_a.fill_between(
            s[keep], d.min(axis=1)[keep], d.max(axis=1)[keep], color=line.get_color(), alpha=0.15
        )
    ax_a.axhline(np.finfo(np.float64).eps, color="0.4", lw=0.8, ls=":")
    ax_a.text(1, np.finfo(np.float64).eps * 2, "float64 ε", fontsize=8, color="0.3")
    ax_a.text(1, FLOOR * 2, "exact 0 drawn at 1e-18", fontsize=7, color="0.3")
    ax_a.set(
        xscale="log",
        yscale="log",
        xlabel="step t",
        ylabel=r"$\|P_\perp(W_t-W_0)\|_F\,/\,\|P_\perp W_0\|_F$",
        title="(a) off-subspace drift",
    )
    ax_a.legend(fontsize=7, loc="center right")

    for r in runs:
        cfg = r.config
        if cfg["weight_decay"] <= 0 or cfg["optimizer"] == "adam" or cfg["offset"] > 0:
            continue
        a = r.arrays()
        s = a["steps"]
        ratio = a["perp_ratio"]
        name = f"{cfg['optimizer']} λ={cfg['weight_decay']:g}"
        pts = ax_b.plot(s[1:], ratio[1:].mean(axis=1), "o", ms=3.5, label=f"{name} (measured)")
        pred = th.decay_factor(
            cfg["optimizer"],
            eta=cfg["lr"],
            lam=cfg["weight_decay"],
            t=np.arange(int(s.max()) + 1),
            mu=cfg["momentum"],
        )
        if pred is not None:
            ax_b.plot(
                np.arange(1, int(s.max()) + 1),
                pred[1:],
                "-",
                lw=1,
                color=pts[0].get_color(),
                label=f"{name} (theory)",
            )
    ax_b.set(
        xscale="log",
        xlabel="step t",
        ylabel=r"$\|P_\perp W_t\|_F\,/\,\|P_\perp W_0\|_F$",
        title=r"(b) weight decay: $(1-\eta\lambda)^t$ and momentum recurrence",
    )
    ax_b.legend(fontsize=7)
    return save(fig, out, "fig01_frozen_weights")


FIGURE = FigureSpec(
    stem="fig01_frozen_weights",
    sims=(SIM,),
    caption="Off-subspace drift stays at float64 rounding under gradient training; weight decay, "
    "rotated Adam and affine data move it; weight decay follows the predicted law.",
    make=make,
)
