"""Claims of bridged adversarial training — Kim, Lee, Lee & Lee 2021 (shared/PAPERS.md §4).

The paper's premise is that models of *similar* robustness differ in margin and smoothness, so the
comparisons are made at matched robustness. Simulation 14 traces a curve per method — PGD-AT over its
training radius, TRADES and BAT over β, and the control, TRADES with another inner-attack seed — and every
point of every curve is a run of the same members on the same test points. A comparison of two curves
(:func:`matched_difference`) reads each curve as a value (the median margin, or the robust accuracy at a
larger radius) against its robust accuracy at the training radius, interpolates both linearly at common
robust accuracies — five levels spread over the central 80% of the range the two curves share — and
averages the difference over those levels. Its interval resamples members and points together for every
run at once (:func:`paper_checks.stats.bootstrap`: a paired design), with the levels held where the
observed curves put them.

Negative controls put, in the candidate's place, the TRADES curve with another seed of its inner
attack: the same method, whose true difference from TRADES is zero (the noise floor, ``expect =
"not_holds"``). The curves being traced to a loss plateau, a control is valid when its clean accuracy is
within the usual drop of the main runs'.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
    "spread_ratio",
]

PAPER = "Kim, Lee, Lee & Lee 2021"
SIM14 = "14_margin_smoothness"
#: The robust-accuracy levels of a matched comparison, as fractions of the range the curves share.
LEVELS = (0.1, 0.3, 0.5, 0.7, 0.9)
#: What the families are called in the report.
NAMES = {"pgd": "PGD-AT", "trades": "TRADES", "bat": "BAT", "trades-seed1": "TRADES (seed 1)"}


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
    array ``(M, n)``: ``"margin"`` (NaN where misclassified), ``"smoothness"`` (the KL at the PGD
    point) or ``"robust_large"`` (robust at the largest evaluated radius)."""
    rob, val = [], []
    for r in curve:
        a = r.arrays()
        pts = np.asarray(a["robust_points"], dtype=float)
        rob.append(pts[:, _train_index(r)])
        if value == "robust_large":
            val.append(pts[:, -1])
        else:
            val.append(np.asarray(a[value], dtype=float))
    return rob, val


