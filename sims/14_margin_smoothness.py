"""Simulation 14 — margin and smoothness of PGD-AT, TRADES and bridged adversarial training.

Kim, Lee, Lee & Lee (2021, "Bridged Adversarial Training"), PAPERS.md §4: equally robust models can
differ in *margin* (distance to the decision boundary) and *smoothness* (divergence between the outputs
at ``x`` and at its adversarial example); the smoothness regulariser of TRADES hurts the margin; bridging
clean and adversarial points with ``m`` intermediate points restores it, with the largest gain in
robust accuracy at large ε.

Setting: the sparse-coding data and symmetric network of feature purification (``d = 64``, ``k = 4``;
:mod:`sims.purification_runs`), float32; every method continues from the same clean-trained weights for
the same number of full-batch steps, ℓ2 at ``ε = 0.25`` with 5-step inner attacks. Models: clean
(continued clean steps); PGD-AT (logistic = cross-entropy on logits ``[0, f]``); TRADES (β = 6); BAT with
``m = 4`` and the summed KL at β = 24 (= m·6, the strength that matches TRADES as ε → 0, PAPERS.md §4;
the claims compare it with TRADES at β = 6). Controls: BAT with ``m = 1`` (the KL attack makes it TRADES exactly), BAT with β = 0
(clean training on the clean loss), and TRADES with another seed of its inner attack's start (the noise
floor of any TRADES-vs-BAT difference).

Pairing: every row continues member ``i`` from the same clean-trained weights (the clean run is trained
once per process and shared by the rows) and is measured on the same test points, so the checks compare
methods by paired differences.

Scales: ``quick`` — 8 members, 100 continued steps, 150 test points; ``medium`` — 16 members, 200 steps,
300 test points (the data, width and radius stay: ε is set against the codes' scale); ``paper`` — 16
members, 1000 steps, 300 test points. The two identity rows (``clean``, ``bat-m1-beta6``) run at the quick
scale only, where the tests check them; every other row is read by a claim.

Records: ``W`` (the trained first layer, for the β = 0 identity), ``eps_grid (K,)``, ``robust (M, K)``
and ``robust_points (M, K, n)`` (PGD-50, two restarts), ``margin (M, n)`` (ℓ2 minimum-norm attack; NaN
for misclassified points), ``smoothness (M, n)`` (``KL(p(x) ‖ p(x'))`` at the PGD point ``x'`` of radius
ε), ``train_acc (M,)`` and ``test_acc (M,)``, on ``n_eval`` test points.
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
from sims.measure import accuracy
from sims.methods import BAT, PGDAT, TRADES, Clean, Method, bernoulli_kl
from sims.purification_runs import (
    CleanRun,
    PurificationSetup,
    continue_with,
    train_clean,
)
from sims.simulation import SCALES, RunContext, RunOutput, Simulation
from sims.threat import L2Ball

EPS = 0.25
ATTACK_STEPS = 5
EPS_GRID = (0.125, 0.25, 0.375, 0.5)
#: Per scale: continued steps, members, attacked test points.
SIZES = {"quick": (100, 8, 150), "medium": (200, 16, 300), "paper": (1000, 16, 300)}
assert tuple(SIZES) == SCALES


@dataclass(frozen=True)
class Config:
    """One training method: ``kind`` (``clean``, ``pgd``, ``trades``, ``bat``), β and ``m``."""

    condition: str
    role: str
    kind: str
    beta: float = 0.0
    m: int = 1
    steps: int = 100
    n_seeds: int = 8
    method_seed: int = 0
    n_eval: int = 150

    def __post_init__(self) -> None:
        check_choice("role", self.role, ("law", "control"))
        check_choice("kind", self.kind, ("clean", "pgd", "trades", "bat"))
        check_float("beta", self.beta, 0.0)
        check_int("m", self.m, 1)
        check_int("n_eval", self.n_eval, 1)

    def method(self) -> Method:
        """The training method (clean training: the clean loss, :class:`sims.methods.Clean`)."""
        if self.kind == "pgd":
            return PGDAT(norm="l2", eps=EPS, steps=ATTACK_STEPS, seed=self.method_seed)
        if self.kind == "trades":
            return TRADES(
                norm="l2", eps=EPS, beta=self.beta, steps=ATTACK_STEPS, seed=self.method_seed
            )
        if self.kind == "bat":
            return BAT(
                norm="l2",
                eps=EPS,
                beta=self.beta,
                m=self.m,
                steps=ATTACK_STEPS,
                seed=self.method_seed,
            )
        return Clean()


#: Rows that only serve the tests' identities (BAT with m = 1 is TRADES, BAT with β = 0 is clean
#: training): run at the quick scale, where the tests check them, and not above.
IDENTITY_ROWS = ("clean", "bat-m1-beta6")


def configs(scale: str) -> list[Config]:
    """The methods and the two BAT controls, at the rung's :data:`SIZES`."""
    steps, seeds, n_eval = SIZES[check_choice("scale", scale, SCALES)]
    rows = [
        Config("clean", "law", "clean"),
        Config("pgd_at", "law", "pgd"),
        Config("trades-beta6", "law", "trades", 6.0),
        Config("bat-m4-beta24", "law", "bat", 24.0, 4),
        Config("bat-m1-beta6", "control", "bat", 6.0, 1),
        Config("bat-m4-beta0", "control", "bat", 0.0, 4),
        Config("trades-beta6-seed1", "control", "trades", 6.0, method_seed=1),
    ]
    if scale != "quick":  # the identity rows are checked by the tests, at the quick scale
        rows = [c for c in rows if c.condition not in IDENTITY_ROWS]
    return [
        Config(c.condition, c.role, c.kind, c.beta, c.m, steps, seeds, c.method_seed, n_eval)
        for c in rows
    ]


