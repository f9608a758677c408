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
``m = 4`` and the summed KL at β = 6 and at β = 24 (= m·6, the strength that matches TRADES as ε → 0,
PAPERS.md §4). Controls: BAT with ``m = 1`` (the KL attack makes it TRADES exactly), BAT with β = 0
(clean training on the clean loss), and TRADES with another seed of its inner attack's start (the noise
floor of any TRADES-vs-BAT difference).

Records: ``W`` (the trained first layer, for the β = 0 identity), ``eps_grid (K,)``, ``robust (M, K)``
(PGD-50, two restarts), ``margin (M, n)`` (ℓ2 minimum-norm attack; NaN for misclassified points),
``smoothness (M, n)`` (``KL(p(x) ‖ p(x'))`` at the PGD point ``x'`` of radius ε), ``test_acc (M,)``, on
:data:`N_EVAL` test points.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import torch

from sims.attacks import PGD, MinNorm, robust_accuracy
from sims.cli import main_for
from sims.errors import check_choice, check_float, check_int
from sims.measure import accuracy
from sims.methods import BAT, PGDAT, TRADES, Method, bernoulli_kl
from sims.purification_runs import PurificationSetup, continue_with, train_clean
from sims.simulation import RunContext, RunOutput, Simulation
from sims.threat import L2Ball

EPS = 0.25
N_EVAL = 150
ATTACK_STEPS = 5
EPS_GRID = (0.125, 0.25, 0.375, 0.5)


@dataclass(frozen=True)
class Config:
    """One training method: ``kind`` (``clean``, ``pgd``, ``trades``, ``bat``), β and ``m``."""

    condition: str
    role: str
    kind: str
    beta: float = 0.0
    m: int = 1
    steps: int = 100
    n_seeds: int = 2
    method_seed: int = 0

    def __post_init__(self) -> None:
        check_choice("role", self.role, ("law", "control"))
        check_choice("kind", self.kind, ("clean", "pgd", "trades", "bat"))
        check_float("beta", self.beta, 0.0)
        check_int("m", self.m, 1)

    def method(self) -> Method | None:
        """The training method (``None``: clean training)."""
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
        return None


def configs(scale: str) -> list[Config]:
    """The methods and the two BAT controls."""
    steps, seeds = (100, 2) if scale == "quick" else (1000, 8)
    rows = [
        Config("clean", "law", "clean"),
        Config("pgd_at", "law", "pgd"),
        Config("trades-beta6", "law", "trades", 6.0),
        Config("bat-m4-beta6", "law", "bat", 6.0, 4),
        Config("bat-m4-beta24", "law", "bat", 24.0, 4),
        Config("bat-m1-beta6", "control", "bat", 6.0, 1),
        Config("bat-m4-beta0", "control", "bat", 0.0, 4),
        Config("trades-beta6-seed1", "control", "trades", 6.0, method_seed=1),
    ]
    return [
        Config(c.condition, c.role, c.kind, c.beta, c.m, steps, seeds, c.method_seed) for c in rows
    ]


def run(cfg: Config, ctx: RunContext) -> RunOutput:
    """Train clean, continue with the method; robust accuracy on the ε grid, margins, smoothness."""
    r = train_clean(PurificationSetup(n_seeds=cfg.n_seeds, dtype="float32"), ctx.device)
    method = cfg.method()
    ens = r.ens if method is None else continue_with(r, method, cfg.steps)
    if method is None and cfg.steps > 0:  # clean: the same number of continued clean steps
        ens = continue_with(r, PGDAT(norm="l2", eps=0.0, steps=1), cfg.steps)
    X, y = r.X_test[:N_EVAL], r.y_test[:N_EVAL]
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
    arrays = {
        "W": ens.W.cpu().numpy(),
        "eps_grid": np.asarray(EPS_GRID),
        "robust": ra.accuracy.cpu().numpy(),
        "margin": margin.cpu().numpy(),
        "smoothness": smooth.cpu().numpy(),
        "test_acc": accuracy(ens, X, y),
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
