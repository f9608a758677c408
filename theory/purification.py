"""Predictions of feature purification (Allen-Zhu & Li 2020; shared/PAPERS.md §2).

Everything here is a formula of the setting's sizes — no simulation is consulted. The paper's constants
are only *recalled* (PAPERS.md §2), so each prediction is stated at the order the derivation supports
and the checks in ``paper_checks/purification.py`` compare slopes, orderings and windows, not constants.

Setting: ``x = M z`` with an orthonormal dictionary ``M (d × d)``, ``k``-sparse codes with non-zero
entries ``±1/√k`` and labels ``y = sign(⟨w*, z⟩)``; the symmetric network
``f(x) = Σ_i [σ(⟨w_i, x⟩ − b) − σ(−⟨w_i, x⟩ − b)]``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "PRINCIPLE_COSINE",
    "clean_flip_radius_linf",
    "code_score_law",
    "feasibility_cap",
    "least_squares_split",
    "linear_flip_radius_natural",
    "mixture_ratio",
    "mixture_slopes",
    "nearest_other_class_distance",
    "purified_flip_radius_linf",
    "robustness_window_linf",
]

#: The purification principle ``‖β_i w_i'‖ > ‖v_i‖`` with least-squares ``β_i`` is ``|cos(w_i, w_i')| > 1/√2``.
PRINCIPLE_COSINE = 1 / math.sqrt(2)


def mixture_ratio(k: float, d: float) -> float:
    """Median ``|c_ij'/c_ij*|`` of a clean-trained neuron: ``≈ k/d`` [derived, PAPERS.md §2].

    A clean-trained neuron is ``Θ(1)·M_j* + Σ_{j'≠j*} Θ(k/d)·(±)M_j'`` — the gradient on every other atom
    is the average input's share, which is ``k/d`` of the pure atom's.
    """
    return float(k) / float(d)


def mixture_slopes() -> tuple[float, float]:
    """Log-log slopes of :func:`mixture_ratio` in ``k`` and in ``d``: ``(+1, −1)``."""
    return 1.0, -1.0


def clean_flip_radius_linf(k: float) -> float:
    """ℓ∞ radius at which the clean-trained network flips: ``≈ k^{-3/2}`` [derived, PAPERS.md §2].

    A dense perturbation ``τ·sign(M w*)`` moves each neuron's dense mixture by ``τ·‖Mᵀv‖₁ ≈ τ·k``, which
    reaches the signal ``1/√k`` at ``τ ≈ k^{-3/2}``.
    """
    return float(float(k) ** -1.5)


def purified_flip_radius_linf(k: float) -> float:
    """ℓ∞ radius the purified network holds to: ``≈ k^{-1/2}`` (a pure neuron only sees its own atom,
    whose signal is ``1/√k``) [derived, PAPERS.md §2]."""
    return float(float(k) ** -0.5)


def robustness_window_linf(k: float) -> tuple[float, float]:
    """``(k^{-3/2}, k^{-1/2})``: where clean and adversarially trained robust accuracy should differ most."""
    return clean_flip_radius_linf(k), purified_flip_radius_linf(k)


def linear_flip_radius_natural(k: int, d: int, norm: str) -> float:
    """Expected exact flip radius ``E|⟨w*, z⟩| / ‖w*‖_q`` of the natural linear rule ``f = ⟨M w*, x⟩``
    with ``w* ∈ {±1}^d``, ``k`` code entries ``±1/√k`` (PAPERS.md §2: ``Θ(1/d)`` in ℓ∞, ``Θ(1/√d)`` in ℓ2).

    ``|⟨w*, z⟩| = |S_k|/√k`` with ``S_k`` a sum of ``k`` fair signs, conditioned on ``S_k ≠ 0`` as the
    generator conditions its codes (:mod:`sims.sparse`); ``q`` is the dual norm (``‖w*‖₁ = d`` for ℓ∞,
    ``‖w*‖₂ = √d`` for ℓ2).
    """
    j = np.arange(k + 1)
    probs = np.array([math.comb(k, int(i)) for i in j], dtype=np.float64) / 2.0**k
    s_abs = np.abs(2 * j - k)
    mean_abs = float(np.sum(probs * s_abs) / np.sum(probs[s_abs > 0])) / math.sqrt(k)
    if norm == "linf":
        return mean_abs / d
    if norm == "l2":
        return mean_abs / math.sqrt(d)
    raise ValueError(f"norm must be 'linf' or 'l2'; got {norm!r}")


def least_squares_split(w: np.ndarray, w_prime: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``w = β w' + v`` with least-squares ``β = ⟨w, w'⟩/‖w'‖²``: returns ``(‖β w'‖, ‖v‖)`` per row.

    Then ``‖β w'‖ = ‖w‖·|cos|`` and ``‖v‖ = ‖w‖·sin``, so ``‖β w'‖ > ‖v‖ ⇔ |cos(w, w')| > 1/√2``
    (:data:`PRINCIPLE_COSINE`) [derived].
    """
    beta = (w * w_prime).sum(-1) / (w_prime * w_prime).sum(-1)
    part = beta[..., None] * w_prime
    return np.linalg.norm(part, axis=-1), np.linalg.norm(w - part, axis=-1)


def code_score_law(k: int) -> tuple[np.ndarray, np.ndarray]:
    """The law of the integer score ``m = Σ_{j∈supp z} w*_j·sign(z_j)`` (``⟨w*, z⟩ = m/√k``) of the
    generator's codes (exact supports of ``k`` atoms, sign magnitudes, a ±1 teacher): ``m = 2A − k``
    with ``A ~ Bin(k, 1/2)`` the atoms that agree with ``w*``, conditioned on ``m ≠ 0`` as the generator
    conditions its codes (:mod:`sims.sparse`). Returns ``(m values, probabilities)``."""
    a = np.arange(k + 1)
    m = 2 * a - k
    p = np.array([math.comb(k, int(i)) for i in a], dtype=np.float64)
    keep = m != 0
    return m[keep], p[keep] / p[keep].sum()


def nearest_other_class_distance(k: int, D: int, m: int, norm: str) -> float:
    """The exact distance from a code of score ``m`` (:func:`code_score_law`) to the nearest code of the
    other label, over every code the generator can draw (exact supports of ``k`` of ``D`` atoms, entries
    ``±1/√k``, labels ``sign⟨w*, z⟩`` with ``w* ∈ {±1}^D``) [derived; brute force in
    ``tests/test_theory.py``].

    Every changed entry moves by ``1/√k`` or more. The cheapest move that lowers ``|m|`` by 2 swaps a
    support atom that agrees with the label for an atom off the support, with the sign that disagrees
    (two entries move by ``1/√k``: ``2/k`` in squared ℓ2); without a spare atom, flip an agreeing entry's
    sign in place (``4/k``, ℓ∞ ``2/√k``). The label changes after ``t = ⌈(|m| + 1)/2⌉`` such moves (the
    score must reach ``−1`` for odd ``k``, ``−2`` for even ``k``), each on its own coordinates, of which
    ``min(t, D − k)`` are swaps. For an orthonormal dictionary the ℓ2 distance between the points ``Mz``
    is the same; the ℓ∞ one is that of the identity dictionary only.
    """
    if norm not in ("l2", "linf"):
        raise ValueError(f"norm must be 'l2' or 'linf'; got {norm!r}")
    if m == 0 or (abs(m) - k) % 2 or abs(m) > k:
        raise ValueError(f"m must be a non-zero score of {k} signs; got {m}")
    t = (abs(m) + 2) // 2
    swaps = min(t, D - k)
    if norm == "linf":
        return (1.0 if swaps == t else 2.0) / math.sqrt(k)
    return math.sqrt((2 * swaps + 4 * (t - swaps)) / k)


def feasibility_cap(k: int, D: int, norm: str, quantile: float = 0.5) -> float:
    """Half the ``quantile`` of :func:`nearest_other_class_distance` over the code law: for that share
    of points, no classifier right on both a point and its nearest other-class code is robust beyond
    this radius (the midpoint between them is on the boundary or beyond) [derived].

    Example: ``k = 4`` — scores ``±2`` (probability 0.8) at ℓ2 distance 1 and ``±4`` at ``√1.5``;
    the median cap is ``1/2`` in ℓ2 and ``k^{-1/2}/2 = 1/4`` in ℓ∞ (identity dictionary).
    """
    m, p = code_score_law(k)
    dist = np.array([nearest_other_class_distance(k, D, int(v), norm) for v in m])
    order = np.argsort(dist, kind="stable")
    cdf = np.cumsum(p[order])
    return float(dist[order][int(np.searchsorted(cdf, quantile - 1e-12))] / 2)
