"""Simulation 14 — margin and smoothness of PGD-AT, TRADES and bridged AT, at matched robustness.

Kim, Lee, Lee & Lee (2021, "Bridged Adversarial Training"), PAPERS.md §4: models of *similar*
robustness can differ in *margin* (distance to the decision boundary) and *smoothness* (divergence
between the outputs at ``x`` and at its adversarial example); the smoothness regulariser of TRADES hurts
the margin; bridging clean and adversarial points with ``m`` intermediate points restores it, and BAT is
more robust, especially against large perturbations, and more stable.

The comparison the paper makes is at matched robustness, so every method traces a *curve* here, and the
claims (:mod:`paper_checks.bat`) compare the curves at equal robust accuracy by interpolation:

* **PGD-AT** at five training radii (:data:`PGD_FRACS` of the cap) — its robustness knob;
* **TRADES** at β in :data:`BETAS` (1 and 6 are the authors' MNIST and CIFAR values, 3–5 between);
* **BAT** with ``m = 4`` bridges and summed KL terms at β = 4·β_TRADES (the strength that matches TRADES
  as ε → 0, PAPERS.md §4), at every TRADES β;
* the control curve: **TRADES with another seed** of its inner attack at β in :data:`CONTROL_BETAS`,
  between and beside TRADES' own (a difference that is not there, read at other knots: the noise floor
  of the seeds *and* of the interpolation).

Radii from the data's geometry, not from a prediction: ``cap`` is half the median ℓ2 distance from a test
point to the nearest training point of the other class (no classifier right on both points is robust
beyond it; 0.5 for the ±1/2 sign codes of ``k = 4``: for 70% of the test points the nearest other-class
training point differs in four code entries, each by 1/2, an ℓ2 distance of 1).
TRADES and BAT train at ``ε = TRAIN_FRAC · cap``; every model is evaluated on the radii
``EVAL_FRACS · cap``.

Equal inner-attack budgets: every method's inner attack starts at ``x`` (TRADES and BAT: within
``0.001·N`` of it) and takes :data:`ATTACK_STEPS` steps of ``ATTACK_REL · ε`` (PGD-AT: PGD on the loss,
without a random start — from a uniform start in the 64-dimensional ball, near its sphere in a random
direction, five such steps would reach only about 0.8ε along the gradient; TRADES and BAT: ascent on the
KL). Equal training budgets: every method continues member ``i`` from the same clean-trained weights
(the sparse-coding data and symmetric network of feature purification, ``d = 64``, ``k = 4``;
:mod:`sims.purification_runs`, float32) with minibatch SGD (:data:`BATCH` points, step :data:`LR`) for
the rung's number of steps, the same for every method, as the paper trains every method for the same
epochs.

Why not to a loss plateau. A plateau rule (the windowed mean training loss falls by at most 0.002 nats
per window; :class:`sims.training.TrainConfig`) stops PGD-AT early in a phase where its training loss is
flat but its robustness is not: at 0.8 of the cap it stops after 200–250 steps with robust accuracy 0.23
at the training radius, and still after 1 000–1 250 steps with a 250-step window, while the same run
continued to 2 000 steps reaches 0.46 (the slow, implicit-bias drift of a logistic loss). So every row
trains the same fixed number of steps and records its robust accuracy along the way
(``robust_path``): the record shows whether a curve's point has stopped moving.
The step :data:`LR` is four times the clean training's: the continued training then covers, in 2 000
steps, the gradient-flow time (``lr · steps``) of 8 000 steps at the clean step size (PGD-AT at 0.8 of
the cap: 0.45 after 6 000 steps of 0.5, 0.46 after 2 000 of 2.0).

Pairing: every row continues member ``i`` from the same clean weights and is measured on the same test
points, so the claims compare methods by paired resampling (members and points together).

Scales (members, training steps, attacked test points): ``quick`` 8, 1 500, 300; ``medium`` 16, 2 000,
500; ``paper`` 32, 4 000, 1 000.

Records: the attacked network (``W``, ``b``, ``a``, ``threshold``), ``eps_grid (K,)``, ``robust (M, K)``
and ``robust_points (M, K, n)`` (PGD-50, two restarts), ``margin (M, n)`` (ℓ2 minimum-norm attack; NaN
for misclassified points), ``smoothness (M, n)`` (``KL(p(x) ‖ p(x'))`` at the PGD point ``x'`` of radius
``ε``), ``path_steps (T,)`` and ``robust_path (T, M)`` (robust accuracy at the training radius, PGD-20,
along training), ``final_loss (M,)`` (the method's training loss), ``diverged (M,)``,
``train_acc (M,)``, ``test_acc (M,)``; metrics ``cap``, ``eps`` (the training radius) and ``drift``
(the mean change of ``robust_path`` over its last interval, the last 1/:data:`PATH_POINTS` of training).
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass

import numpy as np
import torch

from sims.attacks import PGD, MinNorm, robust_accuracy
from sims.cli import main_for
from sims.errors import check_choice, check_float, check_int
from sims.measure import accuracy, feasibility_cap
from sims.methods import BAT, PGDAT, TRADES, Method, bernoulli_kl
from sims.nets import TwoLayerEnsemble
from sims.purification_runs import (
    CleanRun,
    PurificationSetup,
    continue_training,
    network_arrays,
    setup_data,
    train_clean,
)
from sims.simulation import SCALES, RunContext, RunOutput, Simulation
from sims.threat import L2Ball

#: The radius TRADES and BAT train at, and the radius their robust accuracies are matched at, as a
#: fraction of the cap.
TRAIN_FRAC = 0.6
#: The evaluation radii as fractions of the cap (the training radius among them).
EVAL_FRACS = (0.2, 0.4, 0.6, 0.8)
#: PGD-AT's training radii as fractions of the cap (its curve), inside the feasible range (at the cap
#: itself half the test points have an other-class training point within 2ε).
PGD_FRACS = (0.5, 0.6, 0.7, 0.8, 0.9)
#: TRADES' β values (BAT's are ``BRIDGES`` times these): 1 and 6 are the authors' MNIST and CIFAR
#: values; 3–5 resolve the rise of robust accuracy between them (0.30 at β = 3, 0.60 at 4, 0.73 at 5
#: after 2 000 steps).
BETAS = (1.0, 3.0, 3.5, 4.0, 5.0, 12.0)
#: The control curve's β values (TRADES with inner-attack seed 1): interleaved with :data:`BETAS`.
CONTROL_BETAS = (2.0, 3.25, 3.75, 4.5, 8.0)
#: BAT's bridge segments.
BRIDGES = 4
#: Every method's inner attack: steps of ``ATTACK_REL · ε``.
ATTACK_STEPS = 5
ATTACK_REL = 0.25
#: Minibatch size and step size of the continued training (four times the clean training's step).
BATCH = 200
LR = 2.0
#: Robust accuracy along training: measured at step 0 and this many evenly spaced steps after it.
PATH_POINTS = 6
#: Per scale: members, training steps, attacked test points.
SIZES = {"quick": (8, 1500, 300), "medium": (16, 2000, 500), "paper": (32, 4000, 1000)}
assert tuple(SIZES) == SCALES
assert TRAIN_FRAC in EVAL_FRACS


@dataclass(frozen=True)
class Config:
    """One point of one method's curve: ``family`` (``pgd``, ``trades``, ``bat``, ``trades-seed1``),
    its knob (PGD-AT: the training radius ``frac`` of the cap; TRADES and BAT: ``beta``) and the
    rung's sizes."""

    condition: str
    role: str
    family: str
    beta: float = 0.0
    frac: float = TRAIN_FRAC
    method_seed: int = 0
    n_seeds: int = 8
    steps: int = 1500
    n_eval: int = 300

    def __post_init__(self) -> None:
        check_choice("role", self.role, ("law", "control"))
        check_choice("family", self.family, FAMILIES)
        check_float("beta", self.beta, 0.0)
        check_float("frac", self.frac, 0.0, lo_open=True)
        check_int("method_seed", self.method_seed, 0)
        check_int("n_seeds", self.n_seeds, 1)
        check_int("steps", self.steps, 1)
        check_int("n_eval", self.n_eval, 1)

    def method(self, cap: float) -> Method:
        """The training method at the data's cap."""
        eps = self.frac * cap
        if self.family == "pgd":
            return PGDAT(
                norm="l2",
                eps=eps,
                steps=ATTACK_STEPS,
                rel_stepsize=ATTACK_REL,
                random_start=False,
                seed=self.method_seed,
            )
        if self.family == "bat":
            return BAT(
                norm="l2",
                eps=eps,
                beta=self.beta,
                m=BRIDGES,
                steps=ATTACK_STEPS,
                rel_stepsize=ATTACK_REL,
                seed=self.method_seed,
            )
        return TRADES(
            norm="l2",
            eps=eps,
            beta=self.beta,
            steps=ATTACK_STEPS,
            rel_stepsize=ATTACK_REL,
            seed=self.method_seed,
        )


