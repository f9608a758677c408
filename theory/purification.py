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
    "MIXTURE_COOCCURRENCE",
    "PRINCIPLE_COSINE",
    "clean_flip_radius_linf",
    "clean_network_flip_radius",
    "clean_network_flip_radius_median",
    "clean_network_preactivations",
    "code_score_law",
    "feasibility_cap",
    "least_squares_split",
    "linear_flip_radius_natural",
    "mixture_ratio",
    "mixture_slopes",
    "nearest_other_class_distance",
    "pair_cooccurrence",
    "purified_flip_radius_linf",
    "robustness_window_linf",
]

#: The least :func:`pair_cooccurrence` at which the median atom pair shares a training point
#: (``1 − e^{−λ} ≥ 1/2``): below it the median mixture ratio does not read the ``k/d`` law.
MIXTURE_COOCCURRENCE = math.log(2)
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


def pair_cooccurrence(n: int, k: int, atoms: int, support: str = "exact") -> float:
    """Expected number of the ``n`` training points whose code holds a given pair of atoms,
    ``λ = n·k(k − 1)/(D(D − 1))`` for supports of exactly ``k`` of ``D = atoms`` atoms drawn uniformly
    [derived] (the generator's redraw of codes with a zero score keeps them uniform; under the
    ``'bernoulli'`` support law it favours larger supports, so no formula is offered for it).

    A clean-trained neuron of atom ``j`` fires on the codes that hold ``j``, so its coefficient on
    another atom ``j'`` gathers from the points holding both — in the population a share
    ``(k − 1)/(d − 1)`` of them, which the ``k/d`` of :func:`mixture_ratio` approximates for ``k ≫ 1``
    (the paper has polynomially many samples). In a
    sample the count of such points is about Poisson(``λ``): when ``λ`` is below
    :data:`MIXTURE_COOCCURRENCE` more than half of the pairs never met in training (``e^{−λ} > 1/2``),
    and the median ``|c_ij'/c_ij*|`` reads those absent pairs rather than the law.
    """
    if n < 1 or k < 1 or atoms < 2 or k > atoms:
        raise ValueError(
            f"need n >= 1 and 1 <= k <= atoms with atoms >= 2; got {n=}, {k=}, {atoms=}"
        )
    if support != "exact":
        raise ValueError(
            f"support must be 'exact' (derived for exact supports only); got {support!r}"
        )
    return n * k * (k - 1) / (atoms * (atoms - 1))


def clean_flip_radius_linf(k: float) -> float:
    """ℓ∞ radius at which the clean-trained network flips: ``≈ k^{-3/2}`` [derived, PAPERS.md §2].

    A dense perturbation ``τ·sign(M w*)`` moves each neuron's dense mixture by ``τ·‖Mᵀv‖₁ ≈ τ·k``, which
    reaches the signal ``1/√k`` at ``τ ≈ k^{-3/2}``.
    """
    return float(float(k) ** -1.5)


def clean_network_preactivations(
    k: int, d: int, q: int, threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray, float]:
    """The paper's clean-trained network at a code of score ``q`` (:func:`code_score_law`), in units of
    ``c/√k`` along ``y = sign q`` [derived from PAPERS.md §2, "form of a clean-trained neuron"].

    Every neuron is ``w_i = c (w*_j e_j + μ Σ_{j'≠j} w*_j' e_j')`` (identity dictionary, one atom ``j``,
    the dense mixture ``μ = k/d`` along ``w*``), the same number of neurons per atom, and the threshold
    of the ``'signal'`` reading, ``t_i = θ‖w_i‖/√k`` with ``‖w_i‖ = c√(1 + μ²(d − 1))``. Returns the
    neurons' preactivations ``⟨w_i, x⟩·y`` for the three kinds of atoms — a support atom that agrees
    with the label (``(k + |q|)/2`` of them): ``1 − μ + μ|q|``; one that disagrees (``(k − |q|)/2``):
    ``−(1 − μ) + μ|q|``; an atom off the support (``d − k``): ``μ|q|`` — as ``(values, counts)``, and the
    threshold ``θ' = θ√(1 + μ²(d − 1))`` in the same units.
    """
    mu = k / d
    a = abs(q)
    values = np.array([1 - mu + mu * a, -(1 - mu) + mu * a, mu * a])
    counts = np.array([(k + a) / 2, (k - a) / 2, d - k])
    return values, counts, threshold * math.sqrt(1 + mu * mu * (d - 1))


