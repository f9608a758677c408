"""Datasets with known structure: points on a (possibly affine) low-dimensional subspace.

Every generator returns a frozen :class:`SubspaceData` holding the points ``X (n, d)``, the labels
``y (n,)`` in {-1, +1} and the *ground truth* the measurements need: the orthonormal basis ``U (d, k_P)``
of the linear subspace (so ``P = U Uᵀ`` and ``P⊥ = I − P``) and the affine offset (zero for a linear
subspace). Measurements never re-estimate what the generator knows.

The setting is that of Melamed, Yehudai & Vardi (NeurIPS 2023), shared/PAPERS.md §1: training points on
a low-dimensional linear subspace; an affine offset is the negative control under which the
frozen-off-subspace-weights invariant (PAPERS.md §1, invariant 1) no longer holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from sims.validate import (
    AdvsimError,
    check_array,
    check_bool,
    check_choice,
    check_device,
    check_dtype,
    check_float,
    check_instance,
    check_int,
    check_labels,
    check_memory,
    fail,
)

__all__ = [
    "LABEL_RULES",
    "POINT_LAWS",
    "SubspaceData",
    "checkerboard",
    "diagonal_line",
    "make_subspace_data",
    "random_basis",
]

POINT_LAWS = ("gaussian", "sphere")
LABEL_RULES = ("linear", "teacher", "random", "intervals")


@dataclass(frozen=True, eq=False)
class SubspaceData:
    """Points on a known subspace, their labels and the subspace itself.

    Attributes:
        X: points, ``(n, d)`` float64.
        y: labels in {-1, +1}, ``(n,)`` float64.
        basis: orthonormal basis ``U`` of the *linear* part of the subspace, ``(d, k_P)``.
        offset: affine offset ``o`` (``(d,)``): every point is ``U c + o``; zero for linear data.
        name: a short description used in records.
    """

    X: np.ndarray
    y: np.ndarray
    basis: np.ndarray
    offset: np.ndarray = field(default_factory=lambda: np.zeros(0))
    name: str = "subspace"

    def __post_init__(self) -> None:
        X = check_array("X", self.X, shapes=[("n", "d")])
        n, d = X.shape
        y = check_array("y", self.y, finite=False, nonempty=False)
        check_labels("y", y, n)
        U = check_array("basis", self.basis, ndim=2)
        if U.shape[0] != d or not 1 <= U.shape[1] < d:
            raise AdvsimError(
                f"basis must have shape (d, k_P) with 1 <= k_P < d = {d}; got {U.shape}"
            )
        if not np.allclose(U.T @ U, np.eye(U.shape[1]), atol=1e-8):
            fail("basis", "orthonormal columns (UᵀU = I)", U, verb="have")
        offset = check_array("offset", self.offset, nonempty=False)
        if offset.size == 0:
            offset = np.zeros(d)
        elif offset.shape != (d,):
            raise AdvsimError(f"offset must have shape (d,) = ({d},); got {offset.shape}")
        if not isinstance(self.name, str):
            fail("name", "a string", self.name)
        for field_name, value in (("X", X), ("y", y), ("basis", U), ("offset", offset)):
            object.__setattr__(self, field_name, value)

    @property
    def n(self) -> int:
        """Number of points."""
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        """Ambient dimension."""
        return int(self.X.shape[1])

    @property
    def k(self) -> int:
        """Dimension ``k_P`` of the linear subspace."""
        return int(self.basis.shape[1])

    @property
    def codim(self) -> int:
        """Co-dimension ``ℓ⊥ = d − k_P``."""
        return self.d - self.k

    @property
    def is_affine(self) -> bool:
        """True when the points sit on an affine (not linear) subspace."""
        return bool(np.any(self.offset != 0))

    def projector(self) -> np.ndarray:
        """``P = U Uᵀ``, the orthogonal projector onto the linear subspace (``(d, d)``)."""
        return np.asarray(self.basis @ self.basis.T)

    def tensors(
        self, *, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(X, y)`` as torch tensors of the given dtype on the given device."""
        check_dtype("dtype", dtype)
        check_device("device", device)
        return (
            torch.as_tensor(self.X, dtype=dtype, device=device),
            torch.as_tensor(self.y, dtype=dtype, device=device),
        )