#: The curves: PGD-AT, TRADES, BAT and the control (TRADES with inner-attack seed 1).
FAMILIES = ("pgd", "trades", "bat", "trades-seed1")


def configs(scale: str) -> list[Config]:
    """Every method's curve at the rung's :data:`SIZES`."""
    seeds, steps, n_eval = SIZES[check_choice("scale", scale, SCALES)]
    rows = [Config(f"pgd-eps{f:g}", "law", "pgd", frac=f) for f in PGD_FRACS]
    for b in BETAS:
        rows.append(Config(f"trades-beta{b:g}", "law", "trades", b))
        rows.append(Config(f"bat-beta{BRIDGES * b:g}", "law", "bat", BRIDGES * b))
    for b in CONTROL_BETAS:
        rows.append(Config(f"trades-seed1-beta{b:g}", "control", "trades-seed1", b, method_seed=1))
    return [
        Config(c.condition, c.role, c.family, c.beta, c.frac, c.method_seed, seeds, steps, n_eval)
        for c in rows
    ]


@functools.lru_cache(maxsize=1)
def _clean_run(s: PurificationSetup, device: str) -> CleanRun:
    """The clean-trained run every row continues from, once per process (rows with the same members
    share it; :func:`sims.purification_runs.continue_training` trains a copy)."""
    return train_clean(s, device)


