"""Claims of Allen-Zhu & Li (2020) — feature purification (shared/PAPERS.md §2).

Neuron measurements are recomputed here from the recorded weights (``W0``, ``W_clean``, ``at_W``), the
generator's ``dictionary`` and ``w_star`` with :func:`sims.measure.neuron_decomposition` (numpy only);
robust accuracies and perturbation shares are read per point from the records. Predictions come from
:mod:`theory.purification`. The paper's constants are only recalled, so every claim states which reading
(threshold schedule, radius, attack) it tested, and tolerances are those of the issue that specified the
check (#6) — never tuned to the outcome.

Every measurement carries a 95% interval from :mod:`paper_checks.stats`: the replication unit is the
ensemble member (member ``i`` is seeded ``10000·seed + i`` in every row, so the same members appear at
every level of a sweep and on both sides of a clean-vs-adversarial comparison); neurons, test points and
attacked points are resampled within members. Where a statement has several parts (a fall *and* a rise;
*before* and *after*; a gap *and* matched accuracies) each part is judged with its own interval and they
are joined by :func:`paper_checks.claims.all_of`; where the old check took the worst over several runs,
each run is one labelled part.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np

from paper_checks import stats
from paper_checks.claims import (
    ANY_OF_PREFIX,
    INF,
    Check,
    Claim,
    Comparison,
    Control,
    accuracies,
    all_of,
    any_of,
    judge,
    missing,
)
from sims.measure import abs_cosine, neuron_decomposition
from sims.records import RunRecord
from theory import purification as th

__all__ = ["CLAIMS"]

PAPER = "Allen-Zhu & Li 2020"
SIM08 = "08_mixture_scaling"
SIM09 = "09_purification"
SIM10 = "10_robust_window"

#: Allowed deviation of a fitted log-log slope from its derived value (issue #6).
SLOPE_TOL = 0.3
#: "Most neurons".
MOST = 0.5
#: The mixture must fall by at least this factor under adversarial training (issue #6).
L1_FALL = 2.0
#: Share of ``‖Mᵀδ‖²`` on ``supp(z)`` that separates a dense perturbation from a pure one (PAPERS.md §2).
PURE_SHARE = 0.5
#: Required robust-accuracy gap, AT minus clean, somewhere in the feasible range, and the
#: clean-accuracy match (issue #6).
GAP = 0.5
ACC_MATCH = 0.05
#: How far FGM-AT's robust accuracy may fall below PGD-AT's at the same training radius: a fifth of
#: :data:`GAP` (stated with the claim, issue #15).
FGM_TOL = 0.1
#: The share of ℓ∞ PGD-AT's purification another continued training must reach to purify "as much"
#: (:func:`path_check`), and how far (a share of its end) a path may still move over the last quarter of
#: the run to count as plateaued.
PATH_SHARE = 0.9
PATH_PLATEAU = 0.05


def _condition(*names: str) -> Callable[[RunRecord], bool]:
    return lambda r: r.config.get("condition") in names


def _setup(r: RunRecord) -> dict[str, Any]:
    setup = r.config["setup"]
    assert isinstance(setup, dict)
    return setup


def _name(r: RunRecord) -> str:
    return str(r.config.get("condition", "run"))


def _decompose(r: RunRecord, key: str) -> dict[str, np.ndarray]:
    a = r.arrays()
    return neuron_decomposition(a[key], a["dictionary"], a["w_star"])


def _rel_l1(r: RunRecord, key: str) -> np.ndarray:
    """``‖Mᵀv_i‖₁ / ‖w_i‖₂`` per neuron ``(members, m)``: the dense mixture of the neuron's *direction*
    (the symmetric network with a norm-relative threshold depends on a neuron's norm only as an output
    weight)."""
    dec = _decompose(r, key)
    return np.asarray(dec["mixture_l1"] / np.linalg.norm(r.arrays()[key], axis=-1))


def _per_run(
    runs: Sequence[RunRecord], one: Callable[[RunRecord, str], Comparison], *, detail: str = ""
) -> Comparison:
    """One labelled comparison per run (``one(run, label_prefix)``), joined by :func:`all_of`; a single
    run's comparison is returned as it is. A run's own parts are joined in flat when they are parts of
    an :func:`all_of`; a run's alternatives (:func:`paper_checks.claims.any_of`) stay one part."""
    if len(runs) == 1:
        return one(runs[0], "")
    parts: list[Comparison] = []
    for r in runs:
        c = one(r, f"{_name(r)}: ")
        if c.parts and not c.reason.startswith(ANY_OF_PREFIX):
            parts.extend(c.parts)
        else:
            parts.append(replace(c, label=c.label or _name(r)))
    return all_of(parts, detail=detail)


