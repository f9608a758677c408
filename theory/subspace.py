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
    "decay_factor",
    "frozen_weights_condition",
    "gradient_flow_factor",
    "momentum_decay_factor",
    "predicted_offsubspace_drift",
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
