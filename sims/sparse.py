"""Sparse-coding data ``x = M z + ξ`` with the dictionary, the codes and the labelling rule known.

The setting of feature purification (Allen-Zhu & Li 2020; shared/PAPERS.md §2, every constant a
parameter because the paper's are only recalled):

* dictionary ``M (d, D)``: the identity, a random orthonormal matrix (``D = d``), or an overcomplete
  matrix with ``D > d`` unit-norm random columns;
* code ``z (D,)``: support of exactly ``k`` atoms or Bernoulli(``k/D``) per atom, non-zero magnitudes
  ``±1/√k`` (``'sign'``, so ``‖z‖₂ = 1`` for exact supports) or ``N(0, 1/k)`` (``'gaussian'``);
* noise ``ξ ~ N(0, noise²/d · I)`` (so ``E‖ξ‖² = noise²``);
* label ``y = sign(⟨w*, z⟩)`` with ``w*`` of ±1 entries (``'signs'``) or ``N(0, 1)`` entries.

Codes whose score ``⟨w*, z⟩`` is exactly 0 (even ``k`` with sign magnitudes, or an empty Bernoulli
support) have no label; they are redrawn, i.e. the data are conditioned on a non-zero score. A dense
negative control sets ``k = D``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sims.validate import (
    AdvsimError,
    check_array,
    check_choice,
    check_float,
    check_instance,
    check_int,
    check_labels,
    check_memory,
    fail,
)

__all__ = [
    "DICTIONARIES",
    "SparseCodingData",
    "SparseCodingLaw",
    "make_sparse_data",
]

DICTIONARIES = ("identity", "orthonormal", "overcomplete")
SUPPORTS = ("exact", "bernoulli")
MAGNITUDES = ("sign", "gaussian")
TEACHERS = ("signs", "gaussian")


@dataclass(frozen=True)
class SparseCodingLaw:
    """The law of ``(x, y)``: everything but the random draws of the dictionary and ``w*``.

    Attributes:
        d: input dimension.
        k: expected number of non-zero code entries (``1 <= k <= D``).
        D: number of atoms (default ``d``; ``> d`` only for the overcomplete dictionary).
        dictionary: ``'identity'``, ``'orthonormal'`` or ``'overcomplete'``.
        support: ``'exact'`` (exactly ``k`` atoms) or ``'bernoulli'`` (each atom with probability ``k/D``).
        magnitude: ``'sign'`` (``±1/√k``) or ``'gaussian'`` (``N(0, 1/k)``).
        noise: standard deviation of the whole noise vector (``ξ ~ N(0, noise²/d I)``).
        teacher: ``'signs'`` (``w* ∈ {±1}^D``) or ``'gaussian'``.
    """

    d: int
    k: int
    D: int | None = None
    dictionary: str = "identity"
    support: str = "exact"
    magnitude: str = "sign"
    noise: float = 0.0
    teacher: str = "signs"

    def __post_init__(self) -> None:
        check_int("d", self.d, 1)
        check_int("k", self.k, 1)
        check_choice("dictionary", self.dictionary, DICTIONARIES)
        if self.D is None:
            object.__setattr__(self, "D", self.d)
        D = check_int("D", self.atoms, 1)
        if self.dictionary == "overcomplete":
            if self.d >= D:
                raise AdvsimError(
                    f"D must be > d = {self.d} for an overcomplete dictionary; got {D}"
                )
        elif self.d != D:
            raise AdvsimError(
                f"D must equal d = {self.d} for the {self.dictionary} dictionary; got {D}"
            )
        check_int("k", self.k, 1, D)
        check_choice("support", self.support, SUPPORTS)
        check_choice("magnitude", self.magnitude, MAGNITUDES)
        check_float("noise", self.noise, 0.0)
        check_choice("teacher", self.teacher, TEACHERS)

    @property
    def atoms(self) -> int:
        """``D``, the number of dictionary atoms."""
        assert self.D is not None
        return self.D


@dataclass(frozen=True, eq=False)
class SparseCodingData:
    """Points ``x = M z + ξ``, their labels and the ground truth that generated them.

    Attributes:
        X: points ``(n, d)`` float64.
        y: labels ``(n,)`` in {-1, +1}.
        dictionary: the paper's ``M``, ``(d, D)`` (orthonormal or unit-norm columns).
        Z: the codes ``(n, D)``.
        w_star: the labelling vector ``w* (D,)``.
        law: the law the points were drawn from (for real data, :mod:`sims.real_data`, a description of
            them in the law's terms: no generator drew them).
        seed: the seed of the dictionary and ``w*``.
        source: ``"generated"`` (drawn from ``law``), or the name of a real data set.
    """

    X: np.ndarray
    y: np.ndarray
    dictionary: np.ndarray
    Z: np.ndarray
    w_star: np.ndarray
    law: SparseCodingLaw
    seed: int
    source: str = "generated"

    def __post_init__(self) -> None:
        law = check_instance("law", self.law, SparseCodingLaw, "a SparseCodingLaw")
        if not isinstance(self.source, str) or not self.source:
            fail("source", '"generated" or the name of a real data set', self.source)
        d, D = law.d, law.atoms
        X = check_array("X", self.X, shapes=[("n", d)])
        n = X.shape[0]
        Z = check_array("Z", self.Z, shapes=[(n, D)])
        y = check_array("y", self.y, finite=False, nonempty=False)
        check_labels("y", y, n)
        Md = check_array("dictionary", self.dictionary, shapes=[(d, D)])
        w_star = check_array("w_star", self.w_star, shapes=[(D,)])
        check_int("seed", self.seed, 0)
        for name, value in (("X", X), ("y", y), ("dictionary", Md), ("Z", Z), ("w_star", w_star)):
            object.__setattr__(self, name, value)

    @property
    def n(self) -> int:
        """Number of points."""
        return int(self.X.shape[0])

    @property
    def class_balance(self) -> float:
        """Share of points labelled +1."""
        return float(np.mean(self.y > 0))

    @property
    def signal_direction(self) -> np.ndarray:
        """``M w*`` normalised: the direction dense mixtures are predicted to align with (PAPERS.md §2)."""
        v = self.dictionary @ self.w_star
        return np.asarray(v / np.linalg.norm(v))

    def sample(self, n: int, seed: int) -> SparseCodingData:
        """``n`` fresh points of the same law, dictionary and ``w*`` (e.g. a test set); generated data
        only (real data have no generator to draw from)."""
        if self.source != "generated":
            fail(
                "source",
                '"generated" to draw more points (real data: load more with sims.real_data)',
                self.source,
            )
        return _draw(self.law, self.dictionary, self.w_star, n, seed, self.seed)


def _dictionary(law: SparseCodingLaw, rng: np.random.Generator) -> np.ndarray:
    d, D = law.d, law.atoms
    if law.dictionary == "identity":
        return np.eye(d)
    G = rng.standard_normal((d, D))
    if law.dictionary == "orthonormal":
        Q, R = np.linalg.qr(G)
        return np.asarray(Q * np.sign(np.diag(R)))
    return np.asarray(G / np.linalg.norm(G, axis=0, keepdims=True))


def _codes(law: SparseCodingLaw, n: int, rng: np.random.Generator) -> np.ndarray:
    D, k = law.atoms, law.k
    if law.support == "exact":
        keys = rng.random((n, D))
        idx = np.argpartition(keys, k - 1, axis=1)[:, :k]
        mask = np.zeros((n, D), dtype=bool)
        np.put_along_axis(mask, idx, True, axis=1)
    else:
        mask = rng.random((n, D)) < k / D
    if law.magnitude == "sign":
        vals = rng.choice((-1.0, 1.0), size=(n, D))
    else:
        vals = rng.standard_normal((n, D))
    return np.where(mask, vals / np.sqrt(k), 0.0)


def _draw(
    law: SparseCodingLaw, Md: np.ndarray, w_star: np.ndarray, n: int, seed: int, dict_seed: int
) -> SparseCodingData:
    n = check_int("n", n, 1)
    check_memory("n x D", (n, law.atoms), 6 * n * (law.atoms + law.d) * 8)
    rng = np.random.default_rng([check_int("seed", seed, 0), 1])
    Z = np.empty((0, law.atoms))
    for _ in range(1000):  # redraw codes with a zero score (no label); conditions on ⟨w*, z⟩ ≠ 0
        Zn = _codes(law, n - Z.shape[0], rng)
        Z = np.concatenate([Z, Zn[np.abs(Zn @ w_star) > 1e-12]])
        if Z.shape[0] == n:
            break
    else:  # pragma: no cover - needs a law that almost never labels a point
        raise AdvsimError("could not draw labelled codes: almost every code has score ⟨w*, z⟩ = 0")
    y = np.sign(Z @ w_star)
    X = Z @ Md.T
    if law.noise > 0:
        X = X + rng.standard_normal(X.shape) * (law.noise / np.sqrt(law.d))
    return SparseCodingData(X=X, y=y, dictionary=Md, Z=Z, w_star=w_star, law=law, seed=dict_seed)


def make_sparse_data(law: SparseCodingLaw, n: int, seed: int) -> SparseCodingData:
    """Draw the dictionary and ``w*`` from ``seed``, then ``n`` points (PAPERS.md §2 setting).

    The dictionary and ``w*`` depend on ``seed`` alone; the points on ``seed`` too (use
    :meth:`SparseCodingData.sample` with another seed for a test set of the same law).
    """
    check_instance("law", law, SparseCodingLaw, "a SparseCodingLaw")
    seed = check_int("seed", seed, 0)
    n = check_int("n", n, 1)
    check_memory("d x D", (law.d, law.atoms), 3 * law.d * law.atoms * 8)
    rng = np.random.default_rng([seed, 0])
    Md = _dictionary(law, rng)
    if law.teacher == "signs":
        w_star = rng.choice((-1.0, 1.0), size=law.atoms)
    else:
        w_star = rng.standard_normal(law.atoms)
    return _draw(law, Md, w_star, n, seed, seed)
