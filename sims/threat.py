"""Threat models on unbounded vectors: one small object per norm, three methods each (as in foolbox).

A threat model holds the radius ``ε`` (a scalar, or one value per point) and an optional restriction of
perturbations to a linear subspace, and provides

* ``random_start`` — a random perturbation inside the ball,
* ``ascent_direction`` — the steepest-ascent direction of a gradient for the norm (unit in that norm),
* ``project`` — the map back into the ball, which only ever shrinks a perturbation.

Nothing is clamped to ``[0, 1]`` and no image shape is assumed: inputs are ``(..., n, d)`` vectors
(PAPERS.md §5). A box is applied only when the user passes ``bounds``.

Random starts (PAPERS.md §3, §5): for ℓ2, ``'uniform'`` is uniform in the ball — a uniform direction
times the radius ``ε·U^{1/r}`` (``r`` the dimension of the allowed subspace, ``U ~ U[0, 1]``), so the
radius has CDF ``(t/ε)^r``; ``'radius'`` is a uniform direction times ``ε·U`` (the start of fast ℓ2
training); ``'sphere'`` is a uniform direction at radius ε. For ℓ∞, ``'uniform'`` is ``U[−ε, ε]`` per
coordinate. Random numbers come from :mod:`sims.rng`, keyed by each row's content, so a row attacked
alone gets the same start as inside a batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from sims.errors import AdvsimError, check_choice, check_finite
from sims.rng import row_normal, row_uniform

__all__ = ["L2Ball", "LinfBall", "Subspace", "ThreatModel", "safe_normalize"]

L2_STARTS = ("uniform", "radius", "sphere")


@dataclass(frozen=True, eq=False)
class Subspace:
    """Perturbations restricted to ``span(Q)`` for an orthonormal ``Q (d, r)``.

    Build it with :meth:`perp` (the orthogonal complement of a data subspace — "``P⊥`` only"),
    :meth:`span` ("``P`` only"), :meth:`atoms` (chosen dictionary atoms) or :meth:`from_projector`.
    """

    Q: np.ndarray

    def __post_init__(self) -> None:
        Q = np.asarray(self.Q, dtype=np.float64)
        if Q.ndim != 2 or not 1 <= Q.shape[1] <= Q.shape[0]:
            raise AdvsimError(
                f"restrict basis must have shape (d, r) with 1 <= r <= d; got {Q.shape}"
            )
        if not np.allclose(Q.T @ Q, np.eye(Q.shape[1]), atol=1e-8):
            raise AdvsimError("restrict basis must have orthonormal columns")
        object.__setattr__(self, "Q", Q)

    @property
    def d(self) -> int:
        """Ambient dimension."""
        return int(self.Q.shape[0])

    @property
    def dim(self) -> int:
        """Dimension ``r`` of the allowed subspace."""
        return int(self.Q.shape[1])

    @classmethod
    def from_projector(cls, P: np.ndarray | Tensor, tol: float = 1e-8) -> Subspace:
        """From an orthogonal projector ``P`` (symmetric, ``P² = P``); anything else is an error."""
        P = np.asarray(P.detach().cpu().numpy() if isinstance(P, Tensor) else P, dtype=np.float64)
        if P.ndim != 2 or P.shape[0] != P.shape[1]:
            raise AdvsimError(f"restrict must be a square (d, d) projector; got shape {P.shape}")
        check_finite("restrict", P)
        if not np.allclose(P, P.T, atol=tol) or not np.allclose(P @ P, P, atol=tol):
            raise AdvsimError("restrict must be an orthogonal projector (P = Pᵀ and P² = P)")
        vals, vecs = np.linalg.eigh((P + P.T) / 2)
        keep = vals > 0.5
        if not keep.any():
            raise AdvsimError("restrict must be a projector of rank >= 1; got the zero matrix")
        return cls(vecs[:, keep])

    @classmethod
    def span(cls, U: np.ndarray) -> Subspace:
        """``span(U)`` for a basis ``U (d, k)`` of full column rank (orthonormalised)."""
        U = np.asarray(U, dtype=np.float64)
        if U.ndim != 2 or np.linalg.matrix_rank(U) < U.shape[1]:
            raise AdvsimError(
                f"span needs a (d, k) basis of full column rank k; got shape "
                f"{U.shape} of rank {np.linalg.matrix_rank(U) if U.ndim == 2 else 0}"
            )
        q, _ = np.linalg.qr(U)
        return cls(q)

    @classmethod
    def perp(cls, U: np.ndarray) -> Subspace:
        """The orthogonal complement of ``span(U)`` (``P⊥`` only)."""
        U = np.asarray(U, dtype=np.float64)
        d, k = U.shape
        if k >= d:
            raise AdvsimError(f"perp needs k < d; got U of shape {U.shape}")
        if np.linalg.matrix_rank(U) < k:
            raise AdvsimError("perp needs a basis U of full column rank")
        q, _ = np.linalg.qr(U, mode="complete")
        return cls(q[:, k:])

    @classmethod
    def atoms(cls, M: np.ndarray, idx: Sequence[int]) -> Subspace:
        """The span of the distinct, linearly independent dictionary atoms ``M[:, idx]``."""
        if len(set(idx)) != len(idx):
            raise AdvsimError(f"atoms idx must not repeat an atom; got {list(idx)}")
        return cls.span(np.asarray(M, dtype=np.float64)[:, list(idx)])

    def coordinate_mask(self) -> np.ndarray | None:
        """The 0/1 mask of coordinates when ``span(Q)`` is spanned by coordinate axes, else None."""
        P = self.Q @ self.Q.T
        diag = np.diag(P)
        if np.allclose(P, np.diag(diag), atol=1e-10) and np.allclose(
            diag * (1 - diag), 0, atol=1e-10
        ):
            return np.round(diag)
        return None

    def project(self, V: Tensor) -> Tensor:
        """``Q Qᵀ v`` on the last axis."""
        Q = torch.as_tensor(self.Q, dtype=V.dtype, device=V.device)
        return torch.matmul(torch.matmul(V, Q), Q.T)


def safe_normalize(G: Tensor) -> Tensor:
    """``g / ‖g‖₂`` on the last axis, robust to tiny and zero gradients.

    Rows whose norm is comfortably representable are divided by it directly; the rare rows whose
    squared entries could underflow are first divided by their largest entry. An exactly-zero row stays
    zero instead of becoming NaN or being blown up by an ``ε`` in the denominator (PAPERS.md §5: a library
    bug of that kind moved robust accuracy from 26.1% to 1.7%).
    """
    norm = G.norm(dim=-1, keepdim=True)
    safe = torch.finfo(G.dtype).tiny ** 0.25  # far above underflow of the squares
    out: Tensor = G / norm.clamp_min(safe)
    small = (norm < safe)[..., 0]
    if bool(small.any()):
        rows = G[small]
        amax = rows.abs().amax(dim=-1, keepdim=True)
        if not bool((amax > 0).any()):  # only exact zeros (dead points): already 0 in ``out``
            return out
        scaled = rows / amax.clamp_min(torch.finfo(G.dtype).tiny)
        fixed = scaled / scaled.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(G.dtype).tiny)
        out[small] = torch.where(amax > 0, fixed, torch.zeros_like(rows))
    return out


class ThreatModel(ABC):
    """An ε-ball of one norm, optionally restricted to a subspace and a box.

    Args:
        eps: radius ``ε >= 0``: a scalar, one value per point ``(n,)``, per member ``(M, 1)``, or per
            member and point ``(M, n)``.
        restrict: a :class:`Subspace` (or an orthogonal projector matrix) the perturbation must lie in.
        start: the random-start law (see the module docstring).
        bounds: optional ``(lo, hi)`` box for the perturbed input; ``None`` means unbounded.
    """

    norm: str = ""
    dual_q: float = 2.0
    starts: tuple[str, ...] = ("uniform",)

    def __init__(
        self,
        eps: float | Sequence[float] | np.ndarray | Tensor,
        *,
        restrict: Subspace | np.ndarray | Tensor | None = None,
        start: str = "uniform",
        bounds: tuple[float, float] | None = None,
    ) -> None:
        e = torch.as_tensor(
            eps.detach().cpu() if isinstance(eps, Tensor) else eps, dtype=torch.float64
        )
        if e.ndim > 2:
            raise AdvsimError(
                "eps must be a scalar, one value per point (n,), per member (M, 1) or per member "
                f"and point (M, n); got shape {tuple(e.shape)}"
            )
        if not torch.all(torch.isfinite(e)) or torch.any(e < 0):
            raise AdvsimError(
                "eps must be finite and >= 0 (in [0, inf)); got "
                f"{e.tolist() if e.numel() < 8 else 'an array with bad values'}"
            )
        self.eps = e
        if restrict is not None and not isinstance(restrict, Subspace):
            restrict = Subspace.from_projector(restrict)
        self.restrict = restrict
        self.start = check_choice("start", start, self.starts)
        if bounds is not None and not (
            np.isfinite(bounds[0]) and np.isfinite(bounds[1]) and bounds[0] < bounds[1]
        ):
            raise AdvsimError(f"bounds must be (lo, hi) with finite lo < hi; got {bounds}")
        self.bounds = bounds

    def __repr__(self) -> str:
        e = f"{float(self.eps):g}" if self.eps.ndim == 0 else f"<{self.eps.numel()} radii>"
        r = "" if self.restrict is None else f", restrict=dim {self.restrict.dim}"
        return f"{type(self).__name__}(eps={e}{r}, start={self.start!r})"

    # ------------------------------------------------------------- helpers
    def eps_like(self, delta: Tensor) -> Tensor:
        """ε broadcast against ``delta (..., n, d)`` as ``(..., n, 1)``: one radius, one per point
        ``(n,)``, one per member ``(M, 1)`` (an ensemble whose members train at different radii) or
        one per member and point ``(M, n)``."""
        e = self.eps.to(dtype=delta.dtype, device=delta.device)
        if e.ndim == 0:
            return e.expand(delta.shape[:-1]).unsqueeze(-1)
        if e.ndim == 2:
            rows = tuple(delta.shape[:-1])
            if len(rows) != 2 or e.shape[0] != rows[0] or e.shape[1] not in (1, rows[1]):
                raise AdvsimError(
                    f"eps of shape (M, n) or (M, 1) must match the perturbations' (M, n) = "
                    f"{rows}; got {tuple(e.shape)}"
                )
            return e[..., None].expand(*rows, 1)
        if e.shape[0] != delta.shape[-2]:
            raise AdvsimError(
                f"eps must have one value per point (n={delta.shape[-2]}); got {e.shape[0]}"
            )
        return e[:, None].expand((*delta.shape[:-1], 1))

    def with_eps(self, eps: float | Sequence[float] | np.ndarray | Tensor) -> ThreatModel:
        """The same threat model with another radius."""
        return type(self)(eps, restrict=self.restrict, start=self.start, bounds=self.bounds)

    def check_dim(self, d: int) -> None:
        """Raise if the restriction was built for another dimension."""
        if self.restrict is not None and self.restrict.d != d:
            raise AdvsimError(f"restrict has dimension {self.restrict.d}, inputs have d = {d}")

    def _restrict(self, V: Tensor) -> Tensor:
        return V if self.restrict is None else self.restrict.project(V)

    def apply_bounds(self, X: Tensor, delta: Tensor) -> Tensor:
        """Clip ``X + δ`` to ``bounds`` (when given) and return the resulting δ."""
        if self.bounds is None:
            return delta
        return torch.clamp(X + delta, self.bounds[0], self.bounds[1]) - X

    # ------------------------------------------------------------- per-norm methods
    @abstractmethod
    def norm_of(self, delta: Tensor) -> Tensor:
        """The perturbation's norm on the last axis."""
        ...

    def random_start(self, X: Tensor, seed: int, stream: int = 0) -> Tensor:
        """A random δ in the ball for every row of ``X (..., n, d)``: ``ε ·`` :meth:`unit_start`."""
        return self.unit_start(X, seed, stream) * self.eps_like(X)

    @abstractmethod
    def unit_start(self, X: Tensor, seed: int, stream: int = 0) -> Tensor:
        """The random start for ε = 1 (every start law here is linear in ε)."""
        ...

    @abstractmethod
    def ascent_direction(self, G: Tensor) -> Tensor:
        """The steepest-ascent direction of gradient ``G`` (unit in this norm; 0 where ``G`` is 0)."""
        ...

    @abstractmethod
    def project(self, delta: Tensor) -> Tensor:
        """Map δ into the ball (and the subspace); never increases the norm."""
        ...


