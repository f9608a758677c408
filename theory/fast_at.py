"""Exact statistics of fast adversarial training's one-step perturbations (shared/PAPERS.md §3).

FGSM with a random start (Wong, Rice & Kolter 2020): ``δ₀ ~ U[−ε, ε]^d``, then
``δ = clip(δ₀ + α·sign(g), −ε, ε)``. Its ℓ2 extension (the recipe reported for ℓ2; Goodwin, Brown &
Helus 2020 extend fast AT to ℓ2): a start in the ball, a step ``α·g/‖g‖``, projection onto the ball.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "fgsm_rs_clip_share",
    "l2_fast_on_sphere_bound",
    "start_radius_cdf",
]


def fgsm_rs_clip_share(a: float) -> float:
    """Expected share of coordinates at ``±ε`` after one FGSM-RS step of ``α = a·ε`` [derived].

    Per coordinate, with ``u = δ₀_i·sign(g_i)/ε ~ U[−1, 1]``, the step clips iff ``u > 1 − a``, which
    has probability ``a/2`` for ``a ≤ 2`` (and 1 beyond): 0.625 at the authors' ``α = 1.25ε``.
    """
    if a < 0:
        raise ValueError(f"a must be >= 0; got {a}")
    return min(1.0, a / 2)


def start_radius_cdf(start: str, t: np.ndarray, d: int) -> np.ndarray:
    """CDF of ``‖δ₀‖/ε`` for the ℓ2 random starts [derived, PAPERS.md §3, §5].

    ``'radius'`` (a uniform direction times ``U[0, 1]``): ``t``; ``'uniform'`` (uniform in the ball):
    ``t^d``; ``'sphere'`` (on the sphere): a step at 1.
    """
    t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
    if start == "radius":
        return t
    if start == "uniform":
        return np.asarray(t**d)
    if start == "sphere":
        return np.asarray((t >= 1.0).astype(np.float64))
    raise ValueError(f"start must be 'radius', 'uniform' or 'sphere'; got {start!r}")


def l2_fast_on_sphere_bound(a: float, d: int) -> float:
    """An upper bound on the probability that one ℓ2 fast step of ``α = a·ε`` (``a > 1``) from a start
    in the ball ends *inside* the ball (not on its sphere), for a step direction independent of the
    start's direction [derived].

    The step ends inside iff ``r² + a² + 2ra·c < 1`` with ``r = ‖δ₀‖/ε ≤ 1`` and ``c`` the cosine between
    start and step, which needs ``c < −(a² − 1 + r²)/(2ra) ≤ −c*`` with
    ``c* = min_r (a² − 1 + r²)/(2ra) = √(a² − 1)/a`` (at ``r = √(a² − 1)``, or ``r = 1`` when that exceeds 1).
    For a uniform direction ``P(c < −c*) ≤ exp(−d c*²/2)`` (concentration on the sphere).
    """
    if a <= 1:
        return 1.0
    r = min(1.0, math.sqrt(a * a - 1))
    c_star = (a * a - 1 + r * r) / (2 * r * a)
    return float(min(1.0, math.exp(-d * c_star * c_star / 2)))
