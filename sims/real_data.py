"""Real data with the ground truth the theories need: digits on a PCA subspace, image patches on a learned
dictionary.

Both data sets ship inside scikit-learn's wheel (``load_digits``: 1 797 handwritten digits of 8×8 pixels;
``load_sample_images``: two 427×640 photographs), so nothing is downloaded. Loaders return the engine's
own data classes — :class:`sims.data.SubspaceData` and :class:`sims.sparse.SparseCodingData` — with the
structure fitted on the *training* split only and stored as ground truth, so every measurement of
advsim (off-subspace weights, neuron decomposition, perturbation structure) runs on them unchanged.

* **Digits on a subspace** (Melamed, Yehudai & Vardi 2023, PAPERS.md §1: "images lie near a
  low-dimensional subspace"): a binary task (one group of digits against another), pixels standardised
  with the training split's mean and standard deviation, and the top-``k`` principal directions of the
  standardised training points as the basis ``U``. ``projected=True`` replaces every point (training and
  test) by its projection ``U Uᵀ x``: the data then lie *exactly* on a ``k``-dimensional linear subspace
  with real geometry — the theorem's condition holds. ``projected=False`` keeps the raw standardised
  points, which lie only *near* it (:func:`offsubspace_energy` says how near): the control where the
  invariant holds only approximately.
* **Patches on a learned dictionary** (Allen-Zhu & Li 2020, PAPERS.md §2: natural images are sparse in
  a learned dictionary): 8×8 grey-level patches of both photographs — training patches from the top
  80% of each photograph's rows, test patches from the rest, so none overlaps a training patch (the
  bottom rows hold other content — in the first photograph the test patches' median contrast is several
  times the training patches' — so test numbers measure transfer to unseen parts of the images) — each
  with its mean removed and scaled to unit norm (patches of very low contrast, mostly flat sky, are
  dropped: their direction is noise; the level comes from the training patches), a dictionary learned
  with ``MiniBatchDictionaryLearning`` on the training patches, and codes
  with exactly ``k`` non-zeros by orthogonal matching pursuit. ``dictionary="orthonormal"`` learns a
  complete dictionary, replaces it by the nearest orthonormal matrix (orthogonal Procrustes, the
  polar factor ``U Vᵀ`` of its SVD) and then learns on within the orthonormal matrices, for the codes'
  sparsity ``k``: alternately the exact ``k``-sparse codes (the ``k`` largest ``|Mᵀx|``) and the
  orthonormal ``M`` that best reconstructs the patches from them (Procrustes again: the polar factor of
  ``Xᵀ Z``), each step lowering ``‖X − ZMᵀ‖``, until it stops improving (the Procrustes step alone
  leaves a nearly random basis: a learned complete dictionary of smooth, coherent atoms is far from
  orthonormal; the refinement captures about 70% of the training patches' energy with 4 atoms, as much
  as PCA does, against 38% before it);
  ``"overcomplete"`` keeps ``D > d`` unit-norm atoms. The point is ``x``, not ``Mz``: the residual
  ``x − Mz`` is the model's noise ``ξ`` and its size is recorded in the law (``noise``: the RMS of
  ``‖x − Mz‖``). Labels: ``"image"`` — which photograph the patch comes from (a real attribute; ``w*`` is
  then the least-squares direction of the labels on the codes, the best linear rule on ``z``, not a
  generator), or ``"teacher"`` — ``y = sign⟨w*, z⟩`` with ``w*`` of ±1 entries drawn from ``seed``
  (the model's labelling rule on real codes). The returned law *describes* the data in the model's
  terms (no generator drew them): ``SparseCodingData.source`` names the data set and ``sample`` refuses
  real data.

Everything is deterministic for given arguments and cached per process (the dictionary is learned once).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from sims.data import SubspaceData
from sims.sparse import SparseCodingData, SparseCodingLaw
from sims.validate import AdvsimError, check_bool, check_choice, check_float, check_int, fail

__all__ = [
    "PATCH_DICTIONARIES",
    "PATCH_LABELS",
    "digits_pixels",
    "digits_subspace",
    "image_patches",
    "offsubspace_energy",
]

PATCH_DICTIONARIES = ("orthonormal", "overcomplete")
PATCH_LABELS = ("image", "teacher")
#: Patches whose norm after removing their mean is below this share of the median patch's are dropped.
MIN_CONTRAST = 0.1


def _need_sklearn() -> None:
    try:
        import sklearn  # type: ignore[import-untyped]  # noqa: F401
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise AdvsimError("real data need scikit-learn: pip install scikit-learn") from exc


def _digit_groups(classes: object) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``classes`` as two disjoint, non-empty tuples of digits, or raise naming it."""
    allowed = (
        "two disjoint, non-empty groups of digits 0-9, e.g. ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9))"
    )
    if not isinstance(classes, Sequence) or isinstance(classes, str) or len(classes) != 2:
        fail("classes", allowed, classes)
    groups = []
    for g in classes:
        if not isinstance(g, Sequence) or isinstance(g, str) or not g:
            fail("classes", allowed, classes)
        groups.append(tuple(check_int("classes (a digit)", c, 0, 9) for c in g))
    pos, neg = groups
    if set(pos) & set(neg):
        fail("classes", allowed, classes)
    return pos, neg


