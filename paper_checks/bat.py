"""Claims of bridged adversarial training — Kim, Lee, Lee & Lee 2021 (shared/PAPERS.md §4).

The paper's premise is that models of *similar* robustness differ in margin and smoothness, so the
comparisons are made at matched robustness. Simulation 14 traces a curve per method — PGD-AT over its
training radius, TRADES and BAT over β, and the control, TRADES with another inner-attack seed at β
between TRADES' own — and every point of every curve is a run of the same members on the same test
points. A comparison of two curves (:func:`matched_difference`) reads each curve as a value against its
robust accuracy at the training radius, interpolates both linearly at common robust accuracies — five
levels spread over the central 80% of the range both curves' observed points share — and averages the
difference over those levels. Its interval resamples members and points together for every run at once
(one index array through :func:`paper_checks.stats.bootstrap`: a paired design), with the levels held
where the observed curves put them. The values:

* ``margin``: the median over members and points of the ℓ2 distance to the decision boundary
  (minimum-norm attack), a misclassified point counting 0 — the median over correctly classified points
  alone would rise whenever a method misclassifies more of its low-margin points;
* ``smoothness``: the mean ``KL(p(x) ‖ p(x'))`` at the PGD point of radius ε;
* ``robust_large``: the robust accuracy at the largest evaluated radius;
* ``spread``: the standard deviation over seeds of the per-seed robust accuracy at the training radius
  (stability; a spread depends on its level, so it too is compared at matched robustness).

A comparison is inconclusive, with its numbers, when it is not matched: an observed compared curve
reaches one of the matched levels more than once along its knob (it turns back across it: a matched
value would be ambiguous; turning outside the levels does not matter); a compared curve has no observed
point within the matched levels (there it is a straight line between distant points); or in more than
:data:`CLAMP_MAX` of the resamples a compared curve does not reach every level exactly once (it no
longer spans them — interpolation would hold its end value — or turns back across one). Such a
comparison is marked unreliable (:attr:`paper_checks.claims.Comparison.unreliable`): as a control it shows nothing.

Negative controls put the TRADES curve with another inner-attack seed, at other β, in the candidate's
place, read at the *main comparison's* levels: a difference that is not there, so its interval must
contain 0 (``expect="null"``: a noise floor that excludes 0 on either side shows a bias of the
comparison). A control is valid when that curve's clean accuracy is within the usual drop of the main
runs'.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from paper_checks import stats
from paper_checks.claims import (
    INF,
    Claim,
    Comparison,
    Control,
    accuracies,
    all_of,
    judge,
    missing,
)
from sims.records import RunRecord

__all__ = [
    "CLAIMS",
    "interpolate_curves",
    "matched_difference",
    "matched_levels",
    "weighted_seed_spread",
]

PAPER = "Kim, Lee, Lee & Lee 2021"
SIM14 = "14_margin_smoothness"
#: The robust-accuracy levels of a matched comparison, as fractions of the range the curves share.
LEVELS = (0.1, 0.3, 0.5, 0.7, 0.9)
#: The largest share of resamples that may be unmatched (a level outside a resampled curve, or a
#: resampled curve that turns back): :func:`matched_difference`.
CLAMP_MAX = 0.1
#: Resamples (and their generator's seed) of that diagnostic.
DIAG_RESAMPLES = 1000
DIAG_SEED = 1
#: What the families are called in the report.
NAMES = {"pgd": "PGD-AT", "trades": "TRADES", "bat": "BAT", "trades-seed1": "TRADES (seed 1)"}
VALUES = {
    "margin": "median margin",
    "smoothness": "mean KL",
    "robust_large": "robust accuracy at the largest radius",
    "spread": "spread over seeds of robust accuracy",
}


def _name(family: str) -> str:
    return NAMES.get(family, family)


def _families(*names: str) -> Callable[[RunRecord], bool]:
    return lambda r: r.config.get("family") in names


def _knob(r: RunRecord) -> float:
    """The point of a curve: PGD-AT's training radius (fraction of the cap), or β."""
    return float(r.config["frac"] if r.config["family"] == "pgd" else r.config["beta"])


def _curve(runs: Sequence[RunRecord], family: str) -> list[RunRecord]:
    return sorted((r for r in runs if r.config.get("family") == family), key=_knob)


def _train_index(r: RunRecord) -> int:
    """The evaluation radius the curves are matched at: the training radius of TRADES and BAT."""
    grid = np.asarray(r.arrays()["eps_grid"], dtype=float)
    return int(np.argmin(np.abs(grid - float(r.metrics["eps"]))))