def clean_network_flip_radius(
    k: int, d: int, norm: str, threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """The flip radius of the paper's clean-trained network (:func:`clean_network_preactivations`) at
    each score of the code law, *with* its threshold: ``(radii, probabilities)`` over
    :func:`code_score_law` [derived].

    The symmetric network is ``f = Σ_i g(⟨w_i, x⟩)``, ``g(p) = sign(p)(|p| − t)₊``, with gradient
    ``Σ_{active} w_i``; every coordinate of it has the sign of ``w*``. The radius is where ``y f`` first
    reaches 0 along the steepest ray of the norm at the point, ``−y·sign(∇f) = −y·sign(w*)`` (ℓ∞) or
    ``−y·∇f/‖∇f‖₂`` (ℓ2): along it each kind of neuron's preactivation moves at its own constant rate
    ``⟨w_i, u⟩``, so ``y f`` is piecewise linear and its first zero is exact (:func:`_ray_zero`). It is
    an upper bound of the network's minimal flip radius, and equals the first-order radius
    ``y f/‖∇f‖_*`` whenever no neuron crosses its threshold first (at codes of median score it does
    for ``k = 4`` and ``d ≥ 32``; at ``k = 8``, ``d = 64`` the disagreeing atoms' neurons wake up on
    the way and the ray's radius is smaller: ``tests/test_theory.py``).

    Orders: without a threshold every neuron is active, the network is the linear rule
    ``(1 + μ(d − 1))⟨w*, x⟩`` and the ℓ∞ radius is the linear model's ``|q|/(√k·d)``; with one, the
    off-support neurons are silent and the ℓ∞ radius is ``≈ |q|(1 − θ)/(√k·k(1 + k))`` for ``k²/d``
    small — ``k^{-3/2}`` (:func:`clean_flip_radius_linf`, the paper's order) for a code whose atoms all
    agree with its label (``|q| = k``), ``k^{-2}`` for a typical one (``|q| ~ √k``), and nearly
    independent of ``d``.
    """
    if norm not in ("l2", "linf"):
        raise ValueError(f"norm must be 'linf' or 'l2'; got {norm!r}")
    mu = k / d
    qs, probs = code_score_law(k)
    radii = []
    for q in qs:
        values, counts, th = clean_network_preactivations(k, d, int(q), threshold)
        active = np.abs(values) > th
        # the gradient's coefficient on an active atom and on an inactive one (times c·w*_j)
        n_act = float(np.sum(counts[active]))
        on, off = 1 + mu * (n_act - 1), mu * n_act
        if norm == "linf":
            rates = np.full(3, 1 + mu * (d - 1))  # ⟨w_i, sign w*⟩ for every neuron
        else:
            coef = np.where(active, on, off)
            total = float(np.sum(counts * coef))
            rates = (coef * (1 - mu) + mu * total) / math.sqrt(n_act * on**2 + (d - n_act) * off**2)
        radii.append(_ray_zero(values, counts, th, rates * math.sqrt(k)))
    return np.array(radii), probs


def _g(v: np.ndarray, t: float) -> np.ndarray:
    """The symmetric thresholded ReLU ``sign(v)(|v| − t)₊``."""
    return np.asarray(np.sign(v) * np.maximum(np.abs(v) - t, 0.0))


def _ray_zero(values: np.ndarray, counts: np.ndarray, t: float, rates: np.ndarray) -> float:
    """For non-negative ``rates`` (every preactivation moves toward the other class, as along the
    steepest rays of :func:`clean_network_flip_radius`): the smallest ``τ ≥ 0`` with
    ``Σ counts·g(values − rates·τ) ≤ 0`` (misclassified, as
    :func:`sims.measure.accuracy` counts ``y f = 0``): exact, from the breakpoints of the piecewise-linear
    sum (where a neuron crosses ``±t``), to a rounding tolerance (the sum can be 0 on a whole stretch
    where every neuron is silent); ``inf`` if it never gets there."""

    def total(tau: float) -> float:
        return float(np.sum(counts * _g(values - rates * tau, t)))

    start = total(0.0)
    if start <= 0:
        return 0.0
    tol = 1e-12 * start
    pos = rates > 0
    breaks = sorted(
        {
            float(b)
            for b in np.concatenate(
                [(values[pos] - t) / rates[pos], (values[pos] + t) / rates[pos]]
            )
            if b > 0
        }
    )
    lo = 0.0
    for hi in breaks:
        f_lo, f_hi = total(lo), total(hi)
        if f_hi <= tol:  # linear on [lo, hi]: interpolate
            return lo + (hi - lo) * f_lo / (f_lo - f_hi) if f_lo > f_hi else hi
        lo = hi
    # beyond the last breakpoint the sum is linear: follow its slope
    slope = total(lo + 1.0) - total(lo)
    return lo - total(lo) / slope if slope < 0 else math.inf


def clean_network_flip_radius_median(k: int, d: int, norm: str, threshold: float = 0.5) -> float:
    """The median over the code law of :func:`clean_network_flip_radius` [derived]."""
    radii, probs = clean_network_flip_radius(k, d, norm, threshold)
    order = np.argsort(radii, kind="stable")
    cdf = np.cumsum(probs[order])
    return float(radii[order][int(np.searchsorted(cdf, 0.5 - 1e-12))])


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