class L2Ball(ThreatModel):
    """The Euclidean ball ``‖δ‖₂ <= ε`` (optionally within a subspace)."""

    norm = "l2"
    dual_q = 2.0
    starts = L2_STARTS

    def norm_of(self, delta: Tensor) -> Tensor:
        """``‖δ‖₂``."""
        out: Tensor = delta.norm(dim=-1)
        return out

    def unit_start(self, X: Tensor, seed: int, stream: int = 0) -> Tensor:
        """Uniform direction (in the allowed subspace) times a radius from the chosen law (ε = 1)."""
        d = X.shape[-1]
        self.check_dim(d)
        r = d if self.restrict is None else self.restrict.dim
        g = row_normal(X, r, seed, stream)
        if self.restrict is not None:
            Q = torch.as_tensor(self.restrict.Q, dtype=X.dtype, device=X.device)
            g = torch.matmul(g, Q.T)
        direction = safe_normalize(g)
        if self.start == "sphere":
            return direction
        u = row_uniform(X, 1, seed, stream + 1_000_003)
        return direction * (u ** (1.0 / r) if self.start == "uniform" else u)

    def ascent_direction(self, G: Tensor) -> Tensor:
        """``P g / ‖P g‖₂`` (``P`` the restriction), safely normalised."""
        return safe_normalize(self._restrict(G))

    def project(self, delta: Tensor) -> Tensor:
        """Restrict, then scale by ``min(1, ε/‖δ‖)``."""
        delta = self._restrict(delta)
        n = delta.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(delta.dtype).tiny)
        return delta * torch.clamp(self.eps_like(delta) / n, max=1.0)


