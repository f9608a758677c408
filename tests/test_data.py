"""Subspace data generators: structure, laws, reproducibility and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims.data import (
    LABEL_RULES,
    SubspaceData,
    checkerboard,
    diagonal_line,
    make_subspace_data,
    random_basis,
)
from sims.errors import AdvsimError


@given(
    d=st.integers(2, 30),
    data=st.data(),
    n=st.integers(1, 50),
    seed=st.integers(0, 2**16),
    labels=st.sampled_from(LABEL_RULES),
    points=st.sampled_from(["gaussian", "sphere"]),
)
def test_points_lie_on_the_subspace(
    d: int, data: st.DataObject, n: int, seed: int, labels: str, points: str
) -> None:
    k = data.draw(st.integers(1, d - 1))
    ds = make_subspace_data(n, d, k, seed=seed, labels=labels, points=points)  # type: ignore[arg-type]
    assert ds.X.shape == (n, d) and ds.y.shape == (n,) and ds.basis.shape == (d, k)
    np.testing.assert_allclose(ds.basis.T @ ds.basis, np.eye(k), atol=1e-12)
    off = ds.X - ds.X @ ds.basis @ ds.basis.T
    assert np.abs(off).max() < 1e-12
    assert set(np.unique(ds.y)) <= {-1.0, 1.0}
    if points == "sphere":
        np.testing.assert_allclose(np.linalg.norm(ds.X, axis=1), 1.0, rtol=1e-12)


def test_same_seed_same_data_and_different_seed_differs() -> None:
    a = make_subspace_data(30, 10, 3, seed=5)
    b = make_subspace_data(30, 10, 3, seed=5)
    c = make_subspace_data(30, 10, 3, seed=6)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.allclose(a.X, c.X)


def test_affine_offset_is_orthogonal_and_constant() -> None:
    ds = make_subspace_data(20, 8, 2, seed=1, offset=2.0)
    assert ds.is_affine
    np.testing.assert_allclose(np.linalg.norm(ds.offset), 2.0)
    np.testing.assert_allclose(ds.basis.T @ ds.offset, 0.0, atol=1e-12)
    off = ds.X - ds.X @ ds.basis @ ds.basis.T
    np.testing.assert_allclose(off, np.broadcast_to(ds.offset, off.shape), atol=1e-12)


def test_axis_aligned_basis() -> None:
    U = random_basis(6, 2, np.random.default_rng(0), axis_aligned=True)
    np.testing.assert_array_equal(U, np.eye(6)[:, :2])


def test_interval_labels_alternate_along_the_line() -> None:
    ds = make_subspace_data(200, 5, 1, seed=3, labels="intervals", n_intervals=4)
    t = ds.X @ ds.basis[:, 0]
    order = np.argsort(t)
    changes = np.count_nonzero(np.diff(ds.y[order]))
    assert changes == 3


def test_linear_labels_are_separable_by_their_teacher() -> None:
    ds = make_subspace_data(100, 10, 3, seed=2, labels="linear")
    # a least-squares linear separator on the coordinates classifies all points
    c = ds.X @ ds.basis
    w, *_ = np.linalg.lstsq(c, ds.y, rcond=None)
    svm_like = np.sign(c @ w)
    assert np.mean(svm_like == ds.y) > 0.85
    assert 0 < np.mean(ds.y > 0) < 1


def test_diagonal_line_matches_the_authors_dataset() -> None:
    ds = diagonal_line()
    assert ds.X.shape == (7, 2)
    np.testing.assert_allclose(ds.X[:, 0], ds.X[:, 1])
    np.testing.assert_allclose(ds.X[:, 0], np.linspace(-1, 1, 7))
    np.testing.assert_array_equal(ds.y, [1, -1, 1, -1, 1, -1, 1])
    assert not ds.is_affine and ds.codim == 1


def test_checkerboard_is_affine_at_height_half() -> None:
    ds = checkerboard()
    assert ds.X.shape == (25, 3) and ds.is_affine
    np.testing.assert_allclose(ds.X[:, 2], 0.5)
    assert ds.y.sum() == 1  # 13 vs 12 squares
    assert ds.k == 2


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"n": 10, "d": 5, "k": 5}, "k_P"),
        ({"n": 10, "d": 5, "k": 0}, "k_P"),
        ({"n": 0, "d": 5, "k": 2}, "n"),
        ({"n": 10, "d": 1, "k": 1}, "d"),
        ({"n": 10, "d": 5, "k": 2, "labels": "zigzag"}, "labels"),
        ({"n": 10, "d": 5, "k": 2, "points": "cube"}, "points"),
        ({"n": 10, "d": 5, "k": 2, "radius": -1.0}, "radius"),
        ({"n": 10, "d": 5, "k": 2, "offset": float("nan")}, "offset"),
        ({"n": 10, "d": 5, "k": 2, "n_intervals": 1}, "n_intervals"),
    ],
)
def test_bad_input_names_the_parameter(kwargs: dict[str, object], param: str) -> None:
    args = (kwargs.pop("n"), kwargs.pop("d"), kwargs.pop("k"))
    with pytest.raises(AdvsimError, match=rf"^{param} must"):
        make_subspace_data(*args, seed=0, **kwargs)  # type: ignore[arg-type]


def test_dataset_rejects_non_finite_points_and_bad_labels() -> None:
    U = np.eye(3)[:, :1]
    with pytest.raises(AdvsimError, match="X must be finite"):
        SubspaceData(X=np.array([[np.nan, 0, 0]]), y=np.array([1.0]), basis=U)
    with pytest.raises(AdvsimError, match="y must hold labels"):
        SubspaceData(X=np.zeros((1, 3)), y=np.array([0.0]), basis=U)
    with pytest.raises(AdvsimError, match="orthonormal"):
        SubspaceData(X=np.zeros((1, 3)), y=np.array([1.0]), basis=2 * U)
