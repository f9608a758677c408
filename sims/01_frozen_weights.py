"""Simulation 01 — gradient training never moves the first-layer weights off the data subspace.

Paper: Melamed, Yehudai & Vardi (NeurIPS 2023); shared/PAPERS.md §1, invariants 1, 2 and 4.

On data in a linear subspace ``P``, every first-layer gradient lies in ``span{x_i} ⊆ P``, so any
gradient-linear optimizer leaves ``P⊥W`` exactly at its initial value (invariant 1). The grid crosses
optimizer (GD, minibatch SGD, heavy ball, Nesterov) × trained/fixed biases × trained/fixed second layer ×
loss (logistic, sigmoid+BCE, hinge, squared), all in float64. Negative controls break the condition:
coupled weight decay (``P⊥W_t = (1 − ηλ)^t P⊥W_0`` for SGD, a scalar recurrence with momentum —
invariant 2), Adam with a rotated basis (moves ``P⊥W``) and with an axis-aligned one (does not), and data on
an affine subspace (alone, and with weight decay, where the decay laws must break too).

What a reader should see: drift ``‖P⊥(W_t − W_0)‖/‖P⊥W_0‖`` at float64 rounding (≈1e-16) for every run
of the invariant grid, and order-one drift for weight decay, rotated Adam and affine data; the
weight-decay runs on the predicted ``(1 − ηλ)^t`` curve.

Arrays (``arrays.npz``, member axis first where it applies): ``basis (d,k)``, ``offset (d,)``, ``X (n,d)``,
``y (n,)``, ``W0, W (M,m,d)``, ``b0, b, a0, a (M,m)``, ``steps (T,)``, ``drift (T,M)``,
``perp_ratio (T,M)`` (``‖P⊥W_t‖/‖P⊥W_0‖``), ``steps_taken (M,)``, ``train_acc (M,)``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import torch

from sims.cli import main_for
from sims.data import make_subspace_data
from sims.errors import check_choice, check_float, check_int
from sims.losses import LOSSES
from sims.measure import offsubspace_drift, offsubspace_ratio
from sims.nets import TwoLayerEnsemble, init_ensemble, weight_arrays
from sims.optim import OPTIMIZERS, OptimizerConfig
from sims.simulation import RunContext, RunOutput, Simulation, member_seeds, torch_dtype
from sims.training import TrainConfig, train

ROLES = ("invariant", "control")


@dataclass(frozen=True)
class Config:
    """One condition of simulation 01 (all members share it and differ by seed)."""

    condition: str
    role: str
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch_size: int | None = None
    train_b: bool = True
    train_a: bool = True
    loss: str = "logistic"
    axis_aligned: bool = False
    offset: float = 0.0
    n: int = 40
    d: int = 20
    k: int = 4
    m: int = 32
    steps: int = 300
    n_seeds: int = 3
    seed: int = 0
    dtype: str = "float64"

    def __post_init__(self) -> None:
        check_choice("role", self.role, ROLES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("loss", self.loss, LOSSES)
        check_float("lr", self.lr, 0.0, lo_open=True)
        check_float("weight_decay", self.weight_decay, 0.0)
        check_int("n", self.n, 1)
        check_int("d", self.d, 2)
        check_int("k_P", self.k, 1, self.d - 1)
        check_int("m", self.m, 1)
        check_int("steps", self.steps, 0)
        check_int("n_seeds", self.n_seeds, 1)


class _Size(TypedDict):
    n: int
    d: int
    k: int
    m: int
    steps: int
    n_seeds: int


_SIZES: dict[str, _Size] = {
    "quick": {"n": 40, "d": 20, "k": 4, "m": 32, "steps": 300, "n_seeds": 3},
    "medium": {"n": 100, "d": 50, "k": 6, "m": 64, "steps": 1000, "n_seeds": 4},
    "paper": {"n": 200, "d": 100, "k": 10, "m": 256, "steps": 3000, "n_seeds": 10},
}
_OPTIMIZERS = {  # condition -> (optimizer, lr, momentum, batch_size)
    "gd": ("sgd", 0.1, 0.0, None),
    "sgd": ("sgd", 0.1, 0.0, 10),
    "heavy_ball": ("heavy_ball", 0.05, 0.9, None),
    "nesterov": ("nesterov", 0.05, 0.9, None),
}


def configs(scale: str) -> list[Config]:
    """The invariant grid and the negative controls at ``scale``."""
    size = _SIZES[scale]
    out: list[Config] = []
    for cond, (opt, lr, mu, bs) in _OPTIMIZERS.items():
        for train_b in (True, False):
            for train_a in (True, False):
                for loss in LOSSES:
                    out.append(
                        Config(
                            condition=cond,
                            role="invariant",
                            optimizer=opt,
                            lr=lr,
                            momentum=mu,
                            batch_size=bs if bs is None else min(bs, size["n"]),
                            train_b=train_b,
                            train_a=train_a,
                            loss=loss,
                            **size,
                        )
                    )
    for lam in (1e-3, 1e-2):
        out.append(
            Config(
                condition="weight_decay",
                role="control",
                optimizer="sgd",
                lr=0.1,
                weight_decay=lam,
                **size,
            )
        )
    for cond, (opt, lr, mu, _) in _OPTIMIZERS.items():
        if opt in ("heavy_ball", "nesterov"):
            out.append(
                Config(
                    condition=f"{cond}_weight_decay",
                    role="control",
                    optimizer=opt,
                    lr=lr,
                    momentum=mu,
                    weight_decay=1e-2,
                    **size,
                )
            )
    out.append(Config(condition="adam_rotated", role="control", optimizer="adam", lr=0.01, **size))
    out.append(
        Config(
            condition="adam_axis_aligned",
            role="control",
            optimizer="adam",
            lr=0.01,
            axis_aligned=True,
            **size,
        )
    )
    out.append(
        Config(
            condition="adam_weight_decay",
            role="control",
            optimizer="adam",
            lr=0.01,
            weight_decay=1e-2,
            **size,
        )
    )
    out.append(
        Config(condition="affine", role="control", optimizer="sgd", lr=0.1, offset=1.0, **size)
    )
    out.append(
        Config(
            condition="weight_decay_affine",
            role="control",
            optimizer="sgd",
            lr=0.1,
            weight_decay=1e-2,
            offset=1.0,
            **size,
        )
    )
    out.append(
        Config(
            condition="heavy_ball_weight_decay_affine",
            role="control",
            optimizer="heavy_ball",
            lr=0.05,
            momentum=0.9,
            weight_decay=1e-2,
            offset=1.0,
            **size,
        )
    )
    return out


def measure_points(steps: int) -> list[int]:
    """Log-spaced measurement steps ``0, 1, 2, 3, 5, …, steps``."""
    if steps == 0:
        return [0]
    pts = np.unique(np.round(np.geomspace(1, steps, num=24)).astype(int))
    return [0, *pts.tolist()]


def run(cfg: Config, ctx: RunContext) -> RunOutput:
    """Train one condition and record the off-subspace drift along the way."""
    dtype = torch_dtype(cfg.dtype)
    data = make_subspace_data(
        cfg.n,
        cfg.d,
        cfg.k,
        seed=cfg.seed,
        axis_aligned=cfg.axis_aligned,
        offset=cfg.offset,
        labels="linear",
    )
    X, y = data.tensors(dtype=dtype, device=ctx.device)
    seeds = member_seeds(cfg.seed, cfg.n_seeds)
    trainable = ("W",) + (("b",) if cfg.train_b else ()) + (("a",) if cfg.train_a else ())
    ens = init_ensemble(
        cfg.d,
        cfg.m,
        seeds=seeds,
        scheme="paper",
        bias="normal",
        bias_std=0.1,
        trainable=trainable,
        dtype=dtype,
        device=ctx.device,
    )
    ens0 = ens.clone()
    opt = OptimizerConfig(
        name=cfg.optimizer, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )
    tcfg = TrainConfig(steps=cfg.steps, optimizer=opt, loss=cfg.loss, batch_size=cfg.batch_size)
    basis = data.basis

    def measure(e: TwoLayerEnsemble) -> dict[str, torch.Tensor]:
        return {
            "drift": offsubspace_drift(e.W, ens0.W, basis),
            "perp_ratio": offsubspace_ratio(e.W, ens0.W, basis),
        }

    res = train(ens, X, y, tcfg, seeds=seeds, measure=measure, measure_at=measure_points(cfg.steps))
    with torch.no_grad():
        acc = (y * ens.forward(X) > 0).to(dtype).mean(dim=1).cpu().numpy()
    drift = res.history["drift"]
    ratio = res.history["perp_ratio"]
    metrics = {
        "max_drift": float(drift.max()),
        "final_drift_mean": float(drift[-1].mean()),
        "final_perp_ratio_mean": float(ratio[-1].mean()),
        "train_acc_mean": float(acc.mean()),
        "final_loss_mean": float(res.final_loss.mean()),
        "steps_taken_mean": float(res.steps_taken.mean()),
        "train_seconds": res.seconds,
    }

    def np_(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy()

    arrays = {
        "basis": data.basis,
        "offset": data.offset,
        "X": data.X,
        "y": data.y,
        **weight_arrays(ens, ens0),
        "steps": np.asarray(res.measure_steps),
        "drift": drift,
        "perp_ratio": ratio,
        "steps_taken": res.steps_taken,
        "train_acc": acc,
    }
    return RunOutput(metrics=metrics, arrays=arrays)


SIM = Simulation(
    number="01",
    name="frozen_weights",
    title="off-subspace first-layer weights stay frozen under gradient training",
    paper="Melamed, Yehudai & Vardi 2023, PAPERS.md §1 invariants 1-2, 4",
    configs=configs,
    run=run,
    label=lambda c: f"{c.condition}-{c.loss}-b{int(c.train_b)}a{int(c.train_a)}",
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