def _reduce(value: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``(values (S, n), counts (B, S·n)) -> (B,)``: the pooled median margin (NaN ignored,
    :func:`paper_checks.stats.weighted_median`), or the pooled mean, of each resample."""
    if value == "margin":
        return lambda a, w: stats.weighted_median(a.ravel(), w)
    return lambda a, w: np.asarray((w @ a.ravel()) / w.sum(axis=1))


def interpolate_curves(x: np.ndarray, v: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Each curve's value at ``levels``: ``x, v (B, J)`` are ``B`` curves of ``J`` points (robust
    accuracy, value), read as a piecewise-linear function of ``x`` through the points sorted by ``x``
    and held at its end values outside their range (:func:`numpy.interp`); returns ``(B, T)``."""
    x, v = np.atleast_2d(x), np.atleast_2d(v)
    order = np.argsort(x, axis=1, kind="stable")
    xs, vs = np.take_along_axis(x, order, axis=1), np.take_along_axis(v, order, axis=1)
    return np.stack([np.interp(levels, xs[b], vs[b]) for b in range(x.shape[0])])


def matched_levels(x_a: np.ndarray, x_b: np.ndarray) -> np.ndarray | None:
    """The robust accuracies two curves are compared at: :data:`LEVELS` of the range both curves'
    observed points span (``None`` where the ranges do not overlap)."""
    lo = max(float(np.min(x_a)), float(np.min(x_b)))
    hi = min(float(np.max(x_a)), float(np.max(x_b)))
    if hi < lo:
        return None
    return lo + (hi - lo) * np.asarray(LEVELS)


def matched_difference(
    runs: Sequence[RunRecord], cand: str, ref: str, value: str, *, label: str
) -> Comparison:
    """The candidate curve's value minus the reference's at matched robust accuracy (at the training
    radius), averaged over :func:`matched_levels`, with its paired interval; band ``> 0``."""
    a, b = _curve(runs, cand), _curve(runs, ref)
    if len(a) < 2 or len(b) < 2:
        return missing(
            f"needs two points or more on the {NAMES.get(cand, cand)} and {NAMES.get(ref, ref)} curves",
            (0.0, INF),
            len(runs),
        )
    rob_a, val_a = _rows(a, value)
    rob_b, val_b = _rows(b, value)
    S, n = rob_a[0].shape
    if any(r.shape != (S, n) for r in (*rob_a, *val_a, *rob_b, *val_b)):
        return missing("the curves' runs do not share members and points", (0.0, INF), len(runs))
    reduce = _reduce(value)
    mean = _reduce("mean")
    ones = np.ones((1, S * n))
    x_a = np.concatenate([mean(r, ones) for r in rob_a])
    x_b = np.concatenate([mean(r, ones) for r in rob_b])
    v_a = np.concatenate([reduce(v, ones) for v in val_a])
    v_b = np.concatenate([reduce(v, ones) for v in val_b])
    levels = matched_levels(x_a, x_b)
    eps = float(a[0].metrics["eps"])

    def curve_text(name: str, x: np.ndarray, v: np.ndarray) -> str:
        pts = ", ".join(f"{xi:.3f}→{vi:.4f}" for xi, vi in zip(x, v, strict=True))
        return f"{NAMES.get(name, name)} [{pts}]"

    what = {
        "margin": "median margin",
        "smoothness": "mean KL",
        "robust_large": "robust accuracy at the largest radius",
    }[value]
    detail = (
        f"{what} against robust accuracy at ε = {eps:.3g}: "
        f"{curve_text(cand, x_a, v_a)}; {curve_text(ref, x_b, v_b)}"
    )
    if levels is None:
        return missing(
            f"the curves do not overlap in robust accuracy at ε = {eps:.3g}: {NAMES.get(cand, cand)} "
            f"[{x_a.min():.3f}, {x_a.max():.3f}], {NAMES.get(ref, ref)} [{x_b.min():.3f}, {x_b.max():.3f}]",
            (0.0, INF),
            len(runs),
        )

    def curves(w: np.ndarray, rob: list[np.ndarray], val: list[np.ndarray]) -> np.ndarray:
        x = np.stack([mean(r, w) for r in rob], axis=1)
        y = np.stack([reduce(v, w) for v in val], axis=1)
        return interpolate_curves(x, y, levels)

    def stat(idx: np.ndarray) -> np.ndarray:
        w = stats.count_weights(idx, S * n)
        return np.asarray((curves(w, rob_a, val_a) - curves(w, rob_b, val_b)).mean(axis=1))

    # every run is resampled through one index array: the same members and points for all (paired)
    interval = stats.bootstrap(
        (np.arange(S * n, dtype=float).reshape(S, n),),
        stat,
        method="paired bootstrap of interpolated curves",
    )
    detail += f"; matched at robust accuracy {levels[0]:.3f}–{levels[-1]:.3f}"
    return judge(interval, (0.0, INF), detail=detail, n_runs=len(a) + len(b), label=label)


def margin_parts(runs: Sequence[RunRecord], cand: str, ref: str) -> Comparison:
    """BAT-margin's statement: at matched robust accuracy, ``ref`` (PGD-AT) has the larger median margin
    than TRADES — the regulariser hurts the margin — and ``cand`` (BAT) has the larger margin than
    TRADES — bridging restores it."""
    hurt = matched_difference(
        runs, ref, "trades", "margin", label=f"{NAMES.get(ref, ref)} − TRADES margin (hurt)"
    )
    restore = matched_difference(
        runs, cand, "trades", "margin", label=f"{NAMES.get(cand, cand)} − TRADES margin (restore)"
    )
    return all_of([hurt, restore]).with_accuracy(*accuracies(runs))


def margin_check(runs: Sequence[RunRecord]) -> Comparison:
    """:func:`margin_parts` for PGD-AT and BAT."""
    return margin_parts(runs, "bat", "pgd")


def seed_control(runs: Sequence[RunRecord]) -> Comparison:
    """Both parts' measurement with TRADES (seed 1) in the place of PGD-AT and of BAT: a difference
    that is not there."""
    return matched_difference(
        runs, "trades-seed1", "trades", "margin", label="TRADES (seed 1) − TRADES margin"
    ).with_accuracy(*accuracies(runs))


def smoothness_check(runs: Sequence[RunRecord]) -> Comparison:
    """PGD-AT minus TRADES mean ``KL(p(x) ‖ p(x'))`` at matched robust accuracy, above 0: equally robust,
    PGD-AT is the less smooth."""
    return matched_difference(
        runs, "pgd", "trades", "smoothness", label="PGD-AT − TRADES mean KL"
    ).with_accuracy(*accuracies(runs))


def smoothness_control(runs: Sequence[RunRecord]) -> Comparison:
    """:func:`smoothness_check` with TRADES (seed 1) in PGD-AT's place: the noise floor."""
    return matched_difference(
        runs, "trades-seed1", "trades", "smoothness", label="TRADES (seed 1) − TRADES mean KL"
    ).with_accuracy(*accuracies(runs))


def _large_eps(cand: str) -> Callable[[Sequence[RunRecord]], Comparison]:
    def check(runs: Sequence[RunRecord]) -> Comparison:
        return matched_difference(
            runs,
            cand,
            "trades",
            "robust_large",
            label=f"{NAMES.get(cand, cand)} − TRADES robust accuracy at the largest radius",
        ).with_accuracy(*accuracies(runs))

    check.__doc__ = (
        f"{NAMES.get(cand, cand)} minus TRADES robust accuracy at the largest evaluated radius, at "
        "matched robust accuracy at the training radius (:func:`matched_difference`), above 0."
    )
    return check


def spread_ratio(runs: Sequence[RunRecord], cand: str, ref: str = "trades") -> Comparison:
    """Stability: the spread over seeds of the candidate's robust accuracy at the training radius —
    the standard deviation over members, averaged over the curve's points — over TRADES', point by
    point of the β grid (equal strength); band ``(0, 1)``: the candidate is more stable."""
    a, b = _curve(runs, cand), _curve(runs, ref)
    if len(a) != len(b) or not a:
        return missing("needs the candidate and TRADES at the same β grid", (0.0, 1.0), len(runs))
    rob_a, _ = _rows(a, "robust_large")
    rob_b, _ = _rows(b, "robust_large")
    J = len(a)

    def spread(rows: Sequence[np.ndarray]) -> np.ndarray:
        per_seed = [r.mean(axis=2) for r in rows]  # (B, S)
        return np.asarray(np.mean([p.std(axis=1, ddof=1) for p in per_seed], axis=0))

    def stat(*arrs: np.ndarray) -> np.ndarray:
        return np.asarray(spread(arrs[:J]) / spread(arrs[J:]))

    sa = spread([r[None] for r in rob_a])[0]
    sb = spread([r[None] for r in rob_b])[0]
    interval = stats.bootstrap(
        (*rob_a, *rob_b), stat, method="paired bootstrap of a ratio of spreads"
    )
    return judge(
        interval,
        (0.0, 1.0),
        detail=(
            f"std over seeds of robust accuracy at the training radius, mean over β: "
            f"{NAMES.get(cand, cand)} {sa:.4f}, TRADES {sb:.4f}"
        ),
        n_runs=2 * J,
        label=f"{NAMES.get(cand, cand)} / TRADES spread",
    ).with_accuracy(*accuracies(runs))


def stability_check(runs: Sequence[RunRecord]) -> Comparison:
    """:func:`spread_ratio` of BAT."""
    return spread_ratio(runs, "bat")


def stability_control(runs: Sequence[RunRecord]) -> Comparison:
    """:func:`spread_ratio` of TRADES (seed 1): the noise floor."""
    return spread_ratio(runs, "trades-seed1")


_SEED1 = (
    "another TRADES seed",
    "TRADES with another inner-attack seed in the candidate's place (the noise floor)",
)

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
        controls=(
            Control(
                *_SEED1,
                _families("trades", "trades-seed1"),
                check=seed_control,
                expect="not_holds",
            ),
        ),
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
        check=smoothness_check,
        controls=(
            Control(
                "another TRADES seed",
                "TRADES with another inner-attack seed in PGD-AT's place (the noise floor)",
                _families("trades", "trades-seed1"),
                check=smoothness_control,
                expect="not_holds",
            ),
        ),
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
        check=_large_eps("bat"),
        controls=(
            Control(
                *_SEED1,
                _families("trades", "trades-seed1"),
                check=_large_eps("trades-seed1"),
                expect="not_holds",
            ),
        ),
        figure="fig14_margin_smoothness",
    ),
    Claim(
        id="BAT-stability",
        paper=PAPER,
        kind="comparison",
        statement=(
            "BAT is more stable than TRADES: the spread over seeds of its robust accuracy at the "
            "training radius is smaller (ratio below 1, β grid at equal strength)."
        ),
        source="[paper] abstract",
        sim=SIM14,
        select=_families("trades", "bat"),
        check=stability_check,
        controls=(
            Control(
                *_SEED1,
                _families("trades", "trades-seed1"),
                check=stability_control,
                expect="not_holds",
            ),
        ),
        figure="fig14_margin_smoothness",
    ),
)
