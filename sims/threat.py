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

from sims.rng import row_normal, row_uniform
from sims.validate import (
    AdvsimError,
    check_array,
    check_choice,
    check_int,
    check_tensor,
    checks_enabled,
    fail,
)

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
        Q = check_array("restrict basis", self.Q, ndim=2)
        if not 1 <= Q.shape[1] <= Q.shape[0]:
            raise AdvsimError(
                f"restrict basis must have shape (d, r) with 1 <= r <= d; got {Q.shape}"
            )
        if not np.allclose(Q.T @ Q, np.eye(Q.shape[1]), atol=1e-8):
            fail("restrict basis", "orthonormal columns (QᵀQ = I)", Q, verb="have")
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
        P = check_array("restrict", P, ndim=2)
        if P.shape[0] != P.shape[1]:
            raise AdvsimError(f"restrict must be a square (d, d) projector; got shape {P.shape}")
        check_float_arg("tol", tol)
        if not np.allclose(P, P.T, atol=tol) or not np.allclose(P @ P, P, atol=tol):
            fail("restrict", "an orthogonal projector (P = Pᵀ and P² = P)", P)
        vals, vecs = np.linalg.eigh((P + P.T) / 2)
        keep = vals > 0.5
        if not keep.any():
            raise AdvsimError("restrict must be a projector of rank >= 1; got the zero matrix")
        return cls(vecs[:, keep])

    @classmethod
    def span(cls, U: np.ndarray) -> Subspace:
        """``span(U)`` for a basis ``U (d, k)`` of full column rank (orthonormalised)."""
        U = check_array("U", U, ndim=2)
        if np.linalg.matrix_rank(U) < U.shape[1]:
            fail(
                "U",
                "a (d, k) basis of full column rank k (span needs it)",
                f"shape {U.shape} of rank {np.linalg.matrix_rank(U)}",
                raw=True,
            )
        q, _ = np.linalg.qr(U)
        return cls(q)

    @classmethod
    def perp(cls, U: np.ndarray) -> Subspace:
        """The orthogonal complement of ``span(U)`` (``P⊥`` only)."""
        U = check_array("U", U, ndim=2)
        d, k = U.shape
        if k >= d:
            fail("U", "a (d, k) basis with k < d (perp needs a complement)", U)
        if np.linalg.matrix_rank(U) < k:
            fail(
                "U",
                "a basis of full column rank (perp needs it)",
                f"rank {np.linalg.matrix_rank(U)}",
                raw=True,
            )
        q, _ = np.linalg.qr(U, mode="complete")
        return cls(q[:, k:])

    @classmethod
    def atoms(cls, M: np.ndarray, idx: Sequence[int]) -> Subspace:
        """The span of the distinct, linearly independent dictionary atoms ``M[:, idx]``."""
        Md = check_array("M", M, ndim=2)
        if isinstance(idx, str) or not isinstance(idx, Sequence | np.ndarray) or len(idx) == 0:
            fail("atoms idx", "a non-empty sequence of atom indices", idx)
        ix = [check_int(f"atoms idx[{i}]", j, 0, Md.shape[1] - 1) for i, j in enumerate(idx)]
        if len(set(ix)) != len(ix):
            raise AdvsimError(f"atoms idx must not repeat an atom; got {ix}")
        return cls.span(Md[:, ix])

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


def _bshape(a: tuple[int, ...] | torch.Size, b: tuple[int, ...]) -> tuple[int, ...] | None:
    """The broadcast of shapes ``a`` and ``b``, or ``None`` where they do not broadcast."""
    try:
        return tuple(np.broadcast_shapes(tuple(a), b))
    except ValueError:
        return None


def check_float_arg(name: str, value: object) -> None:
    """Raise unless ``value`` is a finite number > 0."""
    from sims.validate import check_float

    check_float(name, value, 0.0, lo_open=True)


