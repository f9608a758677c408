"""Real-data loaders (:mod:`sims.real_data`): offline, deterministic, with the ground truth they claim."""

from __future__ import annotations

import socket
from typing import Any

import numpy as np
import pytest

import sims.real_data as rd
from sims.errors import AdvsimError
from sims.real_data import digits_subspace, image_patches, offsubspace_energy

SMALL: dict[str, Any] = {"n": 400, "n_test": 200}


def _clear() -> None:
    rd._digits.cache_clear()
    rd._patches.cache_clear()
    rd._dictionary.cache_clear()


def test_loading_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every loader works with sockets refused (the data ship inside scikit-learn's wheel)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a loader opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    _clear()
    try:
        digits_subspace(5)
        image_patches(3, **SMALL)
        image_patches(3, dictionary="overcomplete", **SMALL)
    finally:
        _clear()


def test_projected_digits_lie_on_their_pca_subspace_and_raw_ones_near_it() -> None:
    tr, te = digits_subspace(8)
    assert tr.n + te.n == 1797  # every digit, split 3:1
    raw_tr, raw_te = digits_subspace(8, projected=False)
    U = tr.basis
    assert tr.d == 64 and tr.k == 8 and np.allclose(U.T @ U, np.eye(8))
    assert np.array_equal(U, raw_tr.basis)
    for on, raw in ((tr, raw_tr), (te, raw_te)):
        assert offsubspace_energy(on) < 1e-12  # exactly on the subspace
        assert offsubspace_energy(raw) > 0.1  # real digits: only near it
        assert np.allclose(on.X, raw.X @ U @ U.T)
        assert set(np.unique(on.y)) == {-1.0, 1.0}
    # standardised with the training split: mean 0 per pixel, the basis its top principal directions
    assert np.allclose(raw_tr.X.mean(axis=0), 0.0, atol=1e-12)
    var = ((raw_tr.X @ np.linalg.svd(raw_tr.X, full_matrices=False)[2].T) ** 2).sum(axis=0)
    assert np.allclose(((raw_tr.X @ U) ** 2).sum(axis=0), var[:8])
    assert abs(te.n / (tr.n + te.n) - 0.25) < 0.01
    again, _ = digits_subspace(8)
    assert np.array_equal(again.X, tr.X) and np.array_equal(again.y, tr.y)
    other, _ = digits_subspace(8, seed=1)
    assert not np.array_equal(other.y, tr.y)  # the split follows the seed


def test_digit_groups_choose_the_points_and_their_labels() -> None:
    tr, te = digits_subspace(4, classes=((3,), (8,)))
    assert 300 < tr.n + te.n < 400  # about 180 of each digit
    assert 0.4 < float(np.mean(np.concatenate([tr.y, te.y]) > 0)) < 0.6


@pytest.mark.parametrize("dictionary", ["orthonormal", "overcomplete"])
def test_patches_are_unit_norm_mean_free_with_k_sparse_codes_on_the_learned_dictionary(
    dictionary: str,
) -> None:
    tr, te = image_patches(3, dictionary=dictionary, **SMALL)
    M = tr.dictionary
    assert tr.X.shape == (400, 64) and te.X.shape == (200, 64)
    assert np.allclose(np.linalg.norm(tr.X, axis=1), 1.0) and np.allclose(tr.X.mean(axis=1), 0.0)
    assert np.allclose(np.linalg.norm(M, axis=0), 1.0)
    if dictionary == "orthonormal":
        assert M.shape == (64, 64) and np.allclose(M.T @ M, np.eye(64))
        C = te.X @ M  # exact k-sparse approximation in an orthonormal basis: the k largest |Mᵀx|
        kth = -np.sort(-np.abs(C), axis=1)[:, 2]
        assert np.allclose(te.Z[np.abs(te.Z) > 0], C[np.abs(C) >= kth[:, None]])
    else:
        assert M.shape == (64, 128)
    assert ((np.abs(tr.Z) > 0).sum(axis=1) == 3).all()
    resid = np.sqrt(((tr.X - tr.Z @ M.T) ** 2).sum(axis=1).mean())
    assert tr.law.noise == pytest.approx(resid) and 0 < resid < 1
    assert float(np.mean(tr.y > 0)) == float(np.mean(te.y > 0)) == 0.5  # half per photograph
    # test patches come from other rows of the photographs than training patches: none repeats
    seen = {row.tobytes() for row in tr.X}
    assert not any(row.tobytes() in seen for row in te.X)
    with pytest.raises(AdvsimError, match="^source must be"):
        tr.sample(10, seed=0)


def test_the_orthonormal_dictionary_is_learned_not_a_random_basis() -> None:
    """The refinement within the orthonormal matrices lowers the reconstruction error from its
    Procrustes start, and the learned basis captures far more of the patches' energy with k atoms than
    a random orthonormal basis (the Procrustes step alone did not: 38% against 31% at k = 4)."""
    from sims import real_data as rd

    k = 4
    tr, te = image_patches(k, **SMALL)
    X = np.asarray(tr.X)

    def captured(M: np.ndarray, pts: np.ndarray) -> float:
        Z = rd._omp(pts, M, k, orthonormal=True)
        return 1.0 - float(((pts - Z @ M.T) ** 2).sum() / (pts**2).sum())

    rng = np.random.default_rng(0)
    start = rd._polar(rng.standard_normal((64, 64)))
    refined = rd._orthonormal_refine(X, start, k)
    assert np.allclose(refined.T @ refined, np.eye(64))
    assert captured(refined, X) > captured(start, X) + 0.2
    random = rd._polar(rng.standard_normal((64, 64)))
    assert captured(tr.dictionary, np.asarray(te.X)) > captured(random, np.asarray(te.X)) + 0.2
    # atoms no training code uses (the constant patch direction) have a fixed sign, whatever the SVD
    M = tr.dictionary
    unused = ~(rd._omp(X, M, k, orthonormal=True) != 0).any(axis=0)
    assert unused.any()
    cols = M[:, unused]
    assert (cols[np.abs(cols).argmax(axis=0), np.arange(cols.shape[1])] > 0).all()
    flipped = M.copy()
    flipped[:, unused] *= -1
    np.testing.assert_array_equal(rd._canonical_unused(X, flipped, k), M)


def test_patch_counts_may_be_odd_and_digits_k_is_bounded_by_the_training_points() -> None:
    tr, te = image_patches(2, n=401, n_test=201)
    assert (tr.n, te.n) == (401, 201) and int((tr.y > 0).sum()) == 201
    with pytest.raises(AdvsimError, match="^k must be at most"):
        digits_subspace(40, classes=((3,), (8,)), test_fraction=0.9)


def test_teacher_labels_follow_the_teacher_on_the_codes_and_loading_is_deterministic() -> None:
    tr, te = image_patches(3, labels="teacher", **SMALL)
    for part in (tr, te):
        assert np.array_equal(part.y, np.where(part.Z @ part.w_star >= 0, 1.0, -1.0))
    assert set(np.unique(tr.w_star)) == {-1.0, 1.0}
    again, _ = image_patches(3, labels="teacher", **SMALL)
    assert np.array_equal(again.X, tr.X) and np.array_equal(again.dictionary, tr.dictionary)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: digits_subspace(0), "k"),
        (lambda: digits_subspace(64), "k"),
        (lambda: digits_subspace(4, classes=((1, 2), (2, 3))), "classes"),
        (lambda: digits_subspace(4, classes=((1,), (12,))), "classes"),
        (lambda: digits_subspace(4, classes=((1,),)), "classes"),
        (lambda: digits_subspace(4, test_fraction=1.0), "test_fraction"),
        (lambda: digits_subspace(4, projected="yes"), "projected"),  # type: ignore[arg-type]
        (lambda: image_patches(0, **SMALL), "k"),
        (lambda: image_patches(3, dictionary="random", **SMALL), "dictionary"),
        (lambda: image_patches(3, atoms=100, **SMALL), "atoms"),
        (lambda: image_patches(3, dictionary="overcomplete", atoms=64, **SMALL), "atoms"),
        (lambda: image_patches(3, labels="sky", **SMALL), "labels"),
        (lambda: image_patches(3, n=60_000), "n"),
        (lambda: image_patches(3, patch=1, **SMALL), "patch"),
    ],
)
def test_bad_input_names_the_parameter(call: object, name: str) -> None:
    with pytest.raises(AdvsimError, match=rf"^{name}"):
        call()  # type: ignore[operator]


def test_real_data_setups_refuse_the_generators_fields() -> None:
    """A generator's knob given with real data is refused, naming the field, not silently ignored."""
    from sims.purification_runs import PurificationSetup
    from sims.subspace_runs import SubspaceSetup

    with pytest.raises(
        AdvsimError, match=r"^labels must be its default 'linear' with source='digits'"
    ):
        SubspaceSetup(source="digits", d=64, k=10, m=16, labels="teacher")
    with pytest.raises(
        AdvsimError, match=r"^noise must be its default 0.0 with source='patches_teacher'"
    ):
        PurificationSetup(source="patches_teacher", dictionary="orthonormal", noise=0.1)
