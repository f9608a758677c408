"""The intervals behind every verdict (paper_checks.stats): coverage, pairing, slopes, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from paper_checks import stats

REPS = 1000
TRUE = 0.3


def _coverage(draw: object, estimator: object, truth: float, reps: int = REPS) -> float:
    """Share of ``reps`` synthetic data sets whose 95% interval covers ``truth``."""
    rng = np.random.default_rng(20261201)
    hits = 0
    for i in range(reps):
        iv = estimator(draw(rng), i)  # type: ignore[operator]
        hits += iv.lo <= truth <= iv.hi
    return hits / reps


def test_expanded_tail_reduces_to_the_percentile_interval_for_many_seeds() -> None:
    assert stats.expanded_tail(8) < 0.01 < 0.025
    assert stats.expanded_tail(10_000) == pytest.approx(0.025, abs=2e-4)


def test_mean_over_8_seeds_covers_in_93_to_97_percent() -> None:
    """One value per seed, 8 seeds (the quick scale's smallest comparison): 95% nominal."""
    cov = _coverage(
        lambda rng: TRUE + rng.normal(0, 1, size=8),
        lambda x, i: stats.mean(x, seed=i),
        TRUE,
    )
    assert 0.93 <= cov <= 0.97, cov


def test_crossed_mean_covers_in_93_to_97_percent() -> None:
    """8 members evaluated on the same 12 test points: a seed effect, a point effect shared by every
    member (a hard point is hard for all) and their interaction — advsim's layout."""
    cov = _coverage(
        lambda rng: (
            TRUE
            + rng.normal(0, 1, size=(8, 1))
            + rng.normal(0, 1, size=(1, 12))
            + rng.normal(0, 0.5, size=(8, 12))
        ),
        lambda x, i: stats.mean(x, seed=i),
        TRUE,
    )
    assert 0.93 <= cov <= 0.97, cov


def test_crossed_share_of_binary_outcomes_covers_in_93_to_97_percent() -> None:
    """A robust-accuracy-like share: 0/1 outcomes of 8 members on 40 shared points."""

    def draw(rng: np.random.Generator) -> np.ndarray:
        latent = rng.random((8, 1)) * 0.2 + rng.random((1, 40)) * 0.6 + rng.random((8, 40)) * 0.2
        return np.asarray(latent > 0.5)

    cov = _coverage(draw, lambda x, i: stats.proportion(x, seed=i), 0.5)
    assert 0.93 <= cov <= 0.97, cov


def test_paired_difference_covers_and_is_narrower_than_unpaired_on_correlated_data() -> None:
    """Two methods on the same seeds and points: the shared seed and point effects cancel in the
    paired interval; what is left (a per-seed and a per-point method effect, noise) is what it covers."""
    rng = np.random.default_rng(7)
    widths_paired, widths_unpaired, hits = [], [], 0
    reps = REPS
    for i in range(reps):
        seed_effect = rng.normal(0, 1.0, size=(8, 1))
        point_effect = rng.normal(0, 1.0, size=(1, 12))
        a = (
            0.1
            + seed_effect
            + point_effect
            + rng.normal(0, 0.3, size=(8, 1))
            + rng.normal(0, 0.3, size=(1, 12))
            + rng.normal(0, 0.3, size=(8, 12))
        )
        b = seed_effect + point_effect + rng.normal(0, 0.3, size=(8, 12))
        p = stats.paired_difference(a, b, seed=i)
        u = stats.unpaired_difference(a, b, seed=i)
        widths_paired.append(p.hi - p.lo)
        widths_unpaired.append(u.hi - u.lo)
        hits += p.lo <= 0.1 <= p.hi
    assert np.median(widths_paired) < 0.5 * np.median(widths_unpaired)
    assert 0.93 <= hits / reps <= 0.97, hits / reps


def test_slope_refit_over_resampled_seeds_covers_the_true_exponent() -> None:
    """Log-log slope of the per-level median, members sharing seeds across levels."""
    xs = np.array([8.0, 16.0, 32.0, 64.0])

    def draw(rng: np.random.Generator) -> np.ndarray:
        member = rng.normal(0, 0.15, size=(1, 8, 1))  # a member's own offset at every level
        noise = rng.normal(0, 0.2, size=(4, 8, 1))
        return np.asarray(np.exp(-1.0 * np.log(xs)[:, None, None] + member + noise))

    cov = _coverage(draw, lambda y, i: stats.slope(xs, y, reduce="mean", seed=i), -1.0, reps=300)
    assert 0.91 <= cov <= 0.99, cov


def test_paired_slope_difference_covers_and_is_narrower_than_unpaired() -> None:
    """``slope(y, reference=r)``: the difference of two log-log slopes whose members are paired — a
    member's offset and its value at each level are shared by both arms — covers the true difference
    (−0.5), and its interval is narrower than the two separate intervals combined as if independent."""
    xs = np.array([8.0, 16.0, 32.0, 64.0])
    u = np.log(xs)[:, None, None]

    def draw(rng: np.random.Generator) -> np.ndarray:
        shared = rng.normal(0, 0.3, size=(1, 8, 1)) + rng.normal(0, 0.2, size=(4, 8, 1))
        a = np.exp(-1.0 * u + shared + rng.normal(0, 0.05, size=(4, 8, 1)))
        b = np.exp(-0.5 * u + shared + rng.normal(0, 0.05, size=(4, 8, 1)))
        return np.stack([a, b])

    cov = _coverage(
        draw,
        lambda ab, i: stats.slope(xs, ab[0], reference=ab[1], reduce="mean", seed=i),
        -0.5,
        reps=300,
    )
    assert 0.91 <= cov <= 0.99, cov
    ab = draw(np.random.default_rng(3))
    paired = stats.slope(xs, ab[0], reference=ab[1], reduce="mean")
    one, other = stats.slope(xs, ab[0], reduce="mean"), stats.slope(xs, ab[1], reduce="mean")
    assert paired.estimate == pytest.approx(one.estimate - other.estimate)
    half = np.hypot((one.hi - one.lo) / 2, (other.hi - other.lo) / 2)
    assert (paired.hi - paired.lo) / 2 < half / 2
    same = stats.slope(xs, ab[0], reference=ab[0])
    assert (same.estimate, same.lo, same.hi) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="reference"):
        stats.slope(xs, ab[0], reference=ab[1][:, :4])


