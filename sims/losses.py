"""Pointwise losses of a scalar output ``f`` and a label ``y ∈ {−1, +1}``, with their derivatives.

Each loss gives ``ℓ(f, y)`` elementwise and ``∂ℓ/∂f`` in closed form, so training can use the
closed-form parameter gradients of :mod:`sims.nets`; tests check the derivatives against autograd.

* ``logistic``: ``log(1 + exp(−y f))`` (PAPERS.md notation), ``∂ℓ/∂f = −y σ(−y f)``.
* ``bce``: the authors' code for Melamed et al. — sigmoid then binary cross-entropy with target
  ``(y+1)/2``, computed as torch's ``binary_cross_entropy`` does (log clamped at −100). Mathematically
  the logistic loss; its derivative ``σ(f) − (y+1)/2`` is the same.
* ``hinge``: ``max(0, 1 − y f)``, ``∂ℓ/∂f = −y·1[y f < 1]``.
* ``squared``: ``(f − y)²/2``, ``∂ℓ/∂f = f − y``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sims.validate import check_choice, check_labels, check_tensor, checks_enabled, fail

__all__ = ["LOSSES", "loss_derivative", "loss_value"]

LOSSES = ("logistic", "bce", "hinge", "squared")


def _check(name: str, f: Tensor, y: Tensor) -> None:
    check_choice("loss", name, LOSSES)
    if checks_enabled():
        check_tensor("f", f, nonempty=False)
        check_tensor("y", y, nonempty=False, like=f)
        fs, ys = tuple(f.shape), tuple(y.shape)
        if len(ys) > len(fs) or any(
            a not in (b, 1) for a, b in zip(ys[::-1], fs[::-1], strict=False)
        ):
            fail("y", f"a tensor that broadcasts against f {fs}", y)
        check_labels("y", y)


def loss_value(name: str, f: Tensor, y: Tensor) -> Tensor:
    """Elementwise loss ``ℓ(f, y)`` (same shape as ``f``; ``y`` broadcasts; labels in {-1, +1})."""
    _check(name, f, y)
    if name == "logistic":
        return F.softplus(-y * f)
    if name == "bce":
        target = ((y + 1) / 2).expand_as(f).to(f.dtype)
        return F.binary_cross_entropy(torch.sigmoid(f), target, reduction="none")
    if name == "hinge":
        return torch.clamp(1 - y * f, min=0.0)
    return 0.5 * (f - y) ** 2


def loss_derivative(name: str, f: Tensor, y: Tensor) -> Tensor:
    """Elementwise ``∂ℓ/∂f`` for :func:`loss_value` (hinge uses 0 at the kink, as autograd does)."""
    _check(name, f, y)
    if name == "logistic":
        return -y * torch.sigmoid(-y * f)
    if name == "bce":
        return torch.sigmoid(f) - (y + 1) / 2
    if name == "hinge":
        return -y * (y * f < 1).to(f.dtype)
    return f - y
