"""The sparse-coding generator's laws (support size, norms, labels, dictionaries, balance)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims.errors import AdvsimError
from sims.sparse import SparseCodingLaw, make_sparse_data


@st.composite
def laws(draw: st.DrawFn) -> SparseCodingLaw:
    d = draw(st.integers(2, 24))
    dictionary = draw(st.sampled_from(["identity", "orthonormal", "overcomplete"]))
    D = d + draw(st.integers(1, 8)) if dictionary == "overcomplete" else d
    return SparseCodingLaw(
        d=d,
        k=draw(st.integers(1, D)),
        D=D,
        dictionary=dictionary,
        support=draw(st.sampled_from(["exact", "bernoulli"])),
        magnitude=draw(st.sampled_from(["sign", "gaussian"])),
        noise=draw(st.sampled_from([0.0, 0.1])),
        teacher=draw(st.sampled_from(["signs", "gaussian"])),
    )


@given(law=laws(), seed=st.integers(0, 2**16))
def test_generator_laws(law: SparseCodingLaw, seed: int) -> None:
    data = make_sparse_data(law, 50, seed)
    Md, Z, k = data.dictionary, data.Z, law.k
    assert Md.shape == (law.d, law.atoms) and Z.shape == (50, law.atoms)
    # dictionary: orthonormal columns, or unit-norm columns when overcomplete
    if law.dictionary == "overcomplete":
        np.testing.assert_allclose(np.linalg.norm(Md, axis=0), 1.0, atol=1e-12)
    else:
        np.testing.assert_allclose(Md.T @ Md, np.eye(law.d), atol=1e-12)
    support = (Z != 0).sum(axis=1)
    if law.support == "exact":
        assert np.all(support == k)
    if law.magnitude == "sign":
        np.testing.assert_allclose(np.abs(Z[Z != 0]), 1 / np.sqrt(k))
        if law.support == "exact":
            np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0)
    # labels: sign of the score, never a tie
    score = Z @ data.w_star
    assert np.all(np.abs(score) > 1e-12)
    np.testing.assert_array_equal(data.y, np.sign(score))
    if law.teacher == "signs":
        assert set(np.unique(data.w_star)) <= {-1.0, 1.0}
    # points: x = M z (+ noise)
    resid = data.X - Z @ Md.T
    if law.noise == 0:
        np.testing.assert_allclose(resid, 0, atol=1e-12)
    else:
        assert np.all(np.abs(resid) > 0)
    assert 0.0 <= data.class_balance <= 1.0


def test_same_seed_same_data_and_test_split_shares_the_truth() -> None:
    law = SparseCodingLaw(d=16, k=3, dictionary="orthonormal", noise=0.05)
    a, b = make_sparse_data(law, 40, 7), make_sparse_data(law, 40, 7)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    test = a.sample(30, 8)
    np.testing.assert_array_equal(test.dictionary, a.dictionary)
    np.testing.assert_array_equal(test.w_star, a.w_star)
    assert not np.array_equal(test.X[:30], a.X[:30])
    c = make_sparse_data(law, 40, 8)
    assert not np.array_equal(c.dictionary, a.dictionary)


def test_balance_bernoulli_rate_and_noise_size() -> None:
    law = SparseCodingLaw(d=40, k=5, support="bernoulli", magnitude="gaussian", noise=0.3)
    data = make_sparse_data(law, 20_000, 0)
    # symmetric code law: balanced classes (binomial sd 0.0035)
    assert abs(data.class_balance - 0.5) < 0.02
    # Bernoulli(k/D) support, conditioned on a non-zero score (drops only empty supports, rate 0.88^40)
    assert abs((data.Z != 0).sum(axis=1).mean() - 5) < 0.1
    noise = data.X - data.Z @ data.dictionary.T
    assert abs(np.mean(np.sum(noise**2, axis=1)) - 0.09) < 0.005
    np.testing.assert_allclose(np.linalg.norm(data.signal_direction), 1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"d": 8, "k": 9}, "k must be"),
        ({"d": 8, "k": 0}, "k must be"),
        ({"d": 8, "k": 2, "D": 10}, "D must equal d"),
        ({"d": 8, "k": 2, "D": 8, "dictionary": "overcomplete"}, "D must be > d"),
        ({"d": 8, "k": 2, "support": "poisson"}, "support must be"),
        ({"d": 8, "k": 2, "noise": -1.0}, "noise must be"),
        ({"d": 8, "k": 2, "dictionary": "dct"}, "dictionary must be"),
    ],
)
def test_bad_laws_name_the_parameter(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(AdvsimError, match=match):
        SparseCodingLaw(**kwargs)  # type: ignore[arg-type]