def _radii(eps: object) -> Tensor:
    """``eps`` (a number, sequence, array or tensor of real numbers) as a float64 CPU tensor."""
    allowed = "a finite number >= 0 or an array of them (real, not complex, bool or text)"
    if isinstance(eps, bool | str | bytes) or eps is None:
        fail("eps", allowed, eps)
    if isinstance(eps, Tensor):
        if eps.is_complex() or eps.dtype == torch.bool:
            fail("eps", allowed, eps)
        return eps.detach().cpu().to(torch.float64)
    try:
        arr = np.asarray(eps)
    except (TypeError, ValueError):
        fail("eps", allowed, eps)
    if arr.dtype.kind not in "iuf":
        fail("eps", allowed, eps)
    return torch.as_tensor(arr.astype(np.float64))


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
        e = _radii(eps)
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
            if not isinstance(restrict, np.ndarray | Tensor):
                fail("restrict", "a Subspace or an orthogonal projector matrix (d, d)", restrict)
            restrict = Subspace.from_projector(restrict)
        self.restrict = restrict
        self.start = check_choice("start", start, self.starts)
        if bounds is not None:
            ok = isinstance(bounds, tuple | list) and len(bounds) == 2
            ok = ok and all(
                isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
                for v in bounds
            )
            if not ok or not (
                np.isfinite(bounds[0]) and np.isfinite(bounds[1]) and bounds[0] < bounds[1]
            ):
                raise AdvsimError(f"bounds must be (lo, hi) with finite lo < hi; got {bounds!r}")
            bounds = (float(bounds[0]), float(bounds[1]))
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
        e = self._eps_as(delta.dtype, delta.device)
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

    def _eps_as(self, dtype: torch.dtype, device: torch.device) -> Tensor:
        """``eps`` in ``dtype`` on ``device``, converted once per (dtype, device) and radius tensor
        (attacks ask at every step)."""
        cache: dict[tuple[torch.dtype, torch.device], tuple[Tensor, int, Tensor]]
        cache = self.__dict__.setdefault("_eps_cast", {})
        hit = cache.get((dtype, device))
        version = self.eps._version  # changes with every in-place update of the radii
        if hit is not None and hit[0] is self.eps and hit[1] == version:
            return hit[2]
        e = self.eps.to(dtype=dtype, device=device)
        cache[(dtype, device)] = (self.eps, version, e)
        return e

    def with_eps(self, eps: float | Sequence[float] | np.ndarray | Tensor) -> ThreatModel:
        """The same threat model with another radius."""
        return type(self)(eps, restrict=self.restrict, start=self.start, bounds=self.bounds)

    def check_dim(self, d: int) -> None:
        """Raise if the restriction was built for another dimension."""
        d = check_int("d", d, 1)
        if self.restrict is not None and self.restrict.d != d:
            fail(
                "restrict",
                f"a subspace of R^{d}, the inputs' space (restrict has dimension {self.restrict.d})",
                f"a subspace of R^{self.restrict.d}",
                raw=True,
            )

    def _restrict(self, V: Tensor) -> Tensor:
        return V if self.restrict is None else self.restrict.project(V)

    def apply_bounds(self, X: Tensor, delta: Tensor) -> Tensor:
        """Clip ``X + δ`` to ``bounds`` (when given) and return the resulting δ."""
        if checks_enabled():
            self._check_vectors("X", X)
            self._check_vectors("delta", delta)
        if self.bounds is None:
            return delta
        return torch.clamp(X + delta, self.bounds[0], self.bounds[1]) - X

    def _check_vectors(self, name: str, V: object) -> None:
        """The entry check of the per-norm methods (skipped inside
        :func:`sims.validate.assume_valid`, i.e. inside attack loops): a finite real floating tensor
        ``(..., d)`` whose ``d`` matches the restriction."""
        check_tensor(name, V, nonempty=False)
        assert isinstance(V, Tensor)
        if V.ndim < 1:
            fail(name, "a tensor of shape (..., d)", V)
        if self.restrict is not None and V.shape[-1] != self.restrict.d:
            fail(name, f"shape (..., {self.restrict.d}) (the restriction's d)", V, verb="have")

    # ------------------------------------------------------------- per-norm methods
    def norm_of(self, delta: Tensor) -> Tensor:
        """The perturbation's norm on the last axis."""
        if checks_enabled():
            self._check_vectors("delta", delta)
        return self._norm_of(delta)

    def ascent_direction(self, G: Tensor) -> Tensor:
        """The steepest-ascent direction of gradient ``G`` (unit in this norm; 0 where ``G`` is 0)."""
        if checks_enabled():
            self._check_vectors("G", G)
        return self._ascent_direction(G)

    def project(self, delta: Tensor) -> Tensor:
        """Map δ into the ball (and the subspace); never increases the norm."""
        if checks_enabled():
            self._check_vectors("delta", delta)
        return self._project(delta)

    def step(self, delta: Tensor, G: Tensor, coef: Tensor) -> Tensor:
        """One projected steepest-ascent step, ``project(δ + c · ascent_direction(G))``: the update of
        PGD (Madry et al. 2018) with per-row step ``c`` (``coef``, broadcast as ``(..., n, 1)``; its sign
        is the loss' ascent sign).

        The norms without a restriction update ``delta`` in place and may overwrite ``G`` (an attack's
        own buffers): one pass over each instead of the four of the composed form, with the same
        numbers up to the dtype's rounding. Returns the new δ (``delta`` itself where updated in place).
        """
        if checks_enabled():
            self._check_vectors("delta", delta)
            self._check_vectors("G", G)
            if G.shape != delta.shape:
                fail("G", f"the shape of delta {tuple(delta.shape)}", G, verb="have")
            if not delta.is_contiguous():
                fail("delta", "a dense (contiguous) tensor: the step updates it in place", delta)
            check_tensor("coef", coef, like=delta)
            rows = (*delta.shape[:-1], 1)
            if coef.ndim != delta.ndim or coef.shape[-1] != 1 or _bshape(coef.shape, rows) != rows:
                fail("coef", f"one step per row, broadcastable to {rows}", coef, verb="be")
        return self._step(delta, G, coef)

    def _step(self, delta: Tensor, G: Tensor, coef: Tensor) -> Tensor:
        """:meth:`step` after its checks; the composed form (what the norms specialise)."""
        return self._project(delta.addcmul(coef, self._ascent_direction(G)))

    @abstractmethod
    def _norm_of(self, delta: Tensor) -> Tensor:
        """:meth:`norm_of` after its checks."""
        ...

    def random_start(self, X: Tensor, seed: int, stream: int = 0) -> Tensor:
        """A random δ in the ball for every row of ``X (..., n, d)``: ``ε ·`` :meth:`unit_start`."""
        return self.unit_start(X, seed, stream) * self.eps_like(X)

    def unit_start(self, X: Tensor, seed: int, stream: int = 0) -> Tensor:
        """The random start for ε = 1 (every start law here is linear in ε), for every row of
        ``X (..., n, d)`` (a finite floating tensor), from ``seed`` and ``stream`` (integers >= 0)."""
        if checks_enabled():
            check_tensor("X", X)
            if X.ndim < 1:
                fail("X", "a tensor of shape (..., n, d)", X)
            check_int("seed", seed, 0)
            check_int("stream", stream, 0)
        self.check_dim(X.shape[-1])
        return self._unit_start(X, seed, stream)

    @abstractmethod
    def _unit_start(self, X: Tensor, seed: int, stream: int) -> Tensor:
        """:meth:`unit_start` after its checks."""
        ...

    @abstractmethod
    def _ascent_direction(self, G: Tensor) -> Tensor:
        """:meth:`ascent_direction` after its checks."""
        ...

    @abstractmethod
    def _project(self, delta: Tensor) -> Tensor:
        """:meth:`project` after its checks."""
        ...