def _rows(curve: Sequence[RunRecord], value: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per run of a curve: robust points at the training radius ``(M, n)`` and the value's per-point
    array ``(M, n)`` (see the module docstring; ``spread`` reads the robust points)."""
    rob, val = [], []
    for r in curve:
        a = r.arrays()
        pts = np.asarray(a["robust_points"], dtype=float)
        rob.append(pts[:, _train_index(r)])
        if value == "robust_large":
            val.append(pts[:, -1])
        elif value == "spread":
            val.append(pts[:, _train_index(r)])
        elif value == "margin":  # a misclassified point is on the wrong side: margin 0
            val.append(np.nan_to_num(np.asarray(a["margin"], dtype=float), nan=0.0))
        else:
            val.append(np.asarray(a[value], dtype=float))
    return rob, val


def weighted_seed_spread(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The standard deviation over seeds (``ddof = 1``) of the per-seed mean of ``values (S, n)``, in
    each resample given by counts ``weights (B, S·n)`` of a two-stage bootstrap (every chosen seed with
    the same point counts): a seed drawn ``c`` times counts ``c`` times, as in the expanded resample."""
    S, n = values.shape
    w = np.asarray(weights, dtype=float).reshape(-1, S, n)
    per_seed = w.sum(axis=2)  # (B, S): seed count × point total
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(per_seed > 0, (w * values[None]).sum(axis=2) / per_seed, 0.0)
        count = S * per_seed / per_seed.sum(axis=1, keepdims=True)
        centre = (count * means).sum(axis=1, keepdims=True) / S
        var = (count * (means - centre) ** 2).sum(axis=1) / (S - 1)
    return np.asarray(np.sqrt(var))


def _reduce(value: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``(values (S, n), counts (B, S·n)) -> (B,)`` for each resample: the pooled median
    (:func:`paper_checks.stats.weighted_median`) for the margin, the spread over seeds
    (:func:`weighted_seed_spread`), or the pooled mean."""
    if value == "margin":
        return lambda a, w: stats.weighted_median(a.ravel(), w)
    if value == "spread":
        return weighted_seed_spread
    return lambda a, w: np.asarray((w @ a.ravel()) / w.sum(axis=1))


def level_crossings(x: np.ndarray, levels: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """How many times each curve's path, its points ``x (B, J)`` in knob order joined by straight
    segments, reaches each level: the sign changes of ``x − L`` along the path, a point within ``tol``
    of ``L`` counting as on it — a touch counts once, and a segment lying on the level counts once more
    (its points are all at ``L``: the value there is ambiguous) — ``(B, T)``. A matched value at ``L`` is
    unique exactly where this is 1."""
    x = np.atleast_2d(x)
    diff = x[:, :, None] - np.asarray(levels)[None, None, :]  # (B, J, T)
    s = np.where(np.abs(diff) <= tol, 0.0, np.sign(diff))
    out = np.zeros((x.shape[0], len(levels)), dtype=int) + (s[:, 0] == 0)
    for j in range(1, x.shape[1]):
        prev, cur = s[:, j - 1], s[:, j]
        # arrives on the level, crosses it, or stays on it (a flat stretch: ambiguous)
        out += ((cur == 0) & (prev != 0)) | (cur * prev < 0) | ((cur == 0) & (prev == 0))
    return np.asarray(out)


def interpolate_curves(x: np.ndarray, v: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Each curve's value at ``levels``: ``x, v (B, J)`` are ``B`` curves of ``J`` points (robust
    accuracy, value) in knob order, read along their path — straight segments between consecutive knob
    settings — at the first segment that reaches each level, and held at the value of the least (most)
    robust point below (above) the range of ``x``; returns ``(B, T)``. Where the path reaches a level
    once (:func:`level_crossings`; the checks require it) this is *the* matched value; for a curve
    monotone in ``x`` it is :func:`numpy.interp` through the points."""
    x, v = np.atleast_2d(x).astype(float), np.atleast_2d(v).astype(float)
    L = np.asarray(levels, dtype=float)[None, None, :]
    x0, x1 = x[:, :-1, None], x[:, 1:, None]
    v0, v1 = v[:, :-1, None], v[:, 1:, None]
    hit = (np.minimum(x0, x1) <= L) & (np.maximum(x0, x1) >= L)  # (B, J-1, T)
    first = np.argmax(hit, axis=1)  # (B, T)

    def take(a: np.ndarray) -> np.ndarray:
        return np.take_along_axis(a[..., 0], first, axis=1)

    a0, a1, b0, b1 = take(x0), take(x1), take(v0), take(v1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(a1 != a0, (L[0] - a0) / (a1 - a0), 0.0)
    inside = b0 + t * (b1 - b0)
    lo = np.take_along_axis(v, np.argmin(x, axis=1)[:, None], axis=1)
    hi = np.take_along_axis(v, np.argmax(x, axis=1)[:, None], axis=1)
    held = np.where(L[0] < x.min(axis=1, keepdims=True), lo, hi)
    return np.asarray(np.where(hit.any(axis=1), inside, held))


def matched_levels(x_a: np.ndarray, x_b: np.ndarray) -> np.ndarray | None:
    """The robust accuracies two curves are compared at: :data:`LEVELS` of the range both curves'
    observed points span (``None`` where the ranges do not overlap)."""
    lo = max(float(np.min(x_a)), float(np.min(x_b)))
    hi = min(float(np.max(x_a)), float(np.max(x_b)))
    if hi < lo:
        return None
    return lo + (hi - lo) * np.asarray(LEVELS)


def _training(curve: Sequence[RunRecord]) -> str:
    """How far a curve's points still moved at the end of training: the largest change of a point's
    mean robust accuracy (at the training radius) over the last interval of its ``robust_path``, and
    how many members diverged."""
    arrays = [r.arrays() for r in curve]
    if not arrays or any("robust_path" not in a for a in arrays):
        return "robust accuracy along training not recorded"
    drift = [float(np.mean(a["robust_path"][-1] - a["robust_path"][-2])) for a in arrays]
    steps = int(np.asarray(arrays[0]["path_steps"])[-1])
    diverged = sum(int(np.sum(a["diverged"])) for a in arrays)
    worst = max(drift, key=abs)
    return (
        f"{steps} steps; last-interval change of robust accuracy up to {worst:+.3f}; "
        f"{diverged} members diverged"
    )


def matched_difference(
    runs: Sequence[RunRecord],
    cand: str,
    ref: str,
    value: str,
    *,
    label: str,
    band: tuple[float, float] = (0.0, INF),
    levels_of: tuple[str, str] | None = None,
) -> Comparison:
    """The ``cand`` curve's value minus the ``ref`` curve's at matched robust accuracy (at the training
    radius), averaged over the :func:`matched_levels` of ``levels_of`` (default: of ``cand`` and
    ``ref``), with its paired interval; judged against ``band``; the accuracies reported are the
    candidate curve's."""
    level_pair = levels_of or (cand, ref)
    families = dict.fromkeys((cand, ref, *level_pair))
    curves = {f: _curve(runs, f) for f in families}
    short = [f for f, c in curves.items() if len(c) < 2]
    if short:
        return replace(
            missing(
                "needs two points or more on the " + ", ".join(_name(f) for f in short) + " curve",
                band,
                len(runs),
            ),
            label=label,
        )
    rows = {f: _rows(c, value) for f, c in curves.items()}
    S, n = rows[cand][0][0].shape
    if any(a.shape != (S, n) for rob, val in rows.values() for a in (*rob, *val)):
        return replace(
            missing("the curves' runs do not share members and points", band, len(runs)),
            label=label,
        )
    reduce, mean = _reduce(value), _reduce("mean")
    ones = np.ones((1, S * n))
    x = {f: np.concatenate([mean(r, ones) for r in rob]) for f, (rob, _) in rows.items()}
    v = {f: np.concatenate([reduce(a, ones) for a in val]) for f, (_, val) in rows.items()}
    eps = float(curves[cand][0].metrics["eps"])

    def curve_text(f: str) -> str:
        pts = ", ".join(f"{xi:.3f}→{vi:.4f}" for xi, vi in zip(x[f], v[f], strict=True))
        return f"{_name(f)} [{pts}] ({_training(curves[f])})"

    detail = f"{VALUES[value]} against robust accuracy at ε = {eps:.3g}: " + "; ".join(
        curve_text(f) for f in families
    )
    levels = matched_levels(x[level_pair[0]], x[level_pair[1]])
    if levels is None:
        return replace(
            missing(
                f"the {_name(level_pair[0])} and {_name(level_pair[1])} curves do not overlap in "
                f"robust accuracy at ε = {eps:.3g}: [{x[level_pair[0]].min():.3f}, "
                f"{x[level_pair[0]].max():.3f}] and [{x[level_pair[1]].min():.3f}, "
                f"{x[level_pair[1]].max():.3f}]",
                band,
                len(runs),
            ),
            detail=detail,
            label=label,
        )

    crossings = {f: level_crossings(x[f], levels) for f in (cand, ref)}
    short = [f for f, c in crossings.items() if np.any(c == 0)]
    turning = [f for f, c in crossings.items() if np.any(c > 1)]
    if short or turning:
        reasons = []
        if short:
            reasons.append(
                "the "
                + ", ".join(_name(f) for f in short)
                + f" curve does not reach every matched robust accuracy ({levels[0]:.3f}–"
                f"{levels[-1]:.3f})"
            )
        if turning:
            reasons.append(
                "the "
                + ", ".join(_name(f) for f in turning)
                + " curve reaches a matched robust accuracy more than once along its knob (it turns "
                "back there)"
            )
        return replace(
            missing("; ".join(reasons) + ": a matched value is ambiguous", band, len(runs)),
            detail=detail,
            label=label,
        )

    def curve_at(w: np.ndarray, f: str) -> tuple[np.ndarray, np.ndarray]:
        rob, val = rows[f]
        xs = np.stack([mean(r, w) for r in rob], axis=1)
        return xs, np.stack([reduce(a, w) for a in val], axis=1)

    def stat(idx: np.ndarray) -> np.ndarray:
        w = stats.count_weights(idx, S * n)
        diff = interpolate_curves(*curve_at(w, cand), levels)
        diff -= interpolate_curves(*curve_at(w, ref), levels)
        return np.asarray(diff.mean(axis=1))

    # every run is resampled through one index array: the same members and points for all (paired)
    interval = stats.bootstrap(
        (np.arange(S * n, dtype=float).reshape(S, n),),
        stat,
        method="paired bootstrap of interpolated curves",
    )
    unmatched = _unmatched_share(rows, (cand, ref), levels, S, n, mean)
    detail += (
        f"; matched at robust accuracy {levels[0]:.3f}–{levels[-1]:.3f} (the overlap of "
        f"{_name(level_pair[0])} and {_name(level_pair[1])}); unmatched in {unmatched:.0%} of "
        f"{DIAG_RESAMPLES} resamples"
    )
    cmp = judge(
        interval, band, detail=detail, n_runs=len(curves[cand]) + len(curves[ref]), label=label
    )
    empty = [f for f in (cand, ref) if not np.any((x[f] >= levels[0]) & (x[f] <= levels[-1]))]
    why = ""
    if empty:
        why = (
            "no observed point of the "
            + " and the ".join(_name(f) for f in empty)
            + f" curve within the matched levels {levels[0]:.3f}–{levels[-1]:.3f}: there the "
            "comparison reads only the straight line between neighbouring points"
        )
    elif unmatched > CLAMP_MAX:
        why = (
            f"in {unmatched:.0%} of resamples a curve does not reach every level exactly once "
            f"(more than {CLAMP_MAX:.0%}): not matched"
        )
    if why:
        cmp = replace(cmp, status="inconclusive", reason=f"{cmp.reason}; but {why}", unreliable=why)
    return cmp.with_accuracy(*accuracies(curves[cand]))


def _unmatched_share(
    rows: dict[str, tuple[list[np.ndarray], list[np.ndarray]]],
    families: Sequence[str],
    levels: np.ndarray,
    S: int,
    n: int,
    mean: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> float:
    """The share of :data:`DIAG_RESAMPLES` two-stage resamples (:func:`paper_checks.stats.
    two_stage_indices`) in which some curve of ``families`` does not reach every one of ``levels``
    exactly once along its knob (:func:`level_crossings`: it no longer spans them, or turns back across
    one): resamples no longer matched."""
    idx = stats.two_stage_indices(S, n, DIAG_RESAMPLES, seed=DIAG_SEED)
    bad = np.zeros(DIAG_RESAMPLES, dtype=bool)
    step = max(1, 2_000_000 // (S * n))
    for i in range(0, DIAG_RESAMPLES, step):
        w = stats.count_weights(idx[i : i + step], S * n)
        for f in families:
            xs = np.stack([mean(r, w) for r in rows[f][0]], axis=1)  # (b, J), knob order
            bad[i : i + step] |= np.any(level_crossings(xs, levels) != 1, axis=1)
    return float(bad.mean())


# ------------------------------------------------------------------------------------------ checks
def margin_check(runs: Sequence[RunRecord]) -> Comparison:
    """BAT-margin's statement, in two matched comparisons of median margins: PGD-AT above TRADES — the
    regulariser hurts the margin (the headline) — and BAT above TRADES — bridging restores it."""
    hurt = matched_difference(
        runs, "pgd", "trades", "margin", label="PGD-AT − TRADES margin (hurt)"
    )
    restore = matched_difference(
        runs, "bat", "trades", "margin", label="BAT − TRADES margin (restore)"
    )
    return all_of([hurt, restore]).with_accuracy(*accuracies(runs))


def _check(
    cand: str, value: str, band: tuple[float, float], levels_of: tuple[str, str] | None = None
) -> Callable[[Sequence[RunRecord]], Comparison]:
    """A matched comparison of ``cand`` with TRADES as a check (controls: at ``levels_of``'s levels)."""

    def check(runs: Sequence[RunRecord]) -> Comparison:
        return matched_difference(
            runs,
            cand,
            "trades",
            value,
            band=band,
            levels_of=levels_of,
            label=f"{_name(cand)} − TRADES {VALUES[value]}",
        )

    where = f" at the levels of {_name(levels_of[0])} and TRADES" if levels_of else ""
    check.__doc__ = (
        f"{_name(cand)} minus TRADES {VALUES[value]} at matched robust accuracy{where} "
        f"(:func:`matched_difference`), band {band}."
    )
    return check


def _seed1(levels_of: str, value: str, band: tuple[float, float]) -> Control:
    """The noise floor of a comparison of ``levels_of`` with TRADES: TRADES (seed 1, other β) in its
    place, read at that comparison's levels; its interval must contain 0."""
    return Control(
        f"another TRADES seed ({_name(levels_of)}'s levels)",
        f"TRADES with another inner-attack seed, at other β, in {_name(levels_of)}'s place, at the "
        "main comparison's robust accuracies (the noise floor)",
        _families(levels_of, "trades", "trades-seed1"),
        check=_check("trades-seed1", value, band, (levels_of, "trades")),
        expect="null",
    )


_POS = (0.0, INF)
_NEG = (-INF, 0.0)

CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="BAT-margin",
        paper=PAPER,
        kind="comparison",
        statement=(
            "At matched robust accuracy, the smoothness regulariser hurts the margin (TRADES' median "
            "margin below PGD-AT's) and bridging restores it (BAT, m = 4, above TRADES)."
        ),
        source="[paper] abstract",
        sim=SIM14,
        select=_families("pgd", "trades", "bat"),
        check=margin_check,
        controls=(_seed1("pgd", "margin", _POS), _seed1("bat", "margin", _POS)),
        figure="fig14_margin_smoothness",
    ),
    Claim(
        id="BAT-smoothness",
        paper=PAPER,
        kind="comparison",
        statement=(
            "Equally robust models differ in smoothness: at matched robust accuracy, PGD-AT's mean "
            "KL(p(x) ‖ p(x')) at its PGD point exceeds TRADES'."
        ),
        source="[paper] abstract: similar robustness, very different margin and smoothness",
        sim=SIM14,
        select=_families("pgd", "trades"),
        check=_check("pgd", "smoothness", _POS),
        controls=(_seed1("pgd", "smoothness", _POS),),
        figure="fig14_margin_smoothness",
    ),
    Claim(
        id="BAT-large-eps",
        paper=PAPER,
        kind="comparison",
        statement=(
            "At matched robust accuracy at the training radius, BAT is more robust than TRADES at the "
            "largest evaluated radius: its advantage grows with ε."
        ),
        source="[paper] abstract: especially for large perturbations",
        sim=SIM14,
        select=_families("trades", "bat"),
        check=_check("bat", "robust_large", _POS),
        controls=(_seed1("bat", "robust_large", _POS),),
        figure="fig14_margin_smoothness",
    ),
    Claim(
        id="BAT-stability",
        paper=PAPER,
        kind="comparison",
        statement=(
            "BAT is more stable than TRADES: at matched robust accuracy, the spread over seeds of its "
            "robust accuracy at the training radius is smaller."
        ),
        source="[paper] abstract",
        sim=SIM14,
        select=_families("trades", "bat"),
        check=_check("bat", "spread", _NEG),
        controls=(_seed1("bat", "spread", _NEG),),
        figure="fig14_margin_smoothness",
    ),
)