def test_same_data_same_interval_and_nan_seeds_dropped() -> None:
    x = np.random.default_rng(0).normal(size=(8, 5))
    assert stats.mean(x) == stats.mean(x.copy())
    y = np.vstack([x, np.full((1, 5), np.nan)])
    assert stats.mean(y).n_seeds == 8
    assert stats.mean(y).estimate == pytest.approx(stats.mean(x).estimate)


def test_one_seed_gives_an_unbounded_interval() -> None:
    iv = stats.mean([[0.1, 0.2, 0.3]])
    assert iv.n_seeds == 1 and iv.lo == -np.inf and iv.hi == np.inf


def test_proportion_and_ratio() -> None:
    rng = np.random.default_rng(3)
    hits = rng.random((10, 50)) < 0.7
    iv = stats.proportion(hits)
    assert iv.lo < 0.7 < iv.hi and iv.lo > 0.6 and iv.hi < 0.8
    a = 2.0 + rng.normal(0, 0.1, size=(10, 20))
    b = 1.0 + rng.normal(0, 0.1, size=(10, 20))
    r = stats.ratio_of_means(a, b)
    assert r.lo < 2.0 < r.hi


def test_paired_data_must_share_shapes() -> None:
    with pytest.raises(ValueError, match="share"):
        stats.bootstrap((np.zeros((4, 3)), np.zeros((4, 2))), lambda a, b: a.mean((1, 2)))