def random_basis(
    d: int, k: int, rng: np.random.Generator, *, axis_aligned: bool = False
) -> np.ndarray:
    """An orthonormal ``(d, k)`` basis: Haar-random (QR of a Gaussian), or the first ``k`` axes."""
    d = check_int("d", d, 2)
    k = check_int("k_P", k, 1, d - 1)
    check_instance("rng", rng, np.random.Generator, "a numpy Generator (np.random.default_rng)")
    check_bool("axis_aligned", axis_aligned)
    check_memory("d x k_P", (d, k), 3 * d * k * 8)
    if axis_aligned:
        return np.eye(d)[:, :k].copy()
    q, r = np.linalg.qr(rng.standard_normal((d, k)))
    return np.asarray(q * np.sign(np.diag(r)))  # sign fix makes the law Haar


def make_subspace_data(
    n: int,
    d: int,
    k: int,
    *,
    seed: int,
    basis: np.ndarray | None = None,
    axis_aligned: bool = False,
    points: Literal["gaussian", "sphere"] = "gaussian",
    radius: float = 1.0,
    labels: Literal["linear", "teacher", "random", "intervals"] = "linear",
    n_intervals: int = 4,
    teacher_width: int = 8,
    offset: float = 0.0,
    noise: float = 0.0,
) -> SubspaceData:
    """Points on a random ``k``-dimensional subspace of ``R^d`` with labels from a chosen rule.

    Each point is ``x = U c + o``: ``c ~ N(0, I_k · radius²/k)`` (so ``E‖c‖² = radius²``) or ``c``
    uniform on the sphere of that radius; ``o = offset · u`` for a unit vector ``u ⟂ span U`` (the
    affine negative control), zero by default. ``noise > 0`` adds ``noise · ξ/√(d − k)`` with ``ξ``
    standard Gaussian in ``P⊥`` (so ``E‖P⊥x‖² = noise²``): points *off* the subspace in every direction,
    the other negative control. Labels never depend on the noise.

    Labels (computed from the coordinates ``c``):
        ``linear``: ``sign(⟨v, c⟩)`` for a Gaussian teacher ``v``;
        ``teacher``: sign of a random two-layer ReLU teacher of width ``teacher_width``;
        ``random``: independent fair signs;
        ``intervals``: ``n_intervals`` equal-length intervals of ``t = c_1`` over its range, with
        alternating labels (the construction of the authors' Fig. 2, along any line).

    Args:
        n: number of points (>= 1).
        d: ambient dimension (>= 2).
        k: subspace dimension ``k_P`` (``1 <= k < d``).
        seed: the random seed (same seed, same data).
        basis: a given orthonormal ``(d, k)`` basis instead of a random one.
        axis_aligned: use the first ``k`` coordinate axes as the basis.
        points: law of the coordinates, ``'gaussian'`` or ``'sphere'``.
        radius: scale of the coordinates (> 0).
        labels: label rule, one of :data:`LABEL_RULES`.
        n_intervals: number of intervals for ``labels='intervals'`` (>= 2).
        teacher_width: width of the random teacher for ``labels='teacher'`` (>= 1).
        offset: length of the affine offset (>= 0; 0 gives a linear subspace).
        noise: size of the isotropic off-subspace noise (>= 0).
    """
    n = check_int("n", n, 1)
    d = check_int("d", d, 2)
    k = check_int("k_P", k, 1, d - 1)
    seed = check_int("seed", seed, 0)
    check_choice("points", points, POINT_LAWS)
    check_choice("labels", labels, LABEL_RULES)
    radius = check_float("radius", radius, 0.0, lo_open=True)
    offset = check_float("offset", offset, 0.0)
    noise = check_float("noise", noise, 0.0)
    n_intervals = check_int("n_intervals", n_intervals, 2)
    teacher_width = check_int("teacher_width", teacher_width, 1)
    check_bool("axis_aligned", axis_aligned)
    check_memory("n x d", (n, d), 4 * n * (d + k) * 8)
    if labels == "teacher":
        check_memory("n x teacher_width", (n, teacher_width), 2 * n * teacher_width * 8)
    rng = np.random.default_rng(seed)
    if basis is None:
        U = random_basis(d, k, rng, axis_aligned=axis_aligned)
    else:
        U = check_array("basis", basis, ndim=2)
        if U.shape != (d, k):
            raise AdvsimError(f"basis must have shape (d, k_P) = ({d}, {k}); got {U.shape}")
    if points == "gaussian":
        c = rng.standard_normal((n, k)) * (radius / np.sqrt(k))
    else:
        g = rng.standard_normal((n, k))
        c = radius * g / np.linalg.norm(g, axis=1, keepdims=True)
    y = _labels(c, labels, rng, n_intervals=n_intervals, teacher_width=teacher_width)
    o = np.zeros(d)
    if offset > 0:
        u = rng.standard_normal(d)
        u -= U @ (U.T @ u)
        o = offset * u / np.linalg.norm(u)
    X = c @ U.T + o
    if noise > 0:
        xi = rng.standard_normal((n, d))
        X = X + noise * (xi - (xi @ U) @ U.T) / np.sqrt(d - k)
    name = f"subspace(d={d},k={k},{points},{labels}" + (f",offset={offset:g}" if offset else "")
    name += f",noise={noise:g})" if noise else ")"
    return SubspaceData(X=X, y=y, basis=U, offset=o, name=name)