def _ragged(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Stack per-level ``(members, n_l)`` arrays into ``(levels, members, max n_l)``, NaN-padded (the
    widths differ with ``d``; :mod:`paper_checks.stats` ignores NaN within a member)."""
    S = min(a.shape[0] for a in arrays)
    n = max(a.shape[1] for a in arrays)
    out = np.full((len(arrays), S, n), np.nan)
    for i, a in enumerate(arrays):
        out[i, :, : a.shape[1]] = a[:S]
    return out


# --------------------------------------------------------------------------- simulation 08
#: Simulation 08's row names: the arm, then the shape (records of its earlier design do not match).
_ARM = re.compile(r"^(true|shuffled|reshuffled)-d\d+-k\d+$")


def _arm(*arms: str) -> Callable[[RunRecord], bool]:
    """Simulation 08's rows of the given arms (``true``, ``shuffled``, ``reshuffled``: the prefix of the
    row's condition)."""

    def select(r: RunRecord) -> bool:
        m = _ARM.match(str(r.config.get("condition", "")))
        return m is not None and m.group(1) in arms

    return select


#: A sweep level is read only where its clean nets fit their own training labels: mean training
#: accuracy at least this (halfway from chance, 0.5, to a perfect fit). A level below it did not train
#: — e.g. a threshold that silences every neuron at the initialisation (its output is 0, which counts
#: as wrong) — and a slope through it measures the failure, not the law.
FIT_FLOOR = 0.75


def fitted(r: RunRecord) -> bool:
    """Whether the run's nets fitted their training labels (mean training accuracy >= :data:`FIT_FLOOR`;
    runs that record none count as fitted)."""
    a = r.arrays()
    return "train_acc" not in a or float(np.mean(a["train_acc"])) >= FIT_FLOOR


def _left_out(items: Sequence[str], of: str = "", why: str = "") -> str:
    """The detail's note on runs or levels left out (``""`` if none): for not training, or ``why``."""
    if not items:
        return ""
    whose = f" of {of}" if of else ""
    reason = why or f"did not train (< {FIT_FLOOR:g} of its labels fitted)"
    return f"; left out{whose}, {reason}: " + ", ".join(items)


def cooccurrence(r: RunRecord) -> float:
    """The run's :func:`theory.purification.pair_cooccurrence` (its training size, sparsity, atoms and
    support law)."""
    s = _setup(r)
    atoms = int(s.get("D") or s["d"])
    return th.pair_cooccurrence(int(s["n"]), int(s["k"]), atoms, str(s.get("support", "exact")))


def pairs_meet(r: RunRecord) -> bool:
    """Whether the run's median atom pair shares a training point (:func:`cooccurrence` at least
    :data:`theory.purification.MIXTURE_COOCCURRENCE`), where the median mixture ratio reads the law.
    Derived for exact supports only: a run of another support law is read as it is (``True``)."""
    if str(_setup(r).get("support", "exact")) != "exact":
        return True
    return cooccurrence(r) >= th.MIXTURE_COOCCURRENCE


class Series(NamedTuple):
    """A sweep of simulation 08: the runs at one ``fixed`` value sorted by the swept one (one per
    value, only levels that trained), that fixed value, and what was left out (text, ``""`` if none)."""

    group: list[RunRecord]
    fixed_value: int
    dropped: str


def _series(
    runs: Sequence[RunRecord], vary: str, fixed: str, of: str = "", pairs: bool = False
) -> Series:
    """The runs sharing the ``fixed`` value with the most distinct ``vary`` values, sorted by ``vary``
    (one run per value), less the levels whose nets did not fit their training labels
    (:data:`FIT_FLOOR`) and, with ``pairs``, the levels whose median atom pair shares no training point
    (:func:`theory.purification.pair_cooccurrence` below :data:`theory.purification.
    MIXTURE_COOCCURRENCE`: the median mixture ratio reads absent pairs there), said in ``dropped``
    (naming the arm ``of``, if given). The sweep is chosen before levels are left out: the design's
    sweep is read (or found too short), never another one that happens to have trained."""
    by_fixed: dict[int, dict[int, RunRecord]] = {}
    for r in runs:
        by_fixed.setdefault(int(_setup(r)[fixed]), {})[int(_setup(r)[vary])] = r
    if not by_fixed:
        return Series([], 0, "")
    fixed_value, group = max(by_fixed.items(), key=lambda kv: (len(kv[1]), kv[0]))
    untrained = [v for v in sorted(group) if not fitted(group[v])]
    unread = [v for v in sorted(group) if pairs and v not in untrained and not pairs_meet(group[v])]
    kept = [group[v] for v in sorted(group) if v not in untrained and v not in unread]
    left = [
        f"{vary}={v} (training accuracy {float(np.mean(group[v].arrays()['train_acc'])):.2f})"
        for v in untrained
    ]
    sparse = [f"{vary}={v} ({cooccurrence(group[v]):.2f})" for v in unread]
    dropped = _left_out(left, of) + _left_out(
        sparse,
        of,
        "the median atom pair shares no training point (expected points per pair, "
        "n·k(k−1)/(D(D−1)) for D atoms, < ln 2)",
    )
    return Series(kept, fixed_value, dropped)


def _ratios(group: Sequence[RunRecord]) -> np.ndarray:
    """The per-neuron ``|c_ij'/c_ij*|`` medians of a series, ``(levels, members, neurons)``."""
    return _ragged([_decompose(r, "W_clean")["mixture_ratio"] for r in group])


def _steps_text(group: Sequence[RunRecord]) -> str:
    """The median steps the clean training took per level (it runs to a loss plateau)."""
    if any("clean_steps_taken" not in r.arrays() for r in group):
        return ""
    return "; clean steps (median) " + ", ".join(
        f"{float(np.median(r.arrays()['clean_steps_taken'])):g}" for r in group
    )


def mixture_slope_check(vary: str) -> Check:
    """Log-log slope of the median ``|c_ij'/c_ij*|`` (over members and neurons) in ``vary`` (``'k'`` or
    ``'d'``), within :data:`SLOPE_TOL` of the derived ``+1`` (k) or ``−1`` (d)
    (:func:`theory.purification.mixture_slopes`, PAPERS.md §2 "form of a clean-trained neuron").

    Interval: :func:`paper_checks.stats.slope` — members resampled jointly across the levels (member ``i``
    has the same seed in every row; the data are drawn per row), neurons within members, refit. Levels
    whose nets did not fit their labels (:data:`FIT_FLOOR`), and levels whose median atom pair shares
    no training point (:func:`theory.purification.pair_cooccurrence`: the law is the population's
    share of co-occurring codes, which a sample of ``n`` shows only where pairs meet), are left out,
    and the detail says so.
    """
    fixed = "d" if vary == "k" else "k"
    predicted = th.mixture_slopes()[0 if vary == "k" else 1]
    band = (predicted - SLOPE_TOL, predicted + SLOPE_TOL)

    def check(runs: Sequence[RunRecord]) -> Comparison:
        group, fixed_value, dropped = _series(runs, vary, fixed, pairs=True)
        if len(group) < 2:
            return missing(
                f"fewer than 2 {vary} values at {fixed} = {fixed_value}{dropped}", band, len(runs)
            )
        xs = np.array([float(_setup(r)[vary]) for r in group])
        ratios = _ratios(group)
        iv = stats.slope(xs, ratios, log=True, reduce="median")
        pairs = ", ".join(
            f"{vary}={x:g}: {np.nanmedian(y):.4f} (k/d {th.mixture_ratio(kk, dd):.4f}, "
            f"(k−1)/(d−1) {(kk - 1) / (dd - 1):.4f})"
            for x, y in zip(xs, ratios, strict=True)
            for kk, dd in [(x, fixed_value) if vary == "k" else (fixed_value, x)]
        )
        cmp = judge(
            iv,
            band,
            predicted=predicted,
            detail=f"{fixed}={fixed_value}; {pairs}{_steps_text(group)}{dropped}",
            n_runs=len(group),
        )
        return cmp.with_accuracy(*accuracies(group))

    return check


def threshold_share(r: RunRecord) -> float | None:
    """The clean nets' threshold as a share ``θ`` of one atom's signal, ``t_i = θ‖w_i‖/√k``: the median
    over members and neurons of ``t_i√k/‖w_i‖`` — what the derived network of
    :func:`theory.purification.clean_network_preactivations` needs to carry the run's threshold.

    From the record's ``threshold`` where it is stored; for the ``'signal'`` reading it is the setup's
    ``threshold`` by construction; for the ``'peak'`` reading (that share of one atom's signal, or of
    the neuron's largest response over the training inputs where that is smaller) it is recomputed
    from ``W_clean`` on the run's training inputs, drawn again from its setup as the run drew them
    (:func:`sims.purification_runs.setup_data`). ``None`` for another reading."""
    s = _setup(r)
    a = r.arrays()
    W = np.asarray(a["W_clean"], float) if "W_clean" in a else None
    norms = None if W is None else np.linalg.norm(W, axis=-1)
    k = int(s["k"])
    if "threshold" in a and norms is not None:
        return float(np.median(np.asarray(a["threshold"], float) * np.sqrt(k) / norms))
    kind = s.get("threshold_kind")
    if kind == "signal":
        return float(s["threshold"])
    if kind != "peak" or W is None or norms is None:
        return None
    from sims.purification_runs import PurificationSetup, setup_data

    X = setup_data(PurificationSetup(**s))[0].X
    peak = np.stack([np.abs(X @ Wi.T).max(axis=0) for Wi in W])  # member by member: (M, m)
    return float(np.median(float(s["threshold"]) * np.minimum(peak * np.sqrt(k) / norms, 1.0)))


def flip_radius_check(vary: str, norm: str) -> Check:
    """Log-log slope of the clean nets' median minimal ``norm`` flip radius (simulation 08's
    ``flip_linf``/``flip_l2``: MinNorm over the correctly classified test points) in ``vary``, within
    :data:`SLOPE_TOL` of the slope of the derived radius of the paper's clean network with the run's
    threshold (as a share of the signal, :func:`threshold_share`) over the same levels
    (:func:`theory.purification.clean_network_flip_radius_median`; PAPERS.md §2: *measure* the clean
    net's radius, issue #15 item 2). Interval as
    :func:`mixture_slope_check` (members jointly across levels, points within members, refit)."""
    fixed = "d" if vary == "k" else "k"
    key = f"flip_{norm}"

    def check(runs: Sequence[RunRecord]) -> Comparison:
        group, fixed_value, dropped = _series([r for r in runs if key in r.arrays()], vary, fixed)
        if len(group) < 2:
            return missing(
                f"fewer than 2 {vary} values with {key} at {fixed} = {fixed_value}{dropped}",
                (-INF, INF),
                len(runs),
            )
        xs = np.array([float(_setup(r)[vary]) for r in group])
        setups = [_setup(r) for r in group]
        shares = [threshold_share(r) for r in group]
        if any(v is None for v in shares):
            kinds = sorted({str(s.get("threshold_kind")) for s in setups})
            return missing(
                "the derived radius needs the nets' threshold as a share of one atom's signal "
                f"(the 'signal' or 'peak' reading, or a stored threshold); got {kinds}",
                (-INF, INF),
                len(group),
            )
        # the derivation's network lives on noiseless codes; its ℓ∞ ray is along the code axes (M = I),
        # its ℓ2 radius does not see a rotation of them (M orthonormal)
        dictionaries = ("identity",) if norm == "linf" else ("identity", "orthonormal")
        off = [
            s
            for s in setups
            if s.get("noise", 0.0) != 0.0 or s.get("dictionary") not in dictionaries
        ]
        if off:
            return missing(
                f"the derived {norm} radius is for noiseless codes on "
                + ("the identity dictionary" if norm == "linf" else "an orthonormal dictionary")
                + f"; got dictionary={off[0].get('dictionary')!r}, noise={off[0].get('noise', 0.0):g}",
                (-INF, INF),
                len(group),
            )
        derived = np.array(
            [
                th.clean_network_flip_radius_median(int(s["k"]), int(s["d"]), norm, float(v or 0.0))
                for s, v in zip(setups, shares, strict=True)
            ]
        )
        u = np.log(xs) - np.log(xs).mean()
        predicted = float((np.log(derived) * u).sum() / (u * u).sum())
        band = (predicted - SLOPE_TOL, predicted + SLOPE_TOL)
        radii = _ragged([np.asarray(r.arrays()[key], float) for r in group])
        iv = stats.slope(xs, radii, log=True, reduce="median")
        pairs = ", ".join(
            f"{vary}={x:g}: {np.nanmedian(y):.4g} (derived {p:.4g}, θ {v:.3f})"
            for x, y, p, v in zip(xs, radii, derived, shares, strict=True)
        )
        cmp = judge(
            iv,
            band,
            predicted=predicted,
            detail=f"{fixed}={fixed_value}; median {norm} flip radius {pairs}{dropped}",
            n_runs=len(group),
        )
        return cmp.with_accuracy(*accuracies(group))

    return check


def mixture_label_check(vary: str, subject: str = "true", reference: str = "shuffled") -> Check:
    """The part of the mixture's slope in ``vary`` that the labels account for: the paired difference
    ``slope(subject) − slope(reference)`` of :func:`mixture_slope_check`'s statistic between two arms of
    simulation 08 that share data, seeds and initialisation (the same neurons at init: members and
    neurons resampled jointly in both, :func:`paper_checks.stats.slope` with ``reference``), beyond
    :data:`SLOPE_TOL` in the derived direction (steeper: below ``−SLOPE_TOL`` in ``d``, above
    ``+SLOPE_TOL`` in ``k``) [derived, PAPERS.md §2: the mixture is the label signal ``E[y x]``'s share].
    The control runs it on two shuffles (``reshuffled`` − ``shuffled``), where the labels carry nothing."""
    fixed = "d" if vary == "k" else "k"
    band = (SLOPE_TOL, INF) if vary == "k" else (-INF, -SLOPE_TOL)

    def check(runs: Sequence[RunRecord]) -> Comparison:
        sub, fixed_value, sub_dropped = _series(
            [r for r in runs if _arm(subject)(r)], vary, fixed, of=subject, pairs=True
        )
        ref, _, ref_dropped = _series(
            [r for r in runs if _arm(reference)(r)], vary, fixed, of=reference, pairs=True
        )
        dropped = sub_dropped + ref_dropped
        xs = [int(_setup(r)[vary]) for r in sub]
        if len(sub) < 2 or [int(_setup(r)[vary]) for r in ref] != xs:
            return missing(
                f"{subject} and {reference} rows at {fixed} = {fixed_value} do not share "
                f"2 or more {vary} values{dropped}",
                band,
                len(runs),
            )
        for a, b in zip(sub, ref, strict=True):
            if not all(np.array_equal(a.arrays()[k], b.arrays()[k]) for k in ("X_test", "W0")):
                return missing(
                    f"{subject} and {reference} rows are not paired (data or init differ)", band, 0
                )
        y_sub, y_ref = _ratios(sub), _ratios(ref)
        iv = stats.slope(np.array(xs, float), y_sub, reference=y_ref, log=True, reduce="median")
        one = stats.slope(np.array(xs, float), y_sub).estimate
        other = stats.slope(np.array(xs, float), y_ref).estimate
        cmp = judge(
            iv,
            band,
            detail=f"{fixed}={fixed_value}; slope {subject} {one:.3f}, {reference} {other:.3f}"
            f"{dropped}",
            n_runs=len(sub),
        )
        return cmp.with_accuracy(*accuracies(sub))

    return check


def mixture_alignment_check(runs: Sequence[RunRecord]) -> Comparison:
    """Median ``cos(v_i, M w*)`` (over members and neurons) of every run, in units of ``3/√d`` (three
    standard deviations of a random direction's cosine), above 1: the mixture points along ``M w*``
    [recalled; derived, PAPERS.md §2]. One labelled part per run; the weakest run is the headline. A run
    whose nets did not fit their labels (:data:`FIT_FLOOR`) is left out, and the detail says so."""

    def one(r: RunRecord, prefix: str) -> Comparison:
        d = int(_setup(r)["d"])
        cos = _decompose(r, "W_clean")["mixture_cos"]
        iv = stats.median(cos * np.sqrt(d) / 3)
        return judge(
            iv,
            (1.0, INF),
            detail=f"{prefix}median cos {np.nanmedian(cos):.3f} vs 3/√d = {3 / np.sqrt(d):.3f}",
            n_runs=1,
            label=f"{prefix}median cos(v, M w*)·√d/3",
        )

    kept = [r for r in runs if fitted(r)]
    left = [_name(r) for r in runs if not fitted(r)]
    if not kept:
        return missing(f"no run trained (training accuracy below {FIT_FLOOR:g})", (1.0, INF), 0)
    ordered = sorted(
        kept,
        key=lambda r: float(
            np.nanmedian(_decompose(r, "W_clean")["mixture_cos"]) * np.sqrt(int(_setup(r)["d"]))
        ),
    )
    cmp = _per_run(ordered, one).with_accuracy(*accuracies(kept))
    return replace(cmp, detail=cmp.detail + _left_out(left)) if left else cmp


# --------------------------------------------------------------------------- simulation 09
def _at_accuracies(runs: Sequence[RunRecord]) -> tuple[float | None, float | None]:
    """Training and clean accuracy of the nets after the continued training (the models a check reads)."""
    return accuracies(runs, train_key="at_train_acc", test_key="at_test_acc")


def principle_check(runs: Sequence[RunRecord]) -> Comparison:
    """Share of neurons (over members) with ``|cos(w_i, w_i')| > 1/√2`` at least :data:`MOST` — the
    principle ``‖β_i w_i'‖ > ‖v_i‖`` with least-squares ``β_i`` (:func:`theory.purification.
    least_squares_split`) — ``w_i`` the clean-trained weight the run records as ``W_reference``
    [paper; derived]. The medians of ``|cos(w⁰, w)|`` and ``|cos(w⁰, w')|`` with the initialisation are
    reported as context: at init scale 0.01 clean training moves every neuron far from ``w⁰``, so that half
    of the paper's sentence cannot fail here (issue #13)."""

    def one(r: RunRecord, prefix: str) -> Comparison:
        a = r.arrays()
        ref = a["W_reference"]
        hits = abs_cosine(ref, a["at_W"]) > th.PRINCIPLE_COSINE
        d = int(_setup(r)["d"])
        context = (
            f"{prefix}context: median |cos(w⁰, w)| {np.median(abs_cosine(a['W0'], ref)):.3f}, "
            f"|cos(w⁰, w')| {np.median(abs_cosine(a['W0'], a['at_W'])):.3f} (a pure atom of a random "
            f"init has cos ≈ √(2 ln d / d) = {np.sqrt(2 * np.log(d) / d):.2f} at d = {d})"
        )
        return judge(
            stats.proportion(hits),
            (MOST, INF),
            detail=context,
            n_runs=1,
            label=f"{prefix}share |cos(w, w')| > 1/√2",
        )

    return _per_run(runs, one).with_accuracy(*_at_accuracies(runs))


def purify_check(runs: Sequence[RunRecord]) -> Comparison:
    """Two parts [derived, PAPERS.md §2 "perturbation structure"]: the median over neurons of the per-neuron
    fall ``(‖Mᵀv‖₁/‖w‖)_clean / (‖Mᵀv‖₁/‖w‖)_AT`` is at least :data:`L1_FALL` (paired: neuron ``i`` of
    member ``s`` before and after the continued training), and the purity ``|c_ij*|/‖c_i‖`` rises for at
    least :data:`MOST` of the neurons."""

    def one(r: RunRecord, prefix: str) -> Comparison:
        fall = _rel_l1(r, "W_clean") / _rel_l1(r, "at_W")
        up = _decompose(r, "at_W")["purity"] > _decompose(r, "W_clean")["purity"]
        return all_of(
            [
                judge(
                    stats.median(fall),
                    (L1_FALL, INF),
                    n_runs=1,
                    label=f"{prefix}median fall of ‖Mᵀv‖₁/‖w‖",
                ),
                judge(
                    stats.proportion(up),
                    (MOST, INF),
                    detail=f"{prefix}purity rose for {np.mean(up):.1%} of neurons",
                    n_runs=1,
                    label=f"{prefix}share of neurons whose purity rose",
                ),
            ]
        )

    return _per_run(runs, one).with_accuracy(*_at_accuracies(runs))


def minimal_density_check(runs: Sequence[RunRecord]) -> Comparison:
    """The paper's Figure 5 on *minimal* perturbations (no fixed radius, where an attack could simply
    erase a code entry): the median over members and attacked points of the share of ``‖Mᵀδ‖²`` on
    ``supp(z)`` of each point's minimal ℓ2 perturbation
    (:func:`sims.purification_runs.minimal_structure`) is at least :data:`PURE_SHARE` after the continued
    training and below it before [paper, figure]. The participation ratios, the minimal radii and the
    shares of fixed-radius PGD perturbations (where recorded) are context."""
    parts: list[Comparison] = []
    for r in runs:
        a = r.arrays()
        if "at_min_share" not in a:
            return missing(
                "records without minimal perturbations (rerun the simulation)", n_runs=len(runs)
            )
        fixed = sorted(
            float(k[len("clean_delta") : -len("_share")])
            for k in a
            if k.startswith("clean_delta") and k.endswith("_share")
        )
        context = (
            f"{_name(r)}: participation {np.nanmedian(a['clean_min_participation']):.1f} → "
            f"{np.nanmedian(a['at_min_participation']):.1f}, minimal radius "
            f"{np.nanmedian(a['clean_min_dist']):.3g} → {np.nanmedian(a['at_min_dist']):.3g}"
        )
        if fixed:
            context += "; fixed-radius PGD shares " + ", ".join(
                f"ε={eps:g}: {np.nanmedian(a[f'clean_delta{eps:g}_share']):.2f} → "
                f"{np.nanmedian(a[f'at_delta{eps:g}_share']):.2f}"
                for eps in fixed
            )
        parts += [
            judge(
                stats.median(a["at_min_share"]),
                (PURE_SHARE, INF),
                detail=context,
                n_runs=1,
                label=f"{_name(r)}: after, share on supp(z)",
            ),
            judge(
                stats.median(a["clean_min_share"]),
                (-INF, PURE_SHARE),
                n_runs=1,
                label=f"{_name(r)}: before, share on supp(z)",
            ),
        ]
    return all_of(parts).with_accuracy(*_at_accuracies(runs))


# --------------------------------------------------------------------------- simulation 10
def _sim10_models(a: dict[str, np.ndarray]) -> tuple[str, ...]:
    """The ℓ∞ PGD-AT models of a simulation-10 record (``pgd25``, ``pgd50``, ...), by training radius,
    as the record names them."""
    return tuple(str(m) for m in np.asarray(a["at_models"]))


def _path_median(a: dict[str, np.ndarray]) -> np.ndarray:
    """Median over neurons of ``‖Mᵀv‖₁/‖w‖`` at every measured step of the continued training,
    ``(T, M)``."""
    return np.asarray(np.median(np.asarray(a["at_path_mixture"], float), axis=-1))


def _half_step(a: dict[str, np.ndarray], curve: np.ndarray) -> float:
    """The first measured step at which the members' mean curve has made half its total fall."""
    mean = curve.mean(axis=1)
    half = mean[0] - (mean[0] - mean[-1]) / 2
    steps = np.asarray(a["at_path_steps"])
    return float(steps[int(np.argmax(mean <= half))])


def _at_most_inconclusive(cmp: Comparison, why: str) -> Comparison:
    """A precondition part: one that does not hold makes the claim inconclusive, never a finding."""
    if cmp.status == "holds":
        return cmp
    return replace(cmp, status="inconclusive", reason=why + cmp.reason)


def path_check(subjects: Sequence[str], reference: str = "sparse-pgd_linf") -> Check:
    """The purification's course (issue #15, item 6): does ``subject``'s continued training purify as
    much as ``reference``'s (ℓ∞ PGD-AT), only possibly more slowly? From the records' path
    (``at_path_mixture``: each neuron's ``‖Mᵀv‖₁/‖w‖`` through the continued training, the same clean
    weights for every row), per member, the medians over neurons:

    * the share: ``reference``'s end over ``subject``'s end — the subject's fall as a share of the
      reference's fall (both ``clean/end``) — at least :data:`PATH_SHARE` [paper: FGM training works,
      PAPERS.md §2];
    * where the curves stand: over the last quarter of the run each median moved by some share of its
      final value. A share that fails is a finding only once the subject no longer falls (by more than
      :data:`PATH_PLATEAU`; the reference falling further only lowers the share) and the reference no
      longer climbs back — while either may still move that way, "slower" cannot be told from "less" and the claim is inconclusive; a share that holds
      holds only if both curves moved by at most ±:data:`PATH_PLATEAU` (plateaued), else it is
      inconclusive;
    * the subject's clean accuracy at most :data:`ACC_MATCH` below the reference's (an underfit
      subject makes the comparison inconclusive);
    * the reference purifies at all (its fall, start over end, above 1): where it adds mixture — as
      ℓ∞ PGD-AT does on a rotated dictionary — the share means nothing and the claim is inconclusive.

    With several ``subjects`` (an ℓ2 radius sweep) the claim is an existence statement over them
    (:func:`paper_checks.claims.any_of`), each part's interval at the Bonferroni level ``1 − 0.05/n``.
    Intervals: over members (the per-member medians), :func:`paper_checks.stats.mean`. The detail gives
    the step at which each curve made half its fall."""

    level = 1 - (1 - stats.DEFAULT_LEVEL) / len(subjects)

    def one(by: dict[str, RunRecord], subject: str) -> Comparison:
        a_sub, a_ref = by[subject].arrays(), by[reference].arrays()
        sub, ref = _path_median(a_sub), _path_median(a_ref)
        T = sub.shape[0]
        q = (3 * (T - 1)) // 4
        parts = [
            judge(
                stats.mean(ref[-1] / sub[-1], level=level),
                (PATH_SHARE, INF),
                detail=f"{subject}: falls {np.mean(sub[0] / sub[-1]):.3g}×, {reference} "
                f"{np.mean(ref[0] / ref[-1]):.3g}×; half of the fall by step "
                f"{_half_step(a_sub, sub):g} vs {_half_step(a_ref, ref):g} of "
                f"{int(np.asarray(a_sub['at_path_steps'])[-1])}",
                n_runs=2,
                label=f"{subject}: its fall over {reference}'s",
            )
        ]
        # a share of a fall needs a fall: where the reference adds mixture there is nothing to share
        purifies = _at_most_inconclusive(
            judge(
                stats.mean(ref[0] / ref[-1], level=level),
                (1.0, INF),
                n_runs=1,
                label=f"{subject}: {reference}'s own fall (start over end)",
            ),
            f"{reference} does not purify here (no fall to take a share of): ",
        )
        if purifies.status != "holds":
            parts[0] = replace(parts[0], status="inconclusive")
        parts.append(purifies)
        moved = {
            name: stats.mean((curve[q] - curve[-1]) / curve[-1], level=level)
            for name, curve in ((subject, sub), (reference, ref))
        }

        def where(name: str, band: tuple[float, float], why: str) -> Comparison:
            """How far ``name``'s curve moved over the last quarter, as a precondition part."""
            return _at_most_inconclusive(
                judge(
                    moved[name],
                    band,
                    n_runs=1,
                    label=f"{subject}: {name} moved over the last quarter (share of its end)",
                ),
                why,
            )

        if parts[0].status == "fails":
            # a failure stands once the subject no longer falls (the reference falling further only
            # lowers the share) and the reference no longer climbs back (which would raise it)
            still = [
                where(
                    subject,
                    (-INF, PATH_PLATEAU),
                    f"{subject} may still be falling (slower cannot be told from less): ",
                ),
                where(reference, (-PATH_PLATEAU, INF), f"{reference} may still be climbing back: "),
            ]
            if any(p.status != "holds" for p in still):
                parts[0] = replace(parts[0], status="inconclusive")
            parts += still
        else:
            # a share that holds now holds for good only if neither curve still moves
            parts += [
                where(name, (-PATH_PLATEAU, PATH_PLATEAU), f"{name} has not plateaued: ")
                for name in moved
            ]
        acc = judge(
            stats.paired_difference(
                np.asarray(a_ref["at_test_acc"], float),
                np.asarray(a_sub["at_test_acc"], float),
                level=level,
            ),
            (-INF, ACC_MATCH),
            n_runs=1,
            label=f"{subject}: clean accuracy {reference} − {subject}",
        )
        if acc.status == "fails":
            acc = replace(acc, status="inconclusive", reason=f"{subject} underfits: {acc.reason}")
        return replace(all_of([*parts, acc]), label=subject)

    def check(runs: Sequence[RunRecord]) -> Comparison:
        by = {str(r.config["condition"]): r for r in runs}
        names = [sub for sub in subjects if sub in by]
        if reference not in by or not names:
            return missing(f"no {reference} or {', '.join(subjects)} rows", (PATH_SHARE, INF), 0)
        if any("at_path_mixture" not in by[n].arrays() for n in [reference, *names]):
            return missing(
                "records of simulation 09 before the purification path was recorded: rerun it",
                (PATH_SHARE, INF),
                len(runs),
            )
        out = one(by, names[0]) if len(subjects) == 1 else any_of([one(by, n) for n in names])
        # a share of the reference's fall needs the reference and a subject to have learned the task:
        # the claim reports the reference's accuracy or the best subject's, the lower (what
        # :attr:`Claim.chance` and the controls judge; each subject's own fit is a part of ``one``)
        ref_acc = accuracies([by[reference]], train_key="at_train_acc", test_key="at_test_acc")
        sub_accs = [
            accuracies([by[n]], train_key="at_train_acc", test_key="at_test_acc") for n in names
        ]
        best = tuple(_higher(*(a[i] for a in sub_accs)) for i in (0, 1))
        return out.with_accuracy(*(_lower(a, b) for a, b in zip(ref_acc, best, strict=True)))

    return check


def _lower(*accs: float | None) -> float | None:
    """The lowest of the accuracies reported (``None`` where none is)."""
    given = [a for a in accs if a is not None]
    return min(given) if given else None


def _higher(*accs: float | None) -> float | None:
    """The highest of the accuracies reported (``None`` where none is)."""
    given = [a for a in accs if a is not None]
    return max(given) if given else None


def _named(a: dict[str, np.ndarray], key: str) -> str:
    """A model name the record stores (``fgm_model``, ``fgm_reference``)."""
    return str(np.asarray(a[key]))


def _paired_means(
    a: dict[str, np.ndarray], pairs: Sequence[tuple[str, str]], radii: np.ndarray
) -> tuple[tuple[np.ndarray, ...], Callable[..., np.ndarray]]:
    """The robust-point arrays of every ``(model, reference)`` pair at the grid radii where ``radii`` is
    true (models first, then references, in pair × radius order), and the statistic mapping them to
    the paired mean differences ``model − reference``, ``(B, pairs × radii)``: every model is continued
    from, or trained beside, member ``i`` of the clean net and attacked on the same points, so members
    and points are resampled together."""
    idx = np.flatnonzero(radii)
    sub = [a[f"{m}_linf_robust_points"][:, j].astype(float) for m, _ in pairs for j in idx]
    ref = [a[f"{r}_linf_robust_points"][:, j].astype(float) for _, r in pairs for j in idx]
    K = len(sub)

    def statistic(*arrs: np.ndarray) -> np.ndarray:
        means = [x.mean(axis=2).mean(axis=1) for x in arrs]
        return np.stack([means[j] - means[K + j] for j in range(K)], axis=1)

    return (*sub, *ref), statistic


def _gap_bands(
    a: dict[str, np.ndarray], pairs: Sequence[tuple[str, str]], radii: np.ndarray
) -> list[list[stats.Interval]]:
    """Per ``(model, reference)`` pair, the paired robust-accuracy gap ``model − reference`` at each grid
    radius where ``radii`` is true, as *simultaneous* 95% bands over all pairs and radii
    (:func:`paper_checks.stats.simultaneous`): the search over pairs and radii that an extreme or an
    existence statement makes is paid for in the width."""
    data, statistic = _paired_means(a, pairs, radii)
    bands = stats.simultaneous(
        data, statistic, method="simultaneous max-|t| bands over models and radii, paired"
    )
    J = int(np.sum(radii))
    return [bands[i * J : (i + 1) * J] for i in range(len(pairs))]


def _extreme_band(bands: Sequence[stats.Interval], *, lowest: bool = False) -> stats.Interval:
    """An interval for the largest (``lowest``: smallest) of several values from their simultaneous
    bands: ``[max lo, max hi]`` (``[min lo, min hi]``) — it covers the extreme whenever the bands cover
    every value, so the percentile bias of a bootstrapped maximum (or minimum) never enters."""
    pick = min if lowest else max
    best = pick(bands, key=lambda b: b.estimate)
    return replace(
        best,
        estimate=pick(b.estimate for b in bands),
        lo=pick(b.lo for b in bands),
        hi=pick(b.hi for b in bands),
        method=best.method + ("; the minimum" if lowest else "; the maximum") + " over radii",
    )


def _acc_difference(a: dict[str, np.ndarray], model: str, reference: str) -> stats.Interval:
    """Clean accuracy ``model − reference`` on the shared test points, paired by member."""
    return stats.paired_difference(
        a[f"{model}_test_correct"].astype(float), a[f"{reference}_test_correct"].astype(float)
    )


def _robust_curves(a: dict[str, np.ndarray], *models: str) -> str:
    cap = float(a["linf_cap"])
    fracs = np.round(np.asarray(a["linf_grid"]) / cap, 3).tolist()
    return f"radii {fracs} of the ℓ∞ cap {cap:.3g}: " + "; ".join(
        f"{m} {np.round(a[f'{m}_linf_robust'].mean(0), 3).tolist()} "
        f"(clean acc {a[f'{m}_test_acc'].mean():.3f})"
        for m in models
    )


def _old_design(runs: Sequence[RunRecord]) -> Comparison | None:
    if any("at_models" not in r.arrays() for r in runs):
        return missing(
            "records of simulation 10's earlier design (one PGD-AT radius from the derived window): "
            "rerun simulation 10",
            n_runs=len(runs),
        )
    return None


def gap_check(runs: Sequence[RunRecord]) -> Comparison:
    """[paper: clean training non-robust at τ, adversarial training robust there, PAPERS.md §2] Some
    ℓ∞ PGD-AT model shows both parts: its ℓ∞ robust-accuracy gap over the clean net (paired by member
    and point) reaches :data:`GAP` at some radius of the grid (1/16 of the data's cap to the cap), and
    its clean accuracy is within :data:`ACC_MATCH` of the clean net's. The gaps are simultaneous bands
    over every model and radius (:func:`_gap_bands`), so the search over both is paid for; the claim
    holds when one model holds both parts (:func:`paper_checks.claims.any_of`) and fails when every
    model fails one. The detail says where each model's gap peaks (the radius as a fraction of the
    cap)."""
    absent = _old_design(runs)
    if absent is not None:
        return absent

    def one(r: RunRecord, prefix: str) -> Comparison:
        a = r.arrays()
        ats = _sim10_models(a)
        grid = np.asarray(a["linf_grid"])
        cap = float(a["linf_cap"])
        every = np.ones(len(grid), bool)
        bands = dict(zip(ats, _gap_bands(a, [(m, "clean") for m in ats], every), strict=True))
        options = []
        for m in ats:
            j = int(np.argmax([b.estimate for b in bands[m]]))
            options.append(
                replace(
                    all_of(
                        [
                            judge(
                                _extreme_band(bands[m]),
                                (GAP, INF),
                                detail=f"{prefix}{m}: largest mean gap {bands[m][j].estimate:.3f} at "
                                f"τ = {grid[j]:.3g} ({grid[j] / cap:.3g} of the cap)",
                                n_runs=1,
                                label="largest gap over the grid",
                            ),
                            judge(
                                _acc_difference(a, m, "clean"),
                                (-ACC_MATCH, ACC_MATCH),
                                n_runs=1,
                                label="clean accuracy − clean net's",
                            ),
                        ]
                    ),
                    label=f"{prefix}{m}",
                )
            )
        return any_of(options, detail=f"{prefix}{_robust_curves(a, 'clean', *ats)}")

    return _per_run(runs, one).with_accuracy(
        *accuracies(runs, train_key="clean_train_acc", test_key="clean_test_acc")
    )


def fgm_check(subject: str | None = None) -> Check:
    """Two parts [paper: even FGM training is robust where clean training is not, PAPERS.md §2]: at
    every grid radius up to FGM-AT's training radius, ``subject``'s ℓ∞ robust accuracy is at most
    :data:`FGM_TOL` below PGD-AT's at the same training radius (the smallest paired difference over
    those radii, from simultaneous bands: :func:`_extreme_band`); and ``subject``'s clean accuracy is at most :data:`ACC_MATCH` below PGD-AT's (an
    underfit subject makes the comparison inconclusive). ``subject`` is the FGM-trained net (``None``:
    the one the record names, ``fgm_model``; PGD-AT at its radius is ``fgm_reference``); the control
    puts the clean net in its place. Reports the lower of the two nets' accuracies (a collapsed
    reference would make any subject look as robust)."""

    def one(r: RunRecord, prefix: str) -> Comparison:
        a = r.arrays()
        sub = subject or _named(a, "fgm_model")
        ref = _named(a, "fgm_reference")
        radii = np.asarray(a["linf_grid"]) <= float(a["fgm_eps"]) * (1 + 1e-9)
        fit = judge(
            _acc_difference(a, ref, sub),
            (-INF, ACC_MATCH),
            n_runs=1,
            label=f"{prefix}clean accuracy {ref} − {sub}",
        )
        if fit.status == "fails":
            fit = replace(fit, status="inconclusive", reason=f"{sub} underfits: {fit.reason}")
        return all_of(
            [
                judge(
                    _extreme_band(_gap_bands(a, [(sub, ref)], radii)[0], lowest=True),
                    (-FGM_TOL, INF),
                    detail=f"{prefix}up to τ = {float(a['fgm_eps']):.3g}; "
                    + _robust_curves(a, sub, ref),
                    n_runs=1,
                    label=f"{prefix}{sub} − {ref}, smallest up to the training radius",
                ),
                fit,
            ]
        )

    def check(runs: Sequence[RunRecord]) -> Comparison:
        absent = _old_design(runs)
        if absent is not None:
            return absent
        a0 = runs[0].arrays()
        # the comparison needs both nets trained: it reports the lower of the two accuracies
        pair = [
            accuracies(runs, train_key=f"{n}_train_acc", test_key=f"{n}_test_acc")
            for n in (subject or _named(a0, "fgm_model"), _named(a0, "fgm_reference"))
        ]
        return _per_run(runs, one).with_accuracy(*(_lower(*acc) for acc in zip(*pair, strict=True)))

    return check


def low_complexity_check(subjects: tuple[str, ...] | None = None) -> Check:
    """For each of the ``subjects`` (``None``: the PGD-AT net the record names ``fgm_reference``, a
    control that is not low-complexity): its ℓ∞ robust accuracy exceeds the clean net's by at most
    :data:`ACC_MATCH` at every radius of the grid, 1/16 of the data's cap to the cap (the largest paired
    excess, from simultaneous bands: :func:`_extreme_band`) [paper: low-complexity models cannot be robust where the clean net is not, PAPERS.md §2]. A
    precondition part per subject: its clean accuracy is at most :data:`ACC_MATCH` below the clean
    net's — an underfit model is trivially non-robust, so a subject that underfits makes the comparison
    inconclusive, never a finding. Reports the lowest accuracy of the subjects and the clean net, which
    a control's validity and the claim's chance level are measured against."""

    def names(a: dict[str, np.ndarray]) -> tuple[str, ...]:
        return subjects if subjects is not None else (_named(a, "fgm_reference"),)

    def one(r: RunRecord, prefix: str) -> Comparison:
        a = r.arrays()
        every = np.ones(len(a["linf_grid"]), bool)
        excess, fits = [], []
        for s in names(a):
            excess.append(
                judge(
                    _extreme_band(_gap_bands(a, [(s, "clean")], every)[0]),
                    (-INF, ACC_MATCH),
                    detail=f"{prefix}{_robust_curves(a, s, 'clean')}",
                    n_runs=1,
                    label=f"{prefix}{s} robust − clean net's, largest over the grid",
                )
            )
            fit = judge(
                _acc_difference(a, "clean", s),
                (-INF, ACC_MATCH),
                n_runs=1,
                label=f"{prefix}clean accuracy clean net − {s}",
            )
            if fit.status == "fails":
                fit = replace(fit, status="inconclusive", reason=f"{s} underfits: {fit.reason}")
            fits.append(fit)
        if "linear" in names(a) and "linear_flip_linf" in a:
            setup = _setup(r)
            natural = th.linear_flip_radius_natural(int(setup["k"]), int(setup["d"]), "linf")
            excess[0] = replace(
                excess[0],
                detail=f"{excess[0].detail}; logistic regression's exact ℓ∞ flip radius |f|/‖w‖₁: "
                f"median {np.median(a['linear_flip_linf']):.4f} (natural rule M w*: {natural:.4f})",
            )
        return all_of([*excess, *fits])

    def check(runs: Sequence[RunRecord]) -> Comparison:
        absent = _old_design(runs)
        if absent is not None:
            return absent
        # the clean net is the yardstick: a collapsed one would make any subject look robust
        accs = [
            accuracies(runs, train_key=f"{s}_train_acc", test_key=f"{s}_test_acc")
            for s in (*names(runs[0].arrays()), "clean")
        ]
        return _per_run(runs, one).with_accuracy(*(_lower(*acc) for acc in zip(*accs, strict=True)))

    return check


def _slope_claims() -> list[Claim]:
    out = []
    for vary, sign in (("k", "+1"), ("d", "−1")):
        out.append(
            Claim(
                id=f"PUR-mix-{vary}",
                paper=PAPER,
                kind="law",
                statement=(
                    f"After clean training (to a loss plateau; threshold ‖w‖/(2√k), or half the "
                    f"neuron's largest response while that is smaller; width fixed) the median "
                    f"dense-mixture coefficient |c_ij'/c_ij*| scales like k/d: log-log slope {sign} "
                    f"in {vary}, over the levels whose atom pairs share training points."
                ),
                source="[recalled; derived] PAPERS.md §2 form of a clean-trained neuron",
                sim=SIM08,
                select=_arm("true"),
                check=mixture_slope_check(vary),
                controls=(
                    Control(
                        "shuffled labels",
                        "the same grid trained on permuted labels: no signal for a k/d mixture",
                        _arm("shuffled"),
                        accuracy="train",
                    ),
                ),
                figure="fig08_mixture_scaling",
            )
        )
        steeper = "above +0.3" if vary == "k" else "below −0.3"
        out.append(
            Claim(
                id=f"PUR-mix-{vary}-labels",
                paper=PAPER,
                kind="comparison",
                statement=(
                    f"The labels make the mixture's scaling: its log-log slope in {vary} with true labels "
                    f"minus the slope with shuffled labels (same data, seeds and initialisation; paired) "
                    f"lies {steeper}, the law's tolerance, in the derived direction."
                ),
                source="[derived] PAPERS.md §2: the mixture is the label signal E[y x]'s share",
                sim=SIM08,
                select=_arm("true", "shuffled"),
                check=mixture_label_check(vary),
                controls=(
                    Control(
                        "two shuffles",
                        "a second permutation of the labels against the first: the labels carry "
                        "nothing, so the difference is only the noise of two trainings",
                        _arm("shuffled", "reshuffled"),
                        check=mixture_label_check(vary, "reshuffled", "shuffled"),
                        accuracy="train",
                    ),
                ),
                figure="fig08_mixture_scaling",
            )
        )
    for norm in ("linf", "l2"):
        for vary in ("k", "d"):
            out.append(
                Claim(
                    id=f"PUR-radius-{norm}-{vary}",
                    paper=PAPER,
                    kind="law",
                    statement=(
                        f"The clean net's minimal {'ℓ∞' if norm == 'linf' else 'ℓ2'} flip radius "
                        f"(median over test points, MinNorm) scales in {vary} as the flip radius of "
                        f"the paper's clean network with its threshold does: log-log slopes within "
                        f"{SLOPE_TOL} of each other."
                    ),
                    source="[derived] theory.purification.clean_network_flip_radius, from PAPERS.md "
                    "§2 form of a clean-trained neuron",
                    sim=SIM08,
                    select=_arm("true"),
                    check=flip_radius_check(vary, norm),
                    controls=(
                        Control(
                            "shuffled labels",
                            "the same grid trained on permuted labels: no clean-trained neuron form",
                            _arm("shuffled"),
                            accuracy="train",
                        ),
                    ),
                    figure="fig08_mixture_scaling",
                )
            )
    return out


#: The clean accuracy of a constant prediction on sparse-coding labels ``y = sign(⟨w*, z⟩)``: the code
#: law is symmetric under ``z → −z``, which flips the label, so the classes are balanced. Simulations 09
#: and 10 state it (:attr:`paper_checks.claims.Claim.chance`): an adversarial training that collapsed —
#: ℓ∞ PGD-AT at ``k^{-3/2}`` under the overcomplete dictionary ends with clean accuracy 0.2–0.3, most
#: outputs exactly 0 — cannot show or refute purification. Simulation 08 reads clean nets level by level
#: and leaves out the levels that did not fit (:data:`FIT_FLOOR`).
SPARSE_CHANCE = 0.5


#: The principle's control (simulations 09 and 17): what breaks the condition "continued from clean
#: weights" (its schedule and why: :func:`sims.purification_runs.from_init_schedule`).
FROM_INIT = (
    "adversarial training started from the initialisation instead, for the clean training's steps "
    "and the same adversarial steps, its radius ramped up linearly to the full radius over the clean "
    "training's steps; compared with the clean-trained weights from that initialisation"
)


#: The control of the path claims: continued clean training in the compared training's place.
_PATH_NO_AT = Control(
    "no AT",
    "continued clean steps in the compared training's place",
    _condition("sparse-none", "sparse-pgd_linf"),
    check=path_check(("sparse-none",)),
)


CLAIMS: tuple[Claim, ...] = (
    *_slope_claims(),
    Claim(
        id="PUR-mix-align",
        paper=PAPER,
        kind="law",
        statement="The dense mixture of a clean-trained neuron points along M w* (the average signal).",
        source="[recalled; derived] PAPERS.md §2",
        sim=SIM08,
        select=_arm("true"),
        check=mixture_alignment_check,
        controls=(
            Control(
                "shuffled labels",
                "trained on permuted labels",
                _arm("shuffled", "reshuffled"),
                accuracy="train",
            ),
        ),
        figure="fig08_mixture_scaling",
    ),
    Claim(
        id="PUR-principle",
        paper=PAPER,
        kind="law",
        statement=(
            "Adversarial training (PGD, ℓ∞, ε = k^{-3/2}) continued from clean weights keeps most neurons: "
            "|cos(w_i, w_i')| > 1/√2, i.e. ‖β_i w_i'‖ > ‖v_i‖ for at least half of them (the paper's 'both "
            "barely correlate with the init' is reported as context: at init scale 0.01 it cannot fail)."
        ),
        source="[paper] purification principle; [derived] the 1/√2 form",
        sim=SIM09,
        chance=SPARSE_CHANCE,
        select=_condition("sparse-pgd_linf"),
        check=principle_check,
        controls=(Control("no clean training", FROM_INIT, _condition("from_init-pgd_linf")),),
        figure="fig09_purification",
    ),
    Claim(
        id="PUR-purify",
        paper=PAPER,
        kind="comparison",
        statement=(
            "PGD adversarial training (ℓ∞, ε = k^{-3/2}) removes the dense mixtures: ‖Mᵀv‖₁ (per unit "
            "of ‖w‖) falls at least 2× and purity rises for most neurons."
        ),
        source="[paper] feature purification; [derived] the measures",
        sim=SIM09,
        chance=SPARSE_CHANCE,
        select=_condition("sparse-pgd_linf"),
        check=purify_check,
        controls=(
            Control("no AT", "the same number of continued clean steps", _condition("sparse-none")),
            Control("dense codes", "k = d: nothing sparse to purify", _condition("dense-pgd_linf")),
        ),
        figure="fig09_purification",
    ),
    Claim(
        id="PUR-purify-l2",
        paper=PAPER,
        kind="comparison",
        statement="ℓ2 PGD adversarial training (ε = 0.25) purifies the neurons as ℓ∞ does.",
        source="[paper] the principle is stated for adversarial training in general",
        sim=SIM09,
        chance=SPARSE_CHANCE,
        select=_condition("sparse-pgd_l2"),
        check=purify_check,
        controls=(Control("no AT", "continued clean steps", _condition("sparse-none")),),
        figure="fig09_purification",
    ),
    Claim(
        id="PUR-fgm",
        paper=PAPER,
        kind="comparison",
        statement=(
            "Adversarial training on FGM points (one ℓ∞ step of ε = k^{-3/2} from the clean point) "
            "purifies like PGD: ‖Mᵀv‖₁/‖w‖ falls at least 2× and purity rises for most neurons."
        ),
        source="[paper] abstract: robust even with empirical perturbation algorithms such as FGM",
        sim=SIM09,
        chance=SPARSE_CHANCE,
        select=_condition("sparse-fgm_linf"),
        check=purify_check,
        controls=(
            Control("no AT", "continued clean steps", _condition("sparse-none")),
            Control("dense codes", "k = d", _condition("dense-fgm_linf")),
        ),
        figure="fig09_purification",
    ),
    Claim(
        id="PUR-fgm-path",
        paper=PAPER,
        kind="comparison",
        statement=(
            "Followed through the continued training, FGM-AT (ℓ∞, ε = k^{-3/2}) purifies as much as "
            "PGD-AT, if perhaps more slowly: once both medians of ‖Mᵀv‖₁/‖w‖ have plateaued (moved at "
            "most 5% over the last quarter of the run), FGM-AT's fall is at least 0.9 of PGD-AT's, at "
            "matched clean accuracy."
        ),
        source="[paper] abstract: robust even with FGM; issue #15 item 6 (purification dynamics)",
        sim=SIM09,
        chance=SPARSE_CHANCE,
        select=_condition("sparse-fgm_linf", "sparse-pgd_linf"),
        check=path_check(("sparse-fgm_linf",)),
        controls=(_PATH_NO_AT,),
        figure="fig09_purification_dynamics",
    ),
    Claim(
        id="PUR-l2-path",
        paper=PAPER,
        kind="existence",
        statement=(
            "ℓ2 PGD-AT at some radius up to the ℓ2 reach of the ℓ∞ ball (0.25, half and all of "
            "k^{-3/2}·√d) purifies as much as ℓ∞ PGD-AT once both have plateaued: its fall of "
            "‖Mᵀv‖₁/‖w‖ is at least 0.9 of ℓ∞ PGD-AT's, at matched clean accuracy."
        ),
        source="[paper] purification by adversarial training; issue #15 item 6 (matched strength)",
        sim=SIM09,
        chance=SPARSE_CHANCE,
        select=_condition(
            "sparse-pgd_l2", "sparse-pgd_l2_half", "sparse-pgd_l2_full", "sparse-pgd_linf"
        ),
        check=path_check(("sparse-pgd_l2", "sparse-pgd_l2_half", "sparse-pgd_l2_full")),
        controls=(_PATH_NO_AT,),
        figure="fig09_purification_dynamics",
    ),
    Claim(
        id="PUR-perturbation",
        paper=PAPER,
        kind="comparison",
        statement=(
            "Minimal attacks on clean nets are dense mixtures; after adversarial training they are "
            "pure: the median share of ‖Mᵀδ‖² on supp(z) of each point's minimal ℓ2 perturbation is "
            "< 0.5 before PGD-AT (ℓ∞) and >= 0.5 after."
        ),
        source="[paper, figure description] Figure 5, read on minimal perturbations",
        sim=SIM09,
        chance=SPARSE_CHANCE,
        select=_condition("sparse-pgd_linf"),
        check=minimal_density_check,
        controls=(Control("no AT", "continued clean steps", _condition("sparse-none")),),
        figure="fig09_purification",
    ),
    Claim(
        id="PUR-gap",
        paper=PAPER,
        kind="existence",
        statement=(
            "At equal clean accuracy, ℓ∞ PGD-AT at some training radius inside the feasible range "
            "exceeds the clean net's ℓ∞ robust accuracy by at least 50 points at some radius from 1/16 "
            "of the data's cap (half the median nearest other-class distance) to the cap."
        ),
        source="[paper] clean training non-robust at τ, AT robust at τ; [derived] the feasible range",
        sim=SIM10,
        chance=SPARSE_CHANCE,
        select=_condition("sparse"),
        check=gap_check,
        controls=(
            Control(
                "dense codes", "k = d, at the same fractions of its own cap", _condition("dense")
            ),
        ),
        figure="fig10_robust_window",
    ),
    Claim(
        id="PUR-fgm-robust",
        paper=PAPER,
        kind="comparison",
        statement=(
            "ℓ∞ adversarial training with the one-step fast gradient method is as robust as PGD-AT at "
            "the same training radius: at most 10 points below it at every radius up to that radius."
        ),
        source="[paper] even FGM training is robust where clean training is not",
        sim=SIM10,
        chance=SPARSE_CHANCE,
        select=_condition("sparse"),
        check=fgm_check(),
        controls=(
            Control(
                "clean net",
                "the same check with the clean-trained net in FGM-AT's place",
                _condition("sparse"),
                check=fgm_check("clean"),
            ),
        ),
        figure="fig10_robust_window",
    ),
    Claim(
        id="PUR-low-complexity",
        paper=PAPER,
        kind="comparison",
        statement=(
            "Logistic regression and the network's NTK model are no more ℓ∞-robust than the clean net "
            "at any radius from 1/16 of the data's cap to the cap."
        ),
        source="[paper] complexity lower bound",
        sim=SIM10,
        chance=SPARSE_CHANCE,
        select=_condition("sparse"),
        check=low_complexity_check(("linear", "ntk")),
        controls=(
            Control(
                "adversarially trained net",
                "the same check on PGD-AT at half the cap (not low-complexity)",
                _condition("sparse"),
                check=low_complexity_check(),
            ),
        ),
        figure="fig10_robust_window",
    ),
)