@lru_cache(maxsize=8)
def _digits(
    pos: tuple[int, ...], neg: tuple[int, ...], test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardised training and test points and labels, the principal directions (all of them, by
    decreasing variance) of the training points, and the pixels' training mean and scale (the
    standardisation, for drawing points as images); read-only arrays."""
    from sklearn.datasets import load_digits  # type: ignore[import-untyped]

    raw = load_digits()
    X = np.asarray(raw.data, dtype=np.float64)
    t = np.asarray(raw.target)
    keep = np.isin(t, pos + neg)
    X, t = X[keep], t[keep]
    y = np.where(np.isin(t, pos), 1.0, -1.0)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = round(test_fraction * len(y))
    test, train = order[:n_test], order[n_test:]
    mu = X[train].mean(axis=0)
    sd = X[train].std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)  # constant pixels (the corners) stay at 0
    Z = (X - mu) / sd
    # principal directions of the training points, signs fixed (largest entry positive)
    _, _, Vt = np.linalg.svd(Z[train], full_matrices=False)
    sign = np.sign(Vt[np.arange(len(Vt)), np.abs(Vt).argmax(axis=1)])
    V = (Vt * sign[:, None]).T
    out = (Z[train], y[train], Z[test], y[test], V, mu, sd)
    for a in out:
        a.flags.writeable = False
    return out


def digits_subspace(
    k: int = 10,
    *,
    projected: bool = True,
    classes: Sequence[Sequence[int]] = ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9)),
    test_fraction: float = 0.25,
    seed: int = 0,
) -> tuple[SubspaceData, SubspaceData]:
    """Handwritten digits (scikit-learn's ``load_digits``, ``d = 64``) as a binary task on a PCA
    subspace of dimension ``k``: ``(train, test)``.

    Args:
        k: the subspace dimension (1 <= k < 64): the top-``k`` principal directions of the standardised
            training points are the basis ``U`` of both splits.
        projected: project every point onto the subspace (exactly on it: the theorem's condition), or
            keep the raw standardised points (near it: :func:`offsubspace_energy`).
        classes: the digits labelled +1 and those labelled −1 (others are left out).
        test_fraction: the share of the points held out for testing (split by ``seed``).
        seed: the seed of the split.
    """
    _need_sklearn()
    check_int("k", k, 1, 63)
    check_bool("projected", projected)
    pos, neg = _digit_groups(classes)
    check_float("test_fraction", test_fraction, 0.0, 1.0, lo_open=True, hi_open=True)
    check_int("seed", seed, 0)
    Xtr, ytr, Xte, yte, V, _, _ = _digits(pos, neg, float(test_fraction), seed)
    if len(ytr) < 2 or len(yte) < 1:
        fail("test_fraction", "a split that leaves points on both sides", test_fraction)
    if k > V.shape[1] - 1:
        fail("k", f"at most {V.shape[1] - 1} (the training split has {len(ytr)} points)", k)
    U = np.array(V[:, :k])
    kind = "projected" if projected else "raw"
    name = f"digits({'/'.join(map(str, pos))} vs {'/'.join(map(str, neg))}, PCA k={k}, {kind})"

    def split(X: np.ndarray, y: np.ndarray, part: str) -> SubspaceData:
        pts = (X @ U) @ U.T if projected else np.array(X)
        return SubspaceData(X=pts, y=np.array(y), basis=U, name=f"{name} {part}")

    return split(Xtr, ytr, "train"), split(Xte, yte, "test")


def digits_pixels(
    X: np.ndarray,
    *,
    classes: Sequence[Sequence[int]] = ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9)),
    test_fraction: float = 0.25,
    seed: int = 0,
) -> np.ndarray:
    """Standardised points of :func:`digits_subspace` back in pixel intensities (0–16 for the data
    set's own points): ``X · scale + mean`` with the training split's standardisation for the same
    ``classes``, ``test_fraction`` and ``seed``. A perturbation ``δ`` of a point ``x`` is ``δ · scale``
    in pixels: ``digits_pixels(x + δ) − digits_pixels(x)``."""
    _need_sklearn()
    pos, neg = _digit_groups(classes)
    check_float("test_fraction", test_fraction, 0.0, 1.0, lo_open=True, hi_open=True)
    check_int("seed", seed, 0)
    *_, mu, sd = _digits(pos, neg, float(test_fraction), seed)
    pts = np.asarray(X, dtype=np.float64)
    if pts.ndim == 0 or pts.shape[-1] != len(mu):
        fail("X", f"shape (..., {len(mu)}) (8×8 pixels on the last axis)", X, verb="have")
    return np.asarray(pts * sd + mu)


def offsubspace_energy(data: SubspaceData) -> float:
    """``Σ‖P⊥ x‖² / Σ‖x‖²``: the share of the points' energy off their subspace (0 when they lie on it)."""
    X = data.X - data.offset
    on = X @ data.basis
    total = float((X * X).sum())
    return 0.0 if total == 0 else max(0.0, 1.0 - float((on * on).sum()) / total)


#: The share of each photograph's rows (from the top) that training patches come from; test patches
#: come from the rows below, so no test patch overlaps a training patch.
TRAIN_ROWS = 0.8


@lru_cache(maxsize=4)
def _patches(
    n: int, n_test: int, patch: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unit-norm, mean-free grey-level patches of both sample photographs: ``n`` training patches from
    the top :data:`TRAIN_ROWS` of each photograph and ``n_test`` test patches from the rest, half from
    each photograph (the first gets the odd one), shuffled, with their image labels (+1: the first
    photograph); read-only arrays. The contrast filter's level comes from the training patches."""
    from sklearn.datasets import load_sample_images
    from sklearn.feature_extraction.image import (  # type: ignore[import-untyped]
        extract_patches_2d,
    )

    images = load_sample_images().images
    wants = {"n": (n, True), "n_test": (n_test, False)}
    drawn: dict[str, list[np.ndarray]] = {"n": [], "n_test": []}
    for i, img in enumerate(images):
        grey = np.asarray(img, dtype=np.float64).mean(axis=2) / 255.0
        cut = round(TRAIN_ROWS * grey.shape[0])
        for name, (count, train) in wants.items():
            region = grey[:cut] if train else grey[cut:]
            P = extract_patches_2d(
                region, (patch, patch), max_patches=2 * count, random_state=seed + 2 * i + train
            )
            P = P.reshape(len(P), -1)
            drawn[name].append(P - P.mean(axis=1, keepdims=True))
    level = MIN_CONTRAST * np.median(np.linalg.norm(np.concatenate(drawn["n"]), axis=1))
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for name, (count, _) in wants.items():
        Xs, ys = [], []
        for i, P in enumerate(drawn[name]):
            take = (count + 1) // 2 if i == 0 else count // 2
            norms = np.linalg.norm(P, axis=1)
            keep = np.flatnonzero(norms > level)[:take]
            if len(keep) < take:  # pragma: no cover - the regions hold far more contrasted patches
                fail(
                    name,
                    f"a count the photographs' regions can supply ({len(keep)} per photograph)",
                    count,
                )
            Xs.append(P[keep] / norms[keep, None])
            ys.append(np.full(take, 1.0 if i == 0 else -1.0))
        X, y = np.concatenate(Xs), np.concatenate(ys)
        order = rng.permutation(len(y))
        out += [np.ascontiguousarray(X[order]), y[order]]
    for a in out:
        a.flags.writeable = False
    return out[0], out[1], out[2], out[3]


@lru_cache(maxsize=4)
def _dictionary(
    n: int, n_test: int, patch: int, atoms: int, orthonormal: bool, k: int, seed: int
) -> np.ndarray:
    """The dictionary ``M (d, D)`` learned on the training patches (read-only); an orthonormal one is
    refined for codes with ``k`` non-zeros (:func:`_orthonormal_refine`)."""
    from sklearn.decomposition import (  # type: ignore[import-untyped]
        MiniBatchDictionaryLearning,
    )
    from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]

    X, *_ = _patches(n, n_test, patch, seed)
    learner = MiniBatchDictionaryLearning(
        n_components=atoms,
        alpha=0.1,
        batch_size=256,
        max_iter=10,
        fit_algorithm="cd",  # 8x faster than LARS here, the same reconstruction error
        random_state=seed,
    )
    with warnings.catch_warnings():  # the inner lasso's duality gap of ~1e-5 on some batches
        warnings.simplefilter("ignore", ConvergenceWarning)
        learner.fit(X)
    M = np.asarray(learner.components_, dtype=np.float64).T  # (d, D), unit-norm atoms
    if orthonormal:
        M = _canonical_unused(np.asarray(X), _orthonormal_refine(np.asarray(X), _polar(M), k), k)
    M = np.ascontiguousarray(M)
    M.flags.writeable = False
    return M


def _polar(A: np.ndarray) -> np.ndarray:
    """The orthonormal matrix nearest to ``A`` in Frobenius norm (orthogonal Procrustes): ``U Vᵀ``."""
    u, _, vt = np.linalg.svd(A)
    return np.asarray(u @ vt)


#: The orthonormal refinement stops when a step lowers the reconstruction error by less than this share.
REFINE_TOL = 1e-6
#: ... or after this many steps.
REFINE_STEPS = 500


def _canonical_unused(X: np.ndarray, M: np.ndarray, k: int) -> np.ndarray:
    """``M`` with every atom that no training code uses given a fixed sign (its largest-magnitude
    entry, the first on ties, positive). Such atoms span directions the mean-free patches do not reach
    (the constant patch, at least), where the polar factor's sign follows the rounding of the SVD — it
    differed between thread counts; codes, labels and every measurement are unchanged by it."""
    unused = ~(_omp(X, M, k, orthonormal=True) != 0).any(axis=0)
    cols = M[:, unused]
    lead = cols[np.abs(cols).argmax(axis=0), np.arange(cols.shape[1])]
    out = M.copy()
    out[:, unused] = cols * np.where(lead < 0, -1.0, 1.0)
    return out


def _orthonormal_refine(X: np.ndarray, M: np.ndarray, k: int) -> np.ndarray:
    """Orthonormal dictionary learning for ``k``-sparse codes from ``M``: alternately the exact codes
    ``Z`` (the ``k`` largest ``|Mᵀx|``) and ``M = polar(Xᵀ Z)``, the orthonormal minimiser of
    ``‖X − Z Mᵀ‖_F`` given ``Z``; neither step raises that error. The loop ends when a step lowers it
    by less than :data:`REFINE_TOL` of itself, or after :data:`REFINE_STEPS` steps."""
    err = np.inf
    for _ in range(REFINE_STEPS):
        Z = _omp(X, M, k, orthonormal=True)
        new = float(((X - Z @ M.T) ** 2).sum())
        if np.isfinite(err) and err - new <= REFINE_TOL * err:
            break
        err = new
        M = _polar(X.T @ Z)
    return M


def _omp(X: np.ndarray, M: np.ndarray, k: int, orthonormal: bool) -> np.ndarray:
    """Codes ``Z (n, D)`` with exactly ``k`` non-zeros: the ``k`` largest ``|Mᵀx|`` for an orthonormal
    ``M`` (exact), orthogonal matching pursuit otherwise."""
    if orthonormal:
        C: np.ndarray = X @ M
        top = np.argpartition(-np.abs(C), k - 1, axis=1)[:, :k]
        out = np.zeros_like(C)
        rows = np.arange(len(C))[:, None]
        out[rows, top] = C[rows, top]
        return out
    from sklearn.linear_model import orthogonal_mp  # type: ignore[import-untyped]

    return np.ascontiguousarray(
        np.asarray(orthogonal_mp(M, X.T, n_nonzero_coefs=k)).T, dtype=np.float64
    )


def image_patches(
    k: int = 4,
    *,
    dictionary: str = "orthonormal",
    atoms: int | None = None,
    labels: str = "image",
    n: int = 4000,
    n_test: int = 1000,
    patch: int = 8,
    seed: int = 0,
    learn_k: int | None = None,
) -> tuple[SparseCodingData, SparseCodingData]:
    """Grey-level patches of scikit-learn's two sample photographs on a dictionary learned from them:
    ``(train, test)`` as :class:`~sims.sparse.SparseCodingData` whose ``dictionary`` is the learned
    ``M`` and whose ``Z`` are the ``k``-sparse codes (see the module docstring).

    Args:
        k: non-zeros per code (1 <= k <= D).
        dictionary: ``"orthonormal"`` (``D = d``) or ``"overcomplete"``.
        atoms: ``D`` for the overcomplete dictionary (default ``2d``).
        labels: ``"image"`` (which photograph) or ``"teacher"`` (``sign⟨w*, z⟩``, ``w*`` ±1 from ``seed``).
        n: training patches; n_test: test patches (half from each photograph, the first gets an odd one).
        patch: the patch side (``d = patch²``).
        seed: the seed of the patches, the dictionary learning and the teacher.
        learn_k: the sparsity the orthonormal dictionary is learned for (default ``k``; ignored by
            the overcomplete one): dense codes on the dictionary learned for sparse ones are
            ``k = d, learn_k = 4`` (at ``k = d`` every orthonormal basis codes exactly, so learning
            for ``k = d`` would leave the Procrustes start).
    """
    _need_sklearn()
    check_choice("dictionary", dictionary, PATCH_DICTIONARIES)
    check_choice("labels", labels, PATCH_LABELS)
    patch = check_int("patch", patch, 2, 32)
    d = patch * patch
    orthonormal = dictionary == "orthonormal"
    if orthonormal:
        if atoms is not None and atoms != d:
            fail("atoms", f"None or d = {d} for the orthonormal dictionary", atoms)
        D = d
    else:
        D = 2 * d if atoms is None else check_int("atoms", atoms, d + 1, 16 * d)
    k = check_int("k", k, 1, D)
    n = check_int("n", n, 2, 50_000)
    n_test = check_int("n_test", n_test, 1, 50_000)
    seed = check_int("seed", seed, 0)
    learn = k if learn_k is None else check_int("learn_k", learn_k, 1, D)
    Xtr, ytr_img, Xte, yte_img = _patches(n, n_test, patch, seed)
    M = _dictionary(n, n_test, patch, D, orthonormal, learn if orthonormal else 0, seed)
    Ztr, Zte = _omp(np.asarray(Xtr), M, k, orthonormal), _omp(np.asarray(Xte), M, k, orthonormal)
    if labels == "teacher":
        w_star = np.random.default_rng(seed + 7_919).choice([-1.0, 1.0], size=D)
        ytr, yte = (np.where(Z @ w_star >= 0, 1.0, -1.0) for Z in (Ztr, Zte))  # a tie (rare) to +1
    else:
        ytr, yte = np.array(ytr_img), np.array(yte_img)
        w_star, *_ = np.linalg.lstsq(Ztr, ytr, rcond=None)
    resid = Xtr - Ztr @ M.T
    noise = float(np.sqrt(np.mean((resid**2).sum(axis=1))))
    law = SparseCodingLaw(
        d=d,
        k=k,
        D=D,
        dictionary=dictionary,
        magnitude="gaussian",
        noise=noise,
        teacher="signs" if labels == "teacher" else "gaussian",
    )
    source = f"sample-image patches ({dictionary} dictionary, {labels} labels)"

    def split(X: np.ndarray, y: np.ndarray, Z: np.ndarray) -> SparseCodingData:
        return SparseCodingData(
            X=np.array(X),
            y=y,
            dictionary=np.array(M),
            Z=Z,
            w_star=np.array(w_star),
            law=law,
            seed=seed,
            source=source,
        )

    return split(Xtr, ytr, Ztr), split(Xte, yte, Zte)
