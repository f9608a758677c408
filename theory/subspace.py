"""Predictions for networks trained on data in a low-dimensional linear subspace.

Source: Melamed, Yehudai & Vardi, "Adversarial Examples Exist in Two-Layer ReLU Networks for Low
Dimensional Linear Subspaces" (NeurIPS 2023); shared/PAPERS.md §1. The paper's abstract *states* that
gradient methods leave large gradients orthogonal to the data subspace and that small initialisation or
L2 regularisation helps; the exact invariants below are *derived* (PAPERS.md §1, "Invariants [derived,
exact]"), from one line of calculus:

    ∂L/∂w_j = Σ_i ℓ'_i a_j σ'(w_j·x_i + b_j) x_i  ∈  span{x_i} ⊆ P,

so any update that is a linear combination of past gradients leaves ``P⊥ w_j`` where it started.

Notation: ``η`` learning rate, ``λ`` weight decay, ``μ`` momentum, ``t`` number of updates.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "GRADIENT_LINEAR_OPTIMIZERS",
    "RANDOM_DIRECTION_RADIUS_EXPONENT",
    "decay_factor",
    "discrete_vs_flow_log_gap",
    "expected_offsubspace_grad_norm",
    "first_order_flip_radius",
    "frozen_offsubspace_grad_norm",
    "frozen_weights_condition",
    "gradient_flow_factor",
    "init_scale_slope",
    "momentum_decay_factor",
    "offsubspace_grad_chi2_df",
    "offsubspace_grad_exponent_in_d",
    "offsubspace_grad_sq_null",
    "offsubspace_radius_exponent",
    "predicted_offsubspace_drift",
    "predicted_offsubspace_grad_norm",
    "typical_offsubspace_grad_norm",
    "universal_direction_cosine",
    "weight_decay_factor",
]

#: Optimizers whose update is a linear combination of past gradients (and of θ, through decay).
GRADIENT_LINEAR_OPTIMIZERS = ("sgd", "heavy_ball", "nesterov")


def frozen_weights_condition(
    *, optimizer: str, weight_decay: float, affine: bool, axis_aligned: bool = False
) -> bool:
    """Whether invariant 1 (``P⊥ W_t = P⊥ W_0`` exactly) applies [derived].

    It needs (i) data on a *linear* subspace (an affine offset puts ``o ∉ P`` into ``span{x_i}``),
    (ii) no weight decay, and (iii) an update that is a linear combination of gradients — GD, SGD with
    any batches, heavy-ball or Nesterov momentum. Adam rescales coordinates, which keeps ``P`` only when
    ``P`` is spanned by coordinate axes (then the off-subspace coordinates see exactly zero gradient).
    """
    if affine or weight_decay > 0:
        return False
    if optimizer in GRADIENT_LINEAR_OPTIMIZERS:
        return True
    return optimizer == "adam" and axis_aligned


def predicted_offsubspace_drift() -> float:
    """Invariant 1 [derived, exact]: ``‖P⊥(W_t − W_0)‖ / ‖P⊥W_0‖ = 0`` for every ``t``."""
    return 0.0


def weight_decay_factor(
    eta: float | np.ndarray, lam: float | np.ndarray, t: float | np.ndarray
) -> np.ndarray:
    """Invariant 2 [derived, exact]: plain (S)GD with coupled decay gives ``P⊥W_t = (1 − ηλ)^t P⊥W_0``.

    The off-subspace part of the gradient is ``λ P⊥W`` alone, so each step multiplies ``P⊥W`` by
    ``1 − ηλ``. The same factor holds for decoupled decay with any optimizer whose own update keeps
    ``P⊥`` fixed.
    """
    return np.asarray((1.0 - np.asarray(eta) * np.asarray(lam)) ** np.asarray(t, dtype=float))


def discrete_vs_flow_log_gap(
    eta: float | np.ndarray, lam: float | np.ndarray, t: float | np.ndarray
) -> np.ndarray:
    """``t·(−log(1 − ηλ) − ηλ) ≈ t(ηλ)²/2`` [derived]: how far, in ``log ‖P⊥W_t‖``, the discrete decay
    law :func:`weight_decay_factor` lies from the gradient-flow law :func:`gradient_flow_factor` at
    the same time ``τ = ηt``. A check that must tell the two laws apart needs an error well below it."""
    x = np.asarray(eta, dtype=float) * np.asarray(lam, dtype=float)
    return np.asarray(np.asarray(t, dtype=float) * (-np.log1p(-x) - x))


def momentum_decay_factor(
    eta: float, lam: float, mu: float, t: int | np.ndarray, *, nesterov: bool = False
) -> np.ndarray:
    """Invariant 2 with momentum [derived, exact]: the scalar linear recurrence of ``P⊥W``.

    With torch's conventions (``v ← μv + g``), the off-subspace gradient is ``λ p`` for ``p = P⊥W``:

        v_t = μ v_{t−1} + λ p_{t−1},   v_0 = 0,
        heavy ball:  p_t = p_{t−1} − η v_t,
        Nesterov:    p_t = p_{t−1} − η (λ p_{t−1} + μ v_t).

    Every neuron's ``P⊥w_j`` is ``p_0`` times the same scalar, returned here for each requested ``t``.
    """
    ts = np.atleast_1d(np.asarray(t, dtype=int))
    if ts.size and ts.min() < 0:
        raise ValueError(f"t must be >= 0; got {ts.min()}")
    T = int(ts.max()) if ts.size else 0
    p, v = 1.0, 0.0
    out = np.empty(T + 1)
    out[0] = 1.0
    for s in range(1, T + 1):
        g = lam * p
        v = mu * v + g
        p = p - eta * (g + mu * v) if nesterov else p - eta * v
        out[s] = p
    res = out[ts]
    return res if np.ndim(t) else np.asarray(res[0])


def gradient_flow_factor(lam: float | np.ndarray, time: float | np.ndarray) -> np.ndarray:
    """Gradient flow with L2 penalty ``(λ/2)‖W‖²`` [derived]: ``P⊥W(τ) = e^{−λτ} P⊥W(0)``.

    ``τ = η t`` is the continuous time of GD with step ``η``; ``(1 − ηλ)^{τ/η} → e^{−λτ}`` as ``η → 0``.
    """
    return np.asarray(np.exp(-np.asarray(lam) * np.asarray(time)))


def decay_factor(
    optimizer: str,
    *,
    eta: float,
    lam: float,
    t: int | np.ndarray,
    mu: float = 0.0,
    decoupled: bool = False,
) -> np.ndarray | None:
    """Predicted ``P⊥W_t / P⊥W_0`` for an optimizer, or ``None`` where no exact law is derived (Adam).

    ``sgd`` (and momentum optimizers with decoupled decay): :func:`weight_decay_factor`;
    ``heavy_ball``/``nesterov`` with coupled decay: :func:`momentum_decay_factor`.
    """
    if optimizer == "sgd" or (decoupled and optimizer in GRADIENT_LINEAR_OPTIMIZERS):
        return weight_decay_factor(eta, lam, t)
    if optimizer in ("heavy_ball", "nesterov"):
        return momentum_decay_factor(eta, lam, mu, t, nesterov=optimizer == "nesterov")
    return None


# --------------------------------------------------------------------------- the gradient law
def predicted_offsubspace_grad_norm(
    rho: np.ndarray | float, sigma_w2: float, codim: int
) -> np.ndarray:
    """``√(ρ(x) σ_w² ℓ⊥)``: the typical ``‖P⊥∇f(x)‖`` given the active-set weight ``ρ(x) = Σ_{j active} a_j²``.

    [derived, exact in law] With invariant 1, ``P⊥∇f(x) = Σ_{j active} a_j g_j`` with the frozen
    ``g_j = P⊥w_j(0) ~ N(0, σ_w² P⊥)``. The on-subspace parts ``P w_j(0)`` are independent of the ``g_j``
    and are all that training (on data in ``P``) ever sees, so the active set and the output weights are
    independent of the ``g_j``, and conditionally on them ``‖P⊥∇f(x)‖² = σ_w² ρ(x) χ²_{ℓ⊥}``
    (PAPERS.md §1, "Gradient law"). This returns the square root of its mean.
    """
    return np.sqrt(np.asarray(rho, dtype=float) * sigma_w2 * codim)


def offsubspace_grad_chi2_df(codim: int) -> int:
    """Degrees of freedom of ``‖P⊥∇f(x)‖² / (σ_w² ρ(x))``, which is ``χ²_{ℓ⊥}`` [derived]."""
    return int(codim)


def expected_offsubspace_grad_norm(
    sigma_w2: float | np.ndarray,
    codim: int | np.ndarray,
    a_sq_sum: float | np.ndarray,
    active_share: float | np.ndarray,
) -> np.ndarray:
    """``√(σ_w² ℓ⊥ Σ_j a_j(0)² p̄)``: the root-mean-square ``‖P⊥∇f(x)‖`` from the statistics of the
    initialisation and the share ``p̄`` of active units, without the per-point ``ρ(x)`` [derived].

    Derivation (PAPERS.md §1, "Gradient law"): conditionally on the active sets,
    ``E‖P⊥∇f(x)‖² = σ_w² ℓ⊥ ρ(x)`` with ``ρ(x) = Σ_j a_j² 1[j active at x]``. When the output weights keep
    their initial magnitudes ``|a_j| = |a_j(0)|`` (the law's setting: ``a_j = ±1/√m``, not trained), all
    ``a_j²`` are equal to ``Σ_j a_j(0)²/m``, so ``ρ(x) = Σ_j a_j(0)² · p(x)`` with ``p(x)`` the share of
    units active at ``x``, and averaging over test points

        E‖P⊥∇f‖² = σ_w² ℓ⊥ Σ_j a_j(0)² p̄,   p̄ = mean share of active units.

    Every factor but ``p̄`` is fixed by the initialisation (``σ_w² = β²/d``, ``ℓ⊥ = d − k_P``), so the size
    is ``β √(p̄ ℓ⊥/d)`` for ``Σ_j a_j(0)² = 1``: order one whenever ``ℓ⊥/d`` and ``p̄`` are, whatever ``d``.
    ``p̄ = ½`` at a zero-bias initialisation (``w_j·x`` is symmetric); training moves it. (With trained
    ``a`` the same formula holds if a unit's activity is independent of ``|a_j|``.)
    """
    return np.asarray(
        np.sqrt(
            np.asarray(sigma_w2, dtype=float)
            * np.asarray(codim, dtype=float)
            * np.asarray(a_sq_sum, dtype=float)
            * np.asarray(active_share, dtype=float)
        )
    )


def typical_offsubspace_grad_norm(d: int, codim: int, active_fraction: float = 0.5) -> float:
    """``√(ℓ⊥ · active_fraction / d)``: ``‖P⊥∇f‖`` for ``a_j = ±1/√m`` and ``σ_w² = 1/d`` [derived].

    :func:`expected_offsubspace_grad_norm` with ``σ_w² = 1/d`` and ``Σ_j a_j² = 1``. With half the neurons
    active this is ``√(ℓ⊥/(2d))`` — order one when the co-dimension is a constant fraction of ``d``: the
    off-subspace gradient does not vanish with the dimension.
    """
    return float(expected_offsubspace_grad_norm(1.0 / d, codim, 1.0, active_fraction))


def offsubspace_grad_exponent_in_d(ds: np.ndarray | list[int], k: int) -> float:
    """Least-squares exponent of :func:`expected_offsubspace_grad_norm` in ``d`` at fixed ``k_P``, β,
    ``Σ_j a_j(0)²`` and ``p̄`` [derived]: the slope of ``½ log(1 − k_P/d)`` (``σ_w² ℓ⊥ = β²(d − k_P)/d``)
    on ``log d`` over the given ``d`` — small and positive, tending to 0: the off-subspace gradient does
    not vanish with ``d`` (a gradient decaying like ``d^{−1/2}`` would have exponent −½)."""
    d = np.asarray(ds, dtype=float)
    if d.size < 2 or np.unique(d).size < 2:
        raise ValueError(f"ds must hold at least two distinct dimensions, got {d.tolist()}")
    if np.any(d <= k):
        raise ValueError(f"every d must exceed k_P = {k}, got {d.tolist()}")
    u = np.log(d) - np.log(d).mean()
    v = 0.5 * np.log1p(-k / d)
    return float((u * v).sum() / (u * u).sum())


def offsubspace_grad_sq_null(
    coef: np.ndarray, sigma_w2: float, codim: int, rng: np.random.Generator, size: int
) -> np.ndarray:
    """Draws of ``‖P⊥∇f(x_i)‖²`` at ``n`` points under the gradient law, given the active-set
    coefficients ``coef`` (``(n, m)``, ``c_ij = a_j σ'(w_j·x_i + b_j)``): ``(size, n)`` [derived].

    With invariant 1, ``P⊥∇f(x_i) = Σ_j c_ij g_j`` where the frozen ``g_j = P⊥w_j(0)`` are i.i.d.
    ``N(0, σ_w² I_{ℓ⊥})`` and independent of ``C`` (training on data in ``P`` sees only ``P w_j``). So the
    ``(n, ℓ⊥)`` matrix ``Z = C G`` has independent columns ``N(0, σ_w² C Cᵀ)`` and ``Z Zᵀ`` is Wishart
    ``W_n(σ_w² C Cᵀ, ℓ⊥)``: the squared norms are the diagonal of ``L A Aᵀ Lᵀ``, ``L Lᵀ = σ_w² C Cᵀ``, with
    ``A`` the Bartlett factor of ``W_n(I, ℓ⊥)`` (lower triangular, ``A_ii² ~ χ²_{ℓ⊥−i+1}``, ``A_ij ~ N(0, 1)``
    below the diagonal; Anderson 2003, Thm 7.2.1), or ``L Ξ`` with a Gaussian ``(n, ℓ⊥)`` matrix ``Ξ`` when
    ``ℓ⊥ < n``. The *points share the* ``g_j``: the draws keep the dependence between points of one
    network, which a test pooling points must account for.
    """
    C = np.asarray(coef, dtype=float)
    n = C.shape[0]
    lam, V = np.linalg.eigh(sigma_w2 * (C @ C.T))
    L = V * np.sqrt(np.clip(lam, 0.0, None))  # L Lᵀ = σ_w² C Cᵀ (C Cᵀ may be singular)
    if codim >= n:
        A = np.tril(rng.standard_normal((size, n, n)), k=-1)
        A[:, np.arange(n), np.arange(n)] = np.sqrt(rng.chisquare(codim - np.arange(n), (size, n)))
    else:
        A = rng.standard_normal((size, n, codim))
    cols = A.shape[-1]
    LA = L @ A.transpose(1, 0, 2).reshape(n, size * cols)  # one product for all draws
    return np.asarray((LA.reshape(n, size, cols) ** 2).sum(axis=-1).T)


def init_scale_slope() -> float:
    """Log-log slope of ``‖P⊥∇f‖`` against the first-layer init scale β: 1 [derived].

    ``g_j = β·P⊥w̃_j(0)`` with ``w̃`` at unit scale, so for a given activation pattern ``P⊥∇f`` is
    proportional to β. (The activation pattern itself may move with β; the simulation measures that.)
    """
    return 1.0


def universal_direction_cosine(rho: np.ndarray | float, total: float) -> np.ndarray:
    """``√(ρ(x) / Σ_j a_j²)``: the cosine of ``P⊥∇f(x)`` with ``g_univ = Σ_j a_j P⊥w_j(0)`` [derived].

    ``g_univ`` sums the same ``a_j g_j`` over *all* neurons; in high co-dimension the ``g_j`` are nearly
    orthogonal, so the cosine is the share of ``Σ a_j²`` carried by the active neurons (≈ 0.7 when half
    are active). The paper states that such a universal perturbation exists.
    """
    return np.sqrt(np.asarray(rho, dtype=float) / total)


def first_order_flip_radius(f: np.ndarray, grad_off_norm: np.ndarray) -> np.ndarray:
    """``r*(x) = |f(x)| / ‖P⊥∇f(x)‖``: the off-subspace ℓ2 radius at which the linearisation flips."""
    g = np.asarray(grad_off_norm, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(g > 0, np.abs(np.asarray(f, dtype=float)) / g, np.inf)


def offsubspace_radius_exponent(codims: np.ndarray | list[int], k: int) -> float:
    """Least-squares exponent of the off-subspace flip radius in the co-dimension ``ℓ⊥`` at fixed
    ``k_P``, β, ``|f|`` and share of active units [derived]: slightly negative, tending to 0.

    From the gradient law (:func:`expected_offsubspace_grad_norm`, ``σ_w² = β²/d``) and the first-order
    radius (:func:`first_order_flip_radius`), ``r* = |f| / (β √(p̄ ℓ⊥/d)) ∝ √(1 + k_P/ℓ⊥)``: the slope of
    ``½ log(1 + k_P/ℓ⊥)`` on ``log ℓ⊥`` over the given co-dimensions. The minimal perturbation restricted
    to ``P⊥`` uses the whole of ``P⊥∇f``, so the radius does not grow with the room off the subspace;
    along a *random* direction of ``P⊥`` the gradient's share is ``1/√ℓ⊥`` and the radius would grow as
    ``ℓ⊥^{1/2}`` (:data:`RANDOM_DIRECTION_RADIUS_EXPONENT`)."""
    c = np.asarray(codims, dtype=float)
    if c.size < 2 or np.unique(c).size < 2:
        raise ValueError(f"codims must hold at least two distinct co-dimensions, got {c.tolist()}")
    if np.any(c < 1) or k < 1:
        raise ValueError(f"co-dimensions and k_P must be >= 1, got {c.tolist()} and {k}")
    u = np.log(c) - np.log(c).mean()
    v = 0.5 * np.log1p(k / c)
    return float((u * v).sum() / (u * u).sum())


#: Exponent in ``ℓ⊥`` of the flip radius along a random direction of ``P⊥`` [derived]:
#: ``|f| / |⟨P⊥∇f, u⟩| ≈ |f| √ℓ⊥ / ‖P⊥∇f‖`` for a uniformly random unit ``u`` in ``P⊥`` — the scaling the
#: minimal off-subspace radius would show if the off-subspace gradient were not aligned with it.
RANDOM_DIRECTION_RADIUS_EXPONENT = 0.5


def frozen_offsubspace_grad_norm(
    X: np.ndarray, W: np.ndarray, b: np.ndarray, a: np.ndarray, W0: np.ndarray, U: np.ndarray
) -> np.ndarray:
    """``‖Σ_{j active at x} a_j P⊥w_j(0)‖``: the off-subspace gradient invariant 1 predicts [derived].

    With ``P⊥w_j(t) = c_t P⊥w_j(0)`` (``c_t = 1`` without decay, ``(1 − ηλ)^t`` with it),
    ``P⊥∇f(x) = c_t Σ_{j active at x} a_j P⊥w_j(0)`` exactly, for the *final* activation pattern and
    output weights. Shapes: ``X (n, d)``, ``W, W0 (M, m, d)``, ``b, a (M, m)``, ``U (d, k)``; returns
    ``(M, n)``.
    """
    pre = np.einsum("nd,Mmd->Mnm", X, W) + b[:, None, :]
    coef = (pre > 0) * a[:, None, :]
    P0 = W0 - (W0 @ U) @ U.T
    return np.asarray(np.linalg.norm(np.einsum("Mnm,Mmd->Mnd", coef, P0), axis=-1))