@functools.lru_cache(maxsize=1)
def data_cap(s: PurificationSetup) -> float:
    """Half the median ℓ2 distance from a test point to the nearest training point of the other class
    (:func:`sims.measure.feasibility_cap`): the radius scale of every row."""
    train, test = setup_data(s)
    t = torch.from_numpy
    return feasibility_cap(t(test.X), t(test.y), t(train.X), t(train.y))


def run(cfg: Config, ctx: RunContext) -> RunOutput:
    """Continue the clean run with the row's method for the rung's steps (robust accuracy at the
    training radius along the way); robust accuracy on the ε grid per point, margins, smoothness, and
    the attacked network."""
    setup = PurificationSetup(n_seeds=cfg.n_seeds, dtype="float32")
    r = _clean_run(setup, ctx.device)
    cap = data_cap(setup)
    eps = TRAIN_FRAC * cap
    X, y = r.X_test[: cfg.n_eval], r.y_test[: cfg.n_eval]
    path_steps = [round(cfg.steps * i / PATH_POINTS) for i in range(PATH_POINTS + 1)]

    def robust_now(e: TwoLayerEnsemble) -> dict[str, torch.Tensor]:
        at = robust_accuracy(e, X, y, L2Ball(eps=eps), (eps,), attacks=(PGD(steps=20),))
        return {"robust": at.accuracy[:, 0]}

    ens, res = continue_training(
        r,
        cfg.method(cap),
        cfg.steps,
        LR,
        batch_size=BATCH,
        measure=robust_now,
        measure_at=path_steps,
    )
    grid = tuple(f * cap for f in EVAL_FRACS)
    ra = robust_accuracy(ens, X, y, L2Ball(eps=eps), grid, attacks=(PGD(steps=50, restarts=2),))
    mn = MinNorm(
        norm="l2", search_steps=10, search_attack=PGD(steps=20, restarts=2, schedule="linear")
    )(ens, X, y)
    with torch.no_grad():
        f = ens.forward(X)
        correct = (y * f) > 0
        margin = torch.where(correct, mn.dist, torch.full_like(mn.dist, float("nan")))
        adv = PGD(steps=50)(ens, X, y, L2Ball(eps=eps))
        smooth = bernoulli_kl(f, ens.forward(X[None] + adv.delta))
    correct_np = correct.cpu().numpy()
    assert ens.threshold is not None
    path = np.asarray(res.history["robust"])
    diverged = np.asarray(res.diverged, dtype=bool)
    arrays = {
        **network_arrays(ens),
        "eps_grid": np.asarray(grid),
        "robust": ra.accuracy.cpu().numpy(),
        "robust_points": correct_np[:, None, :] & ~ra.success.cpu().numpy(),
        "margin": margin.cpu().numpy(),
        "smoothness": smooth.cpu().numpy(),
        "path_steps": np.asarray(res.measure_steps),
        "robust_path": path,
        "final_loss": np.asarray(res.final_loss),
        "diverged": diverged,
        "train_acc": accuracy(ens, r.X, r.y),
        "test_acc": correct_np.mean(axis=1),
    }
    j = EVAL_FRACS.index(TRAIN_FRAC)
    metrics = {
        "cap": cap,
        "eps": eps,
        "robust_at_eps": float(arrays["robust"][:, j].mean()),
        "margin_median": float(np.nanmedian(arrays["margin"])),
        "smoothness_mean": float(arrays["smoothness"].mean()),
        "test_acc": float(arrays["test_acc"].mean()),
        "drift": float((path[-1] - path[-2]).mean()),
    }
    return RunOutput(metrics=metrics, arrays=arrays)


SIM = Simulation(
    number="14",
    name="margin_smoothness",
    title="margin and smoothness of PGD-AT, TRADES and bridged AT at matched robustness",
    paper="Kim, Lee, Lee & Lee 2021 (PAPERS.md §4)",
    configs=configs,
    run=run,
    label=lambda c: c.condition,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