def _labels(
    c: np.ndarray, rule: str, rng: np.random.Generator, *, n_intervals: int, teacher_width: int
) -> np.ndarray:
    n, k = c.shape
    if rule == "linear":
        s = c @ rng.standard_normal(k)
    elif rule == "teacher":
        V = rng.standard_normal((teacher_width, k)) / np.sqrt(k)
        s = np.maximum(c @ V.T, 0.0) @ rng.choice((-1.0, 1.0), teacher_width)
        s = s - np.median(s)  # centre so both classes appear
    elif rule == "random":
        s = rng.choice((-1.0, 1.0), n)
    else:  # intervals along the first coordinate
        t = c[:, 0]
        lo, hi = float(t.min()), float(t.max())
        width = (hi - lo) / n_intervals if hi > lo else 1.0
        idx = np.minimum(((t - lo) / width).astype(int), n_intervals - 1)
        s = np.where(idx % 2 == 0, 1.0, -1.0)
    return np.where(s >= 0, 1.0, -1.0)


def diagonal_line() -> SubspaceData:
    """The authors' Fig. 2 dataset: 7 points ``(t, t)``, ``t ∈ {−1, −2/3, …, 1}``, in ``R²``.

    Labels alternate along the line (one interval per point on the first coordinate), starting at
    +1. The subspace is the diagonal, ``U = (1, 1)/√2``; its orthogonal direction is ``(1, −1)/√2``.
    Source: the authors' public code for Melamed, Yehudai & Vardi (2023), PAPERS.md §1.
    """
    t = np.linspace(-1.0, 1.0, 7)
    X = np.stack([t, t], axis=1)
    y = np.where(np.arange(7) % 2 == 0, 1.0, -1.0)
    U = np.array([[1.0], [1.0]]) / np.sqrt(2.0)
    return SubspaceData(X=X, y=y, basis=U, name="diagonal_line")


def checkerboard(size: int = 5, height: float = 0.5) -> SubspaceData:
    """The authors' Fig. 3 dataset: a ``size × size`` checkerboard on ``[0, 1]²`` at ``z = height``.

    Points sit on the grid ``linspace(0, 1, size)²`` with labels ``(−1)^(i+j)``, embedded in ``R³`` at
    height ``height``: an *affine* plane (offset ``height · e₃``), the case the authors describe as
    having "a smaller robustness effect" — the frozen-weights invariant does not apply to it.
    """
    size = check_int("size", size, 2)
    height = check_float("height", height)
    g = np.linspace(0.0, 1.0, size)
    ii, jj = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    X = np.stack([g[ii.ravel()], g[jj.ravel()], np.full(size * size, height)], axis=1)
    y = np.where((ii.ravel() + jj.ravel()) % 2 == 0, 1.0, -1.0)
    U = np.eye(3)[:, :2].copy()
    return SubspaceData(X=X, y=y, basis=U, offset=np.array([0.0, 0.0, height]), name="checkerboard")