class LinfBall(ThreatModel):
    """The box ``‖δ‖∞ <= ε``; a restriction must be spanned by coordinate axes (a coordinate mask)."""

    norm = "linf"
    dual_q = 1.0
    starts = ("uniform",)

    def __init__(
        self,
        eps: float | Sequence[float] | np.ndarray | Tensor,
        *,
        restrict: Subspace | np.ndarray | Tensor | None = None,
        start: str = "uniform",
        bounds: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(eps, restrict=restrict, start=start, bounds=bounds)
        self.mask: np.ndarray | None = None
        if self.restrict is not None:
            self.mask = self.restrict.coordinate_mask()
            if self.mask is None:
                raise AdvsimError(
                    "restrict must be spanned by coordinate axes for LinfBall "
                    "(the ℓ∞ ball has no simple projection onto other subspaces)"
                )

    def _mask(self, V: Tensor) -> Tensor:
        if self.mask is None:
            return V
        return V * torch.as_tensor(self.mask, dtype=V.dtype, device=V.device)

    def norm_of(self, delta: Tensor) -> Tensor:
        """``‖δ‖∞``."""
        return delta.abs().amax(dim=-1)

    def unit_start(self, X: Tensor, seed: int, stream: int = 0) -> Tensor:
        """``U[−1, 1]`` on every allowed coordinate (``U[−ε, ε]`` once scaled)."""
        self.check_dim(X.shape[-1])
        u = row_uniform(X, X.shape[-1], seed, stream)
        return self._mask(2 * u - 1)

    def ascent_direction(self, G: Tensor) -> Tensor:
        """``sign(g)`` on the allowed coordinates."""
        return self._mask(torch.sign(G))

    def project(self, delta: Tensor) -> Tensor:
        """Clip every coordinate to ``[−ε, ε]`` (and zero the disallowed ones)."""
        eps = self.eps_like(delta)
        return self._mask(torch.maximum(torch.minimum(delta, eps), -eps))