class L2Ball(ThreatModel):
    """The Euclidean ball ``‖δ‖₂ <= ε`` (optionally within a subspace)."""

    norm = "l2"
    dual_q = 2.0
    starts = L2_STARTS

    def _norm_of(self, delta: Tensor) -> Tensor:
        """``‖δ‖₂``."""
        out: Tensor = delta.norm(dim=-1)
        return out

    def _unit_start(self, X: Tensor, seed: int, stream: int) -> Tensor:
        """Uniform direction (in the allowed subspace) times a radius from the chosen law (ε = 1)."""
        d = X.shape[-1]
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

    def _ascent_direction(self, G: Tensor) -> Tensor:
        """``P g / ‖P g‖₂`` (``P`` the restriction), safely normalised."""
        return safe_normalize(self._restrict(G))

    def _project(self, delta: Tensor) -> Tensor:
        """Restrict, then scale by ``min(1, ε/‖δ‖)``."""
        delta = self._restrict(delta)
        n = delta.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(delta.dtype).tiny)
        return delta * torch.clamp(self.eps_like(delta) / n, max=1.0)

    def _step(self, delta: Tensor, G: Tensor, coef: Tensor) -> Tensor:
        """``δ ← δ + g·(c/‖g‖)``, then ``δ ← δ·min(1, ε/‖δ‖)``, in place (unrestricted balls).

        If some row's gradient norm is tiny but not zero, the whole step takes the composed form, whose
        normalisation rescales such rows first (:func:`safe_normalize`). Rows of norm exactly zero (dead
        points of a ReLU network) stay put, as there; so does a row whose every squared entry underflows
        to zero (float32: every entry below about 4e-23), which the composed form would still rescale
        to a unit step.
        """
        if self.restrict is not None:
            return super()._step(delta, G, coef)
        # 1/‖g‖, with 0 for zero rows (1/0 = inf → 0); a value above 1/safe is a tiny non-zero row
        inv = torch.linalg.vector_norm(G, dim=-1, keepdim=True).reciprocal_().nan_to_num_(posinf=0.0)
        if float(inv.amax()) > torch.finfo(G.dtype).tiny ** -0.25:
            return super()._step(delta, G, coef)
        delta.addcmul_(G, inv * coef)
        n = torch.linalg.vector_norm(delta, dim=-1, keepdim=True)
        n.clamp_min_(torch.finfo(delta.dtype).tiny)
        return delta.mul_(torch.div(self.eps_like(delta), n).clamp_(max=1.0))


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
                fail(
                    "restrict",
                    "spanned by coordinate axes for LinfBall "
                    "(the ℓ∞ ball has no simple projection onto other subspaces)",
                    f"a subspace of dimension {self.restrict.dim} not spanned by axes",
                    raw=True,
                )

    def _mask(self, V: Tensor) -> Tensor:
        if self.mask is None:
            return V
        return V * torch.as_tensor(self.mask, dtype=V.dtype, device=V.device)

    def _norm_of(self, delta: Tensor) -> Tensor:
        """``‖δ‖∞``."""
        return delta.abs().amax(dim=-1)

    def _unit_start(self, X: Tensor, seed: int, stream: int) -> Tensor:
        """``U[−1, 1]`` on every allowed coordinate (``U[−ε, ε]`` once scaled)."""
        u = row_uniform(X, X.shape[-1], seed, stream)
        return self._mask(2 * u - 1)

    def _ascent_direction(self, G: Tensor) -> Tensor:
        """``sign(g)`` on the allowed coordinates."""
        return self._mask(torch.sign(G))

    def _project(self, delta: Tensor) -> Tensor:
        """Clip every coordinate to ``[−ε, ε]`` (and zero the disallowed ones)."""
        eps = self.eps_like(delta)
        return self._mask(torch.maximum(torch.minimum(delta, eps), -eps))

    def _step(self, delta: Tensor, G: Tensor, coef: Tensor) -> Tensor:
        """``δ ← clip(δ + c·sign(g), −ε, ε)`` in place (``G`` becomes its sign; no coordinate mask)."""
        if self.mask is not None:
            return super()._step(delta, G, coef)
        delta.addcmul_(G.sign_(), coef)
        eps = self.eps_like(delta)
        return torch.clamp(delta, min=-eps, max=eps, out=delta)
