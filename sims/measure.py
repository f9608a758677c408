"""Measurements of an ensemble against the known subspace: weights and input gradients split by ``P``.

All functions take the ground-truth basis ``U (d, k_P)`` from the dataset (never an estimate) and
project as ``P v = U(Uᵀv)``, ``P⊥ v = v − P v`` without forming ``d × d`` matrices. They return tensors
with the ensemble axis first. Quantities (PAPERS.md §1):

* per neuron: ``‖P w_j‖``, ``‖P⊥ w_j‖``;
* per member: drift ``‖P⊥(W_t − W_0)‖_F / ‖P⊥ W_0‖_F`` (invariant 1 says it stays 0 under gradient
  training on linear-subspace data) and the ratio ``‖P⊥ W_t‖_F / ‖P⊥ W_0‖_F`` (invariant 2: ``(1−ηλ)^t``);
* per point: ``‖P ∇_x f‖``, ``‖P⊥ ∇_x f‖`` and the active-set weight ``ρ(x) = Σ_{j active} a_j²``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sims.nets import TwoLayerEnsemble
from sims.perf import memory_budget

__all__ = [
    "as_basis",
    "input_grad_split",
    "offsubspace_drift",
    "offsubspace_ratio",
    "project",
    "project_perp",
    "weight_split",
]


def as_basis(basis: np.ndarray | Tensor, like: Tensor) -> Tensor:
    """The basis as a tensor with ``like``'s dtype and device."""
    return torch.as_tensor(basis, dtype=like.dtype, device=like.device)


def project(V: Tensor, U: Tensor) -> Tensor:
    """``P v = U Uᵀ v`` applied to the last axis of ``V``."""
    return torch.matmul(torch.matmul(V, U), U.T)


def project_perp(V: Tensor, U: Tensor) -> Tensor:
    """``P⊥ v = v − U Uᵀ v`` applied to the last axis of ``V``."""
    return torch.sub(V, project(V, U))


def weight_split(ens: TwoLayerEnsemble, basis: np.ndarray | Tensor) -> dict[str, Tensor]:
    """Per-neuron norms ``‖P w_j‖`` and ``‖P⊥ w_j‖``: ``w_on``, ``w_off`` of shape ``(M, m)``."""
    U = as_basis(basis, ens.W)
    on = project(ens.W, U)
    return {"w_on": on.norm(dim=-1), "w_off": (ens.W - on).norm(dim=-1)}


def offsubspace_drift(W: Tensor, W0: Tensor, basis: np.ndarray | Tensor) -> Tensor:
    """Drift ``‖P⊥(W − W0)‖_F / ‖P⊥ W0‖_F`` of each member's first layer: ``(M,)``."""
    U = as_basis(basis, W)
    num = project_perp(W - W0.to(W.dtype), U).flatten(1).norm(dim=1)
    return torch.div(num, project_perp(W0.to(W.dtype), U).flatten(1).norm(dim=1))


def offsubspace_ratio(W: Tensor, W0: Tensor, basis: np.ndarray | Tensor) -> Tensor:
    """``‖P⊥ W‖_F / ‖P⊥ W0‖_F`` per member: ``(M,)``."""
    U = as_basis(basis, W)
    num = project_perp(W, U).flatten(1).norm(dim=1)
    return torch.div(num, project_perp(W0.to(W.dtype), U).flatten(1).norm(dim=1))


def input_grad_split(
    ens: TwoLayerEnsemble, X: Tensor, basis: np.ndarray | Tensor
) -> dict[str, Tensor]:
    """Per point: ``grad_on = ‖P∇f‖``, ``grad_off = ‖P⊥∇f‖`` and ``rho = Σ_{j active} a_j²``: ``(M, n)``.

    The ``(M, n, d)`` gradients are formed a chunk of points at a time, so that one chunk stays under
    :func:`sims.perf.memory_budget`; the results do not depend on the chunking.
    """
    n = X.shape[-2]
    per_point = ens.M * ens.d * ens.W.element_size() * 3  # G, its projection, the difference
    step = max(1, min(n, memory_budget() // max(1, per_point)))
    parts: dict[str, list[Tensor]] = {"grad_on": [], "grad_off": [], "rho": []}
    for i in range(0, n, step):
        Xc = X[..., i : i + step, :]
        G = ens.input_grad(Xc)
        U = as_basis(basis, G)
        on = project(G, U)
        parts["grad_on"].append(on.norm(dim=-1))
        parts["grad_off"].append((G - on).norm(dim=-1))
        parts["rho"].append(ens.active_weight(Xc))
    return {k: torch.cat(v, dim=-1) for k, v in parts.items()}


def boundary_distance_along(
    ens: TwoLayerEnsemble,
    X: Tensor,
    direction: Tensor,
    *,
    t_max: float = 10.0,
    grid: int = 400,
    bisection_steps: int = 40,
) -> Tensor:
    """Distance from each point to the decision boundary along one direction: ``(M, n)``.

    The smallest ``t ∈ (0, t_max]`` at which ``sign f(x + t·u)`` differs from ``sign f(x)`` (``u`` the
    normalised ``direction``), found on a uniform grid of ``grid`` steps and refined by bisection;
    ``inf`` where the sign never changes within ``t_max``. Used for the authors' Fig. 2 measurement:
    the distance to the boundary orthogonally to the data line, both ways.
    """
    u = direction.to(dtype=ens.dtype, device=ens.device)
    u = u / u.norm()
    n = X.shape[0]
    ts = torch.linspace(0.0, t_max, grid + 1, dtype=ens.dtype, device=ens.device)[1:]
    pts = (X[:, None, :] + ts[None, :, None] * u).reshape(n * grid, -1)
    s0 = torch.sign(ens.forward(X))  # (M, n)
    s = torch.sign(ens.forward(pts)).reshape(ens.M, n, grid)
    changed = s != s0[..., None]
    any_change = changed.any(-1)
    first = torch.where(
        any_change, changed.to(torch.int64).argmax(-1), torch.zeros_like(s0, dtype=torch.int64)
    )
    hi = ts[first]
    lo = torch.where(first > 0, ts[(first - 1).clamp(min=0)], torch.zeros_like(hi))
    for _ in range(bisection_steps):
        mid = (lo + hi) / 2
        flip = torch.sign(ens.forward(X[None] + mid[..., None] * u)) != s0
        hi = torch.where(flip, mid, hi)
        lo = torch.where(flip, lo, mid)
    return torch.where(any_change, hi, torch.full_like(hi, float("inf")))
