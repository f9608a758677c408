"""Simulation 11 — the exact statistics of fast adversarial training's one-step perturbations.

Wong, Rice & Kolter (2020) and the ℓ2 extension (Goodwin, Brown & Helus 2020); PAPERS.md §3 "exact
statistics" [derived]. The perturbation :class:`sims.methods.FastAT` trains on — one step of ``α = aε``
from a random start, then projection — is drawn at the points of a two-layer network at initialisation,
and compared with :mod:`theory.fast_at`: in ℓ∞ (start ``U[−ε, ε]^d``) a share ``a/2`` of coordinates
ends at ``±ε``; in ℓ2 with ``α = 1.25ε`` every step lands on the sphere for ``d ≥ 100``; the start radii
``‖δ₀‖/ε`` follow ``U[0, 1]`` (direction × uniform radius, the recipe reported for ℓ2) or ``t^d``
(uniform in the ball).

Controls: FGSM without a random start (every coordinate at ``±ε``); an ℓ2 step shorter than the radius
(``α = 0.5ε``); and the direction × uniform-radius start held against the uniform-in-ball law (the
known mistake of calling it "uniform in the ball").

Scales: ``quick`` — 2 members × 2 000 points per row; ``medium`` — 4 × 10 000; ``paper`` — 4 × 20 000 (the
dimensions are the claims' own: ``d = 10`` against ``d ≥ 100``).

Records: ``clip_share (M,)`` (ℓ∞), ``on_sphere (M,)`` and ``delta_norm (M, n)`` (ℓ2), ``start_radius
(M, n)`` (ℓ2, ε = 1).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import torch

from sims.cli import main_for
from sims.errors import check_choice, check_float, check_int
from sims.methods import FastAT
from sims.nets import init_ensemble
from sims.simulation import SCALES, RunContext, RunOutput, Simulation, member_seeds
from sims.threat import L2Ball, LinfBall


@dataclass(frozen=True)
class Config:
    """One row: the norm, the step ``α/ε``, the start (``'none'``: plain FGSM/FGM), the dimension, and
    — for the start-law check — the law the start is held against."""

    condition: str
    role: str
    norm: str
    a: float
    start: str
    d: int
    law: str = ""
    n: int = 2000
    m: int = 64
    n_seeds: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("role", self.role, ("law", "control"))
        check_choice("norm", self.norm, ("linf", "l2"))
        check_float("a", self.a, 0.0, lo_open=True)
        check_choice("start", self.start, ("uniform", "radius", "sphere", "none"))
        check_int("d", self.d, 1)


#: Per scale: points per row and members.
SIZES = {"quick": (2000, 2), "medium": (10000, 4), "paper": (20000, 4)}
assert tuple(SIZES) == SCALES


def configs(scale: str) -> list[Config]:
    """ℓ∞ step sizes, ℓ2 starts and dimensions, and the three controls, at the rung's :data:`SIZES`."""
    n, k = SIZES[check_choice("scale", scale, SCALES)]
    out = [
        Config(f"linf-a{a:g}", "law", "linf", a, "uniform", 100, n=n, n_seeds=k)
        for a in (0.5, 1.0, 1.25, 1.5, 2.0)
    ]
    out.append(Config("linf-no_start", "control", "linf", 1.25, "none", 100, n=n, n_seeds=k))
    for start in ("radius", "uniform"):
        for d in (10, 100, 1000):
            role = "law" if d >= 100 else "control"
            out.append(
                Config(f"l2-{start}-d{d}", role, "l2", 1.25, start, d, law=start, n=n, n_seeds=k)
            )
    out.append(
        Config("l2-short_step", "control", "l2", 0.5, "radius", 100, law="radius", n=n, n_seeds=k)
    )
    out.append(
        Config(
            "l2-radius_as_uniform",
            "control",
            "l2",
            1.25,
            "radius",
            100,
            law="uniform",
            n=n,
            n_seeds=k,
        )
    )
    return out


def run(cfg: Config, ctx: RunContext) -> RunOutput:
    """Draw FastAT's training perturbation at ``n`` points of ``M`` networks at init (ε = 1)."""
    dtype = torch.float64
    ens = init_ensemble(
        cfg.d,
        cfg.m,
        seeds=member_seeds(cfg.seed, cfg.n_seeds),
        bias="normal",
        bias_std=0.5,
        dtype=dtype,
        device=ctx.device,
    )
    gen = torch.Generator().manual_seed(cfg.seed)
    X = torch.randn(cfg.n, cfg.d, dtype=dtype, generator=gen).to(ctx.device)
    y = torch.where(torch.rand(cfg.n, generator=gen) > 0.5, 1.0, -1.0).to(dtype).to(ctx.device)
    start = "radius" if cfg.start == "none" else cfg.start
    threat = LinfBall(eps=1.0) if cfg.norm == "linf" else L2Ball(eps=1.0, start=start)
    atk = FastAT(
        norm=cfg.norm,
        eps=1.0,
        alpha=cfg.a,
        start=start if cfg.norm == "l2" else "uniform",
        seed=cfg.seed,
    ).attack()
    if cfg.start == "none":
        from dataclasses import replace

        atk = replace(atk, random_start=False)
    delta = atk(ens, X, y, threat).delta.detach().cpu().numpy()
    arrays: dict[str, np.ndarray] = {}
    metrics: dict[str, float] = {}
    if cfg.norm == "linf":
        arrays["clip_share"] = (np.abs(delta) >= 1.0 - 1e-12).mean(axis=(1, 2))
        metrics["clip_share"] = float(arrays["clip_share"].mean())
    else:
        norms = np.linalg.norm(delta, axis=-1)
        arrays["delta_norm"] = norms
        arrays["on_sphere"] = (norms >= 1.0 - 1e-9).mean(axis=1)
        Xm = X[None].expand(ens.M, -1, -1)
        arrays["start_radius"] = threat.random_start(Xm, cfg.seed).norm(dim=-1).cpu().numpy()
        metrics["on_sphere"] = float(arrays["on_sphere"].mean())
    return RunOutput(metrics=metrics, arrays=arrays)


SIM = Simulation(
    number="11",
    name="fgsm_rs_statistics",
    title="fast AT's one-step perturbations follow their exact laws",
    paper="Wong, Rice & Kolter 2020; Goodwin, Brown & Helus 2020 (PAPERS.md §3, exact statistics)",
    configs=configs,
    run=run,
    label=lambda c: c.condition,
)

if __name__ == "__main__":
    sys.exit(main_for(SIM))