@functools.lru_cache(maxsize=1)
def _clean_run(s: PurificationSetup, device: str) -> CleanRun:
    """The clean-trained run every row continues from, once per process (rows with the same members
    share it; :func:`sims.purification_runs.continue_with` trains a copy)."""
    return train_clean(s, device)


def run(cfg: Config, ctx: RunContext) -> RunOutput:
    """Continue the clean run with the row's method (clean rows: the same number of clean steps);
    robust accuracy on the ε grid per point, margins, smoothness."""
    r = _clean_run(PurificationSetup(n_seeds=cfg.n_seeds, dtype="float32"), ctx.device)
    ens = continue_with(r, cfg.method(), cfg.steps)
    X, y = r.X_test[: cfg.n_eval], r.y_test[: cfg.n_eval]
    ra = robust_accuracy(ens, X, y, L2Ball(eps=EPS), EPS_GRID, attacks=(PGD(steps=50, restarts=2),))
    mn = MinNorm(
        norm="l2", search_steps=10, search_attack=PGD(steps=20, restarts=2, schedule="linear")
    )(ens, X, y)
    with torch.no_grad():
        f = ens.forward(X)
        correct = (y * f) > 0
        margin = torch.where(correct, mn.dist, torch.full_like(mn.dist, float("nan")))
        adv = PGD(steps=50)(ens, X, y, L2Ball(eps=EPS))
        smooth = bernoulli_kl(f, ens.forward(X[None] + adv.delta))
    correct_np = correct.cpu().numpy()
    arrays = {
        "W": ens.W.cpu().numpy(),
        "eps_grid": np.asarray(EPS_GRID),
        "robust": ra.accuracy.cpu().numpy(),
        "robust_points": correct_np[:, None, :] & ~ra.success.cpu().numpy(),
        "margin": margin.cpu().numpy(),
        "smoothness": smooth.cpu().numpy(),
        "train_acc": accuracy(ens, r.X, r.y),
        "test_acc": correct_np.mean(axis=1),
    }
    metrics = {
        "robust_at_eps": float(arrays["robust"][:, 1].mean()),
        "margin_median": float(np.nanmedian(arrays["margin"])),
        "smoothness_mean": float(arrays["smoothness"].mean()),
        "test_acc": float(arrays["test_acc"].mean()),
    }
    return RunOutput(metrics=metrics, arrays=arrays)


SIM = Simulation(
    number="14",
    name="margin_smoothness",
    title="margin and smoothness of PGD-AT, TRADES and bridged AT",
    paper="Kim, Lee, Lee & Lee 2021 (PAPERS.md §4)",
    configs=configs,
    run=run,
    label=lambda c: c.condition,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
