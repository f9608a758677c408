"""The attacks and attack-based training steps against the implementation before the fused attack
kernel (commit ``c807a88``): outputs stored in ``tests/data/attack_golden.npz``, float64.

The fused kernel (:class:`sims.nets.Around`, :meth:`sims.threat.ThreatModel.step`) evaluates
``W(x + δ) + b`` as ``(Wx + b) + Wδ`` and applies the ℓ2 step as ``δ + g·(c/‖g‖)`` instead of
``δ + c·(g/‖g‖)``: the same numbers up to the dtype's rounding, not bit for bit. Every case here
must agree with the stored output to ``1e-10`` (relative to the array's scale), in float64, over every
code path the kernel touches: both norms, restrictions, box bounds, per-point and per-member radii,
per-member steps, keep-best or not, restarts, both losses and schedules, shared and per-member
inputs, the thresholded and smoothed networks, and the attacks' users (robust accuracy, the
minimum-norm search, PGD/fast AT, TRADES and BAT gradients).

Run this file as a script to rewrite the stored outputs (only when a change is *meant* to move them).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from sims.attacks import PGD, MinNorm, robust_accuracy
from sims.methods import BAT, PGDAT, TRADES, FastAT, Method
from sims.nets import TwoLayerEnsemble, init_ensemble, symmetric_ensemble
from sims.threat import L2Ball, LinfBall, Subspace, ThreatModel

GOLDEN = Path(__file__).parent / "data" / "attack_golden.npz"
M, N, D, WIDTH, NARROW = 3, 24, 8, 12, 6


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(N, D, generator=gen, dtype=torch.float64) / np.sqrt(D)
    y = torch.where(torch.rand(N, generator=gen) > 0.5, 1.0, -1.0).to(torch.float64)
    return X, y


def _flat(*arrays: torch.Tensor) -> np.ndarray:
    return np.concatenate([a.detach().reshape(-1).cpu().numpy() for a in arrays])


def _ens(kind: str = "relu") -> TwoLayerEnsemble:
    if kind in ("relu", "relu_narrow"):  # narrow: m <= d + 1, the kernel's h₀ + δWᵀ branch
        width = WIDTH if kind == "relu" else NARROW
        return init_ensemble(
            D, width, seeds=range(M), bias="normal", bias_std=0.1, dtype=torch.float64
        )
    if kind == "smooth":
        return init_ensemble(
            D, WIDTH, seeds=range(M), act="smooth_relu", act_width=0.3, dtype=torch.float64
        )
    return symmetric_ensemble(D, WIDTH, seeds=range(M), threshold=0.05, dtype=torch.float64)


def _perp() -> Subspace:
    U = np.linalg.qr(np.random.default_rng(1).normal(size=(D, 3)))[0]
    return Subspace.perp(U)


def _pgd_cases() -> dict[str, Callable[[], np.ndarray]]:
    X, y = _data()
    Xm = (
        X[None]
        + 0.01 * _data(1)[0][None] * torch.arange(1, M + 1, dtype=torch.float64)[:, None, None]
    )
    coords = Subspace(np.eye(D)[:, :5])
    threats = {
        "l2": L2Ball(0.4),
        "linf": LinfBall(0.1),
        "l2_perp": L2Ball(0.4, restrict=_perp()),
        "linf_coords": LinfBall(0.1, restrict=coords),
        "l2_bounds": L2Ball(0.4, bounds=(-0.5, 0.5)),
        "l2_per_point": L2Ball(np.linspace(0.05, 0.6, N)),
        "linf_per_member": LinfBall(np.array([[0.05], [0.1], [0.2]])),
        "l2_sphere": L2Ball(0.4, start="sphere"),
    }
    attacks = {
        "best": PGD(steps=7),
        "last": PGD(steps=7, keep_best=False),
        "restarts": PGD(steps=5, restarts=3),
        "zero_start": PGD(steps=6, random_start=False),
        "ce": PGD(steps=6, loss="ce"),
        "linear": PGD(steps=6, schedule="linear", restarts=2),
        "alpha_per_member": PGD(steps=4, rel_stepsize=(0.3, 0.6, 1.25)),
    }
    cases: dict[str, Callable[[], np.ndarray]] = {}
    for tname, threat in threats.items():
        for aname, atk in attacks.items():
            for kind in ("relu", "relu_narrow", "smooth", "symmetric"):
                if kind != "relu" and aname not in ("best", "last"):
                    continue
                for xname, XX in (("shared", X), ("member", Xm)):
                    if xname == "member" and (
                        kind not in ("relu", "relu_narrow") or aname not in ("best", "last")
                    ):
                        continue

                    def run(
                        atk: PGD = atk,
                        threat: ThreatModel = threat,
                        kind: str = kind,
                        XX: torch.Tensor = XX,
                    ) -> np.ndarray:
                        res = atk(_ens(kind), XX, y, threat)
                        return _flat(res.delta, res.margin, res.clean_margin)

                    cases[f"pgd/{tname}/{aname}/{kind}/{xname}"] = run
    return cases


def _other_cases() -> dict[str, Callable[[], np.ndarray]]:
    X, y = _data()
    ens = _ens()

    def ra(threat: ThreatModel) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            r = robust_accuracy(
                ens,
                X,
                y,
                threat,
                [0.0, 0.1, 0.3],
                attacks=(PGD(steps=8, restarts=2),),
            )
            return _flat(r.accuracy, r.success.double())

        return run

    def minnorm(norm: str, restrict: Subspace | None = None) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            mn = MinNorm(
                norm=norm,
                max_iter=10,
                refine_steps=5,
                restarts=2,
                search_steps=4,
                search_attack=PGD(steps=10, restarts=2, schedule="linear"),
                restrict=restrict,
            )
            r = mn(ens, X, y)
            return _flat(r.dist, r.delta)

        return run

    def method(m: Method) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            loss, grads = m.loss_grads(ens, X, y, step=3)
            return _flat(loss, *(grads[k] for k in sorted(grads)))

        return run

    return {
        "robust_accuracy/l2": ra(L2Ball(1.0)),
        "robust_accuracy/linf": ra(LinfBall(1.0)),
        "minnorm/l2": minnorm("l2"),
        "minnorm/linf": minnorm("linf"),
        "minnorm/l2_perp": minnorm("l2", _perp()),
        "method/pgdat_linf": method(PGDAT(norm="linf", eps=0.1, steps=5)),
        "method/pgdat_l2": method(PGDAT(norm="l2", eps=0.4, steps=5, restrict=_perp())),
        "method/fastat_l2": method(FastAT(norm="l2", eps=(0.2, 0.4, 0.6), alpha=(1.0, 1.25, 1.5))),
        "method/fgm": method(
            PGDAT(norm="l2", eps=0.4, steps=1, rel_stepsize=1.0, random_start=False)
        ),
        "method/trades": method(TRADES(norm="l2", eps=0.4, steps=4)),
        "method/bat_kl": method(BAT(norm="linf", eps=0.1, steps=4, m=3)),
        "method/bat_ce": method(BAT(norm="l2", eps=0.4, steps=4, m=2, attack="ce")),
    }


def all_cases() -> dict[str, Callable[[], np.ndarray]]:
    """Every stored case by name."""
    return {**_pgd_cases(), **_other_cases()}


CASES = all_cases()


def test_every_case_is_stored() -> None:
    stored = set(np.load(GOLDEN).files)
    assert stored == set(CASES), sorted(stored ^ set(CASES))


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_previous_implementation(name: str) -> None:
    want = np.load(GOLDEN)[name]
    got = CASES[name]()
    assert got.shape == want.shape
    finite = np.isfinite(want)
    assert np.array_equal(finite, np.isfinite(got))
    scale = max(1.0, float(np.abs(want[finite]).max(initial=0.0)))
    gap = float(np.abs(got[finite] - want[finite]).max(initial=0.0))
    assert gap <= 1e-10 * scale, f"{name}: differs by {gap:.3g} (scale {scale:.3g})"


if __name__ == "__main__":
    # ``--add``: compute only the cases not stored yet (run against the previous implementation's
    # checkout, e.g. a git worktree of c807a88 with this file copied in) and keep the stored ones
    GOLDEN.parent.mkdir(exist_ok=True)
    stored = dict(np.load(GOLDEN)) if "--add" in sys.argv and GOLDEN.exists() else {}
    outputs: dict[str, np.ndarray] = {k: stored[k] if k in stored else f() for k, f in CASES.items()}
    np.savez_compressed(GOLDEN, **outputs)  # type: ignore[arg-type]
    print(f"wrote {len(CASES)} cases ({len(CASES) - len(stored)} new) to {GOLDEN}", file=sys.stderr)