def test_vectorised_nanmedian_equals_numpy() -> None:
    """:func:`paper_checks.stats.nanmedian` (one sort instead of NumPy's slice-by-slice loop for axes of
    600 or more) gives the values of ``np.nanmedian``: odd and even counts, all-NaN slices, infinities,
    signed zeros (equal as numbers), an empty axis."""
    import warnings

    from paper_checks.stats import nanmedian

    rng = np.random.default_rng(3)
    for shape, axis in (
        ((40, 700), 1),
        ((6, 3, 1001), 2),
        ((30, 9), 1),
        ((601, 5), 0),
        ((3, 4, 5), 1),
    ):
        a = rng.standard_normal(shape)
        a[rng.random(shape) < 0.3] = np.nan
        a[(0,) * (a.ndim - 1)] = np.inf
        np.moveaxis(a, axis, -1)[1] = np.nan  # an all-NaN slice
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = np.nanmedian(a, axis=axis)
        got = nanmedian(a, axis)
        assert got.shape == want.shape
        assert np.array_equal(got, want, equal_nan=True), shape
    z = np.array([[0.0, -0.0, np.nan, -0.0, 0.0], [-0.0, 1.0, np.nan, 2.0, -1.0]])
    assert np.array_equal(nanmedian(z, 1), np.nanmedian(z, axis=1))
    assert (
        nanmedian(np.zeros((3, 0)), 1).shape == (3,)
        and np.isnan(nanmedian(np.zeros((3, 0)), 1)).all()
    )


@pytest.mark.parametrize("seed", range(6))
def test_weighted_median_is_the_median_of_the_expanded_sample(seed: int) -> None:
    """Counts ``w`` on values ``v`` (ties, NaNs, zero counts, odd and even totals): the weighted median
    is ``np.nanmedian(np.repeat(v, w))``, exactly; a row whose finite values all have count 0 is NaN."""
    rng = np.random.default_rng(seed)
    v = np.round(rng.normal(size=40), 1)  # ties
    v[rng.random(40) < 0.2] = np.nan
    w = rng.integers(0, 4, size=(7, 40)).astype(float)
    w[0, ~np.isnan(v)] = 0.0
    got = stats.weighted_median(v, w)
    assert np.isnan(got[0])
    for b in range(1, 7):
        sample = np.repeat(v, w[b].astype(int))
        assert got[b] == np.nanmedian(sample), b


def test_bootstrap_through_an_index_array_equals_gathering() -> None:
    """A statistic computed from resampled flat indices and :func:`stats.count_weights` gives the
    interval that gathering the data gives: the same resamples, reduced by counts."""
    rng = np.random.default_rng(3)
    a = rng.normal(size=(8, 30))
    b = a + rng.normal(0.3, 0.5, size=(8, 30))
    gathered = stats.bootstrap(
        (a, b), lambda x, y: (y - x).reshape(x.shape[0], -1).mean(axis=1), seed=5
    )
    idx = np.arange(a.size, dtype=float).reshape(a.shape)

    def by_counts(i: np.ndarray) -> np.ndarray:
        w = stats.count_weights(i, a.size)
        return np.asarray(w @ (b - a).ravel() / w.sum(axis=1))

    counted = stats.bootstrap((idx,), by_counts, seed=5)
    assert counted.estimate == pytest.approx(gathered.estimate, abs=1e-12)
    assert counted.lo == pytest.approx(gathered.lo, abs=1e-12)
    assert counted.hi == pytest.approx(gathered.hi, abs=1e-12)


def test_simultaneous_bands_cover_jointly_and_are_wider_than_one_interval() -> None:
    """Six crossed means (8 seeds × 40 shared points, seed and point effects) of true value 1: the
    simultaneous 95% bands cover all six together in 90–99% of 300 repetitions (each marginal interval
    alone would cover all six far less often), and each band is wider than that value's own 95%
    interval."""
    K, S, n = 6, 8, 40
    rng = np.random.default_rng(11)

    def means(*arrays: np.ndarray) -> np.ndarray:
        return np.stack([a.mean(axis=(1, 2)) for a in arrays], axis=1)

    joint = 0
    for rep in range(300):
        x = (
            1.0
            + rng.normal(0, 0.3, (S, 1, K))
            + rng.normal(0, 0.5, (1, n, K))
            + rng.normal(0, 1.0, (S, n, K))
        )
        data = tuple(x[:, :, k] for k in range(K))
        bands = stats.simultaneous(data, means, resamples=1000, seed=rep)
        joint += all(b.lo <= 1.0 <= b.hi for b in bands)
        if rep == 0:
            for k, b in enumerate(bands):
                assert b.estimate == pytest.approx(x[:, :, k].mean())
                one = stats.mean(x[:, :, k], seed=rep)
                assert b.hi - b.lo > one.hi - one.lo
    assert 0.90 <= joint / 300 <= 0.99, joint / 300
