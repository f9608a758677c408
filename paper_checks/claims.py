"""The claim machinery: a claim joins a measurement (with its interval) from records with a band from
``theory``, and a verdict follows from where the interval lies.

A :class:`Claim` names the paper statement, its ``kind``, the simulation whose records it reads, which runs
satisfy the theorem's conditions (``select``), a ``check`` that turns those runs into a :class:`Comparison`
(the measured value, its 95% interval from :mod:`paper_checks.stats`, and the band the claim predicts), and
one or more :class:`Control` selections where a condition is broken. The *same* check runs on each control.

Kinds (DESIGN.md, "Paper checks"):

* ``identity`` — an exact consequence of the update rule, checked at machine precision: the measured value
  is a worst case with no interval; it can only fail through a bug;
* ``law`` — a predicted value or exponent within a band;
* ``comparison`` — the sign or size of a difference between methods or conditions;
* ``existence`` — a phenomenon appears somewhere in a stated region.

Verdict rule (one rule for every claim and every control):

* a comparison **holds** when its whole interval lies inside the band, **fails** when the whole interval
  lies outside it, and is **inconclusive** otherwise ("interval [0.031, 0.072] straddles the band edge
  0.05"); an identity compares its measured worst case with the band;
* a claim **holds** when its main comparison holds, every control comes out ``fails``, and every control is
  *valid* — it trained: its clean (or, for controls that must not generalise, its training) accuracy is at
  most :data:`VALID_DROP` below the main runs'. A control that did not train, or did not flip, leaves the
  claim inconclusive; a main comparison that fails is a finding whatever the controls say — except a
  noise floor (``expect="null"``: the same method run again, e.g. with another attack seed) that is
  measured and excludes its null value: then differences of that kind separate two runs of one method,
  which the interval does not resample, and the failure is inconclusive;
* the main runs must have trained too, where the claim states its task's chance level
  (:attr:`Claim.chance`): clean accuracy at least :data:`VALID_DROP` above a constant prediction's.
  A model that did not learn the task (e.g. adversarial training that collapsed to a silent network)
  can neither show nor refute what training does to it: its claim is inconclusive, failure or not.

A claim evaluated on several rungs of the scale ladder (``quick``, ``medium``, ``paper``) gets one result
per rung (:func:`evaluate_scales`); for laws the distance from the band per rung shows whether a failure is
*approaching* the prediction as the setting moves toward the paper's (:func:`trend`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from paper_checks.stats import Interval
from sims.records import RunRecord, load_records

__all__ = [
    "INF",
    "KINDS",
    "SCALE_ORDER",
    "VALID_DROP",
    "Check",
    "Claim",
    "ClaimResult",
    "Comparison",
    "Control",
    "Kind",
    "Status",
    "accuracies",
    "all_of",
    "band_text",
    "control_flipped",
    "distance_to_band",
    "evaluate",
    "evaluate_scales",
    "exact",
    "judge",
    "main_trained",
    "missing",
    "scales_present",
    "trend",
]

Status = Literal["holds", "fails", "inconclusive"]
Kind = Literal["identity", "law", "comparison", "existence"]
KINDS: tuple[Kind, ...] = ("law", "comparison", "existence", "identity")
Check = Callable[[Sequence[RunRecord]], "Comparison"]
Select = Callable[[RunRecord], bool]
INF = math.inf
#: A control is valid only if its accuracy is at most this far below the main runs' (issue #13).
VALID_DROP = 0.1
#: The scale ladder, smallest first.
SCALE_ORDER = ("quick", "medium", "paper")


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def band_text(band: tuple[float, float]) -> str:
    """``[lo, hi]`` in words: ``>= lo``, ``<= hi`` or ``in [lo, hi]``."""
    lo, hi = band
    if lo == -INF and hi == INF:
        return "any value"
    if lo == -INF:
        return f"<= {_fmt(hi)}"
    if hi == INF:
        return f">= {_fmt(lo)}"
    return f"in [{_fmt(lo)}, {_fmt(hi)}]"


@dataclass(frozen=True)
class Comparison:
    """A check's outcome on one set of runs.

    Attributes:
        status: the verdict of this comparison alone (see :func:`judge`).
        measured: the point estimate (identities: the worst case over runs and members).
        band: the values the claim allows, ``(lo, hi)``; ``±inf`` for one-sided bands.
        ci: the 95% interval of ``measured``; ``None`` for identities (exact, no sampling error).
        predicted: the theory's value, where the band is built around one.
        reason: why the status, in words.
        detail: the numbers behind it.
        n_runs: records read.
        n_seeds: independent seeds (ensemble members) behind the interval.
        train_acc: mean training accuracy of the runs' models (validity of a control), if it applies.
        clean_acc: mean clean test accuracy of the runs' models, if it applies.
        parts: sub-comparisons when a statement has several parts (all must hold, :func:`all_of`) or
            several alternatives (one must hold, :func:`any_of`).
        label: the part's name, for a sub-comparison.
        unreliable: why the interval cannot be read as the measurement it names (e.g. curves compared
            at levels many resamples do not reach), or ``""``: such a comparison is inconclusive, and
            as a control it shows nothing.
    """

    status: Status
    measured: float | None
    band: tuple[float, float] = (-INF, INF)
    ci: tuple[float, float] | None = None
    predicted: float | None = None
    reason: str = ""
    detail: str = ""
    n_runs: int = 0
    n_seeds: int = 0
    train_acc: float | None = None
    clean_acc: float | None = None
    parts: tuple[Comparison, ...] = ()
    label: str = ""
    unreliable: str = ""

    @property
    def tolerance(self) -> str:
        """The band in words."""
        return band_text(self.band)

    @property
    def half_width(self) -> float | None:
        """Half the interval's width: the smallest effect this comparison resolves."""
        return None if self.ci is None else 0.5 * (self.ci[1] - self.ci[0])

    def with_accuracy(self, train_acc: float | None, clean_acc: float | None) -> Comparison:
        """The same comparison, reporting the accuracies of the models it read."""
        return replace(self, train_acc=train_acc, clean_acc=clean_acc)


def _judge_interval(lo: float, hi: float, band: tuple[float, float]) -> tuple[Status, str]:
    blo, bhi = band
    shown = f"interval [{_fmt(lo)}, {_fmt(hi)}]"
    if lo >= blo and hi <= bhi:
        return "holds", f"{shown} inside the band {band_text(band)}"
    if hi < blo or lo > bhi:
        return "fails", f"{shown} outside the band {band_text(band)}"
    edge = blo if lo < blo <= hi else bhi
    return "inconclusive", f"{shown} straddles the band edge {_fmt(edge)}"


def judge(
    interval: Interval,
    band: tuple[float, float],
    *,
    predicted: float | None = None,
    detail: str = "",
    n_runs: int = 0,
    label: str = "",
) -> Comparison:
    """A comparison from a measured interval and the band the claim allows (the verdict rule)."""
    lo, hi = interval.lo, interval.hi
    if not (math.isfinite(interval.estimate) and not math.isnan(lo) and not math.isnan(hi)):
        return Comparison(
            "inconclusive",
            None if math.isnan(interval.estimate) else interval.estimate,
            band,
            None,
            predicted,
            "no finite estimate",
            detail,
            n_runs,
            interval.n_seeds,
            label=label,
        )
    status, reason = _judge_interval(lo, hi, band)
    if not (math.isfinite(lo) and math.isfinite(hi)) and status == "inconclusive":
        reason = f"no interval ({interval.method or 'too few seeds'}); " + reason
    return Comparison(
        status,
        interval.estimate,
        band,
        (lo, hi),
        predicted,
        reason,
        detail,
        n_runs,
        interval.n_seeds,
        label=label,
    )


def exact(
    measured: float,
    band: tuple[float, float],
    *,
    predicted: float | None = None,
    detail: str = "",
    n_runs: int = 0,
    n_seeds: int = 0,
    label: str = "",
) -> Comparison:
    """A comparison for an *identity*: the measured worst case against the band, no interval."""
    if math.isnan(measured):
        return Comparison(
            "inconclusive", None, band, None, predicted, "measured NaN", detail, n_runs, n_seeds
        )
    inside = band[0] <= measured <= band[1]
    return Comparison(
        "holds" if inside else "fails",
        measured,
        band,
        None,
        predicted,
        f"{_fmt(measured)} {'inside' if inside else 'outside'} the band {band_text(band)}",
        detail,
        n_runs,
        n_seeds,
        label=label,
    )


def missing(reason: str, band: tuple[float, float] = (-INF, INF), n_runs: int = 0) -> Comparison:
    """An inconclusive comparison: the runs cannot answer (no records, too few levels, ...)."""
    return Comparison("inconclusive", None, band, None, None, reason, "", n_runs)


def all_of(parts: Sequence[Comparison], *, detail: str = "") -> Comparison:
    """A statement with several parts: it holds when every part holds and fails when any part fails.

    The first part is the headline (its measured value, interval and band are the comparison's); the
    others are kept in ``parts`` and named in the reason.
    """
    if not parts:
        raise ValueError("all_of needs at least one part")
    head = parts[0]
    if any(p.status == "fails" for p in parts):
        status: Status = "fails"
    elif all(p.status == "holds" for p in parts):
        status = "holds"
    else:
        status = "inconclusive"
    return _joined(head, status, "", "part", parts, detail)


def _joined(
    head: Comparison,
    status: Status,
    prefix: str,
    name: str,
    parts: Sequence[Comparison],
    detail: str,
) -> Comparison:
    """``head`` with the joint ``status``, every part named in the reason (after ``prefix``; an
    unlabelled part as ``name i``) and kept in ``parts``."""
    reason = prefix + "; ".join(
        f"{p.label or name + ' ' + str(i + 1)}: {p.status} — {p.reason}"
        for i, p in enumerate(parts)
    )
    return replace(
        head,
        status=status,
        reason=reason,
        detail="; ".join(x for x in (detail, *(p.detail for p in parts)) if x),
        n_runs=max(p.n_runs for p in parts),
        n_seeds=min(p.n_seeds for p in parts),
        parts=tuple(parts),
    )


#: How the reason of an :func:`any_of` comparison begins.
ANY_OF_PREFIX = "one of: "


def any_of(parts: Sequence[Comparison], *, detail: str = "") -> Comparison:
    """An existence statement over alternatives: it holds when some part holds and fails when every
    part fails (otherwise inconclusive). The headline is the part that holds (the first), else the
    first inconclusive one, else the first; every part is kept in ``parts`` and named in the reason.
    Each part's interval must already account for the search over alternatives (e.g. simultaneous
    bands, :func:`paper_checks.stats.simultaneous`): picking the best of several 95% intervals would
    not be a 95% statement."""
    if not parts:
        raise ValueError("any_of needs at least one part")
    if any(p.status == "holds" for p in parts):
        status: Status = "holds"
    elif all(p.status == "fails" for p in parts):
        status = "fails"
    else:
        status = "inconclusive"
    head = next((p for p in parts if p.status == status), parts[0])
    return _joined(head, status, ANY_OF_PREFIX, "alternative", parts, detail)


@dataclass(frozen=True)
class Control:
    """A negative control: runs where a theorem condition is broken; the check must say ``fails``.

    ``check`` (rarely needed) applies the claim's check to another subject *within* the selected runs —
    e.g. the adversarially trained net in place of the low-complexity model a claim is about — when the
    broken condition is a model the same run also trained; by default the claim's own check runs.

    ``accuracy`` names which accuracy shows that the control trained: ``"clean"`` (test accuracy, the
    default), ``"train"`` (training accuracy — for controls that must not generalise, e.g. shuffled
    labels) or ``"none"`` with a ``no_accuracy`` reason (exact statistics of an attack, no training).

    ``expect`` is what the control must come out as: ``"fails"`` (default: the broken condition makes the
    check fail) or ``"not_holds"`` for a *noise-floor* control — the same method with another seed in the
    candidate's place, whose true effect is zero: its interval then straddles the band edge
    (inconclusive) as often as it excludes it, and what would disqualify the claim is only that the noise
    floor itself *holds*. ``"null"`` is the strict noise floor: the control's interval must straddle the
    band edge (contain the null value), so a noise floor that excludes it on *either* side — a bias of
    the comparison itself, or an interval too narrow — keeps the claim from holding.
    """

    name: str
    description: str
    select: Select
    check: Check | None = None
    accuracy: Literal["clean", "train", "none"] = "clean"
    no_accuracy: str = ""
    expect: Literal["fails", "not_holds", "null"] = "fails"


@dataclass(frozen=True)
class Claim:
    """One paper claim as advsim checks it.

    Attributes:
        id: short stable identifier, e.g. ``"MYV-frozen"``.
        paper: the paper.
        kind: ``identity``, ``law``, ``comparison`` or ``existence`` (see the module docstring).
        statement: the claim in our words.
        source: where it comes from (``[paper]``, ``[recalled]``, ``[derived]`` as in PAPERS.md).
        sim: the simulation id whose records are read.
        select: which runs satisfy the claim's conditions.
        check: the comparison of measurement and band.
        controls: the negative controls.
        figure: the figure that shows it (file stem), if any.
        chance: the clean accuracy of a constant prediction on the claim's task (0.5 for balanced
            binary labels), or ``None``: then the main runs' accuracy is not judged. Where set, main
            runs whose clean accuracy is below ``chance + VALID_DROP`` did not train, and the verdict
            is inconclusive (:func:`main_trained`).
    """

    id: str
    paper: str
    kind: Kind
    statement: str
    source: str
    sim: str
    select: Select
    check: Check
    controls: tuple[Control, ...]
    figure: str | None = None
    chance: float | None = None

    def __post_init__(self) -> None:
        if self.chance is not None and not 0.0 <= self.chance < 1.0:
            raise ValueError(f"claim {self.id}: chance must lie in [0, 1), got {self.chance!r}")
        if self.chance is not None and self.kind == "identity":
            raise ValueError(
                f"claim {self.id}: an identity is exact whatever the training; got chance="
                f"{self.chance!r} (leave it None)"
            )
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id}: kind must be one of {KINDS}, got {self.kind!r}")
        if not self.controls:
            raise ValueError(f"claim {self.id} has no negative control: a check that cannot fail")


@dataclass(frozen=True)
class ClaimResult:
    """A claim's verdict at one scale, with the comparisons behind it; ``trained`` is false where the main
    runs did not learn the task (:func:`main_trained`), which made the verdict inconclusive."""

    claim: Claim
    verdict: Status
    main: Comparison
    controls: list[tuple[Control, Comparison]] = field(default_factory=list)
    note: str = ""
    scale: str = "quick"
    validity: list[tuple[bool, str]] = field(default_factory=list)
    trained: bool = True


def accuracies(
    runs: Sequence[RunRecord], train_key: str = "train_acc", test_key: str = "test_acc"
) -> tuple[float | None, float | None]:
    """Mean training and clean test accuracy over the runs' members, from the arrays ``train_key`` and
    ``test_key`` (``None`` where a run does not record one): what a control reports to show it trained."""
    import numpy as np

    found: dict[str, list[float]] = {train_key: [], test_key: []}
    for r in runs:
        arrays = r.arrays()
        for key, vals in found.items():
            if key in arrays:
                vals.append(float(np.asarray(arrays[key], dtype=float).mean()))
    train, test = found[train_key], found[test_key]
    return (float(np.mean(train)) if train else None, float(np.mean(test)) if test else None)


def _apply(check: Check, runs: Sequence[RunRecord]) -> Comparison:
    if not runs:
        return missing("no matching records")
    return check(runs)


def _valid(
    control: Control, main: Comparison, cmp: Comparison, chance: float | None = None
) -> tuple[bool, str]:
    """Whether a control trained: its accuracy at most :data:`VALID_DROP` below the main runs', and —
    where the claim states its task's ``chance`` level and the control reads clean accuracy — at least
    :data:`VALID_DROP` above a constant prediction's (a control at chance shows nothing, whatever the
    main runs reached)."""
    if control.accuracy == "none":
        return True, control.no_accuracy or "no training involved"
    mine = cmp.train_acc if control.accuracy == "train" else cmp.clean_acc
    ref = main.train_acc if control.accuracy == "train" else main.clean_acc
    what = "training" if control.accuracy == "train" else "clean"
    if mine is None or ref is None:
        return True, f"{what} accuracy not reported"
    why = f"{what} accuracy {mine:.3f} vs {ref:.3f} in the main runs"
    if control.accuracy == "clean" and chance is not None and mine < chance + VALID_DROP:
        return (
            False,
            f"{why}, and below {chance + VALID_DROP:.2f} (chance {chance:.2f} + {VALID_DROP})",
        )
    return mine >= ref - VALID_DROP, why


def main_trained(claim: Claim, main: Comparison) -> tuple[bool, str]:
    """Whether the main runs learned the task: clean accuracy at least :data:`VALID_DROP` above
    :attr:`Claim.chance` (always true where the claim states no chance level or the runs report no
    clean accuracy). The reason is ``""`` where they did."""
    if claim.chance is None or main.clean_acc is None:
        return True, ""
    floor = claim.chance + VALID_DROP
    if main.clean_acc >= floor:
        return True, ""
    return False, (
        f"clean accuracy {main.clean_acc:.3f}, below {floor:.2f} "
        f"(a constant prediction's {claim.chance:.2f} + {VALID_DROP})"
    )


def _bounded(cmp: Comparison) -> bool:
    """A measurement with a finite interval (what a noise-floor control must have to show anything)."""
    return cmp.measured is not None and cmp.ci is not None and all(math.isfinite(x) for x in cmp.ci)


def control_flipped(control: Control, cmp: Comparison) -> bool:
    """Whether a control came out as it must (:attr:`Control.expect`); an unreliable comparison
    (:attr:`Comparison.unreliable`) shows nothing, whatever its status."""
    if cmp.unreliable:
        return False
    if control.expect == "fails":
        return cmp.status == "fails"
    if control.expect == "null":
        if not _bounded(cmp) or cmp.ci is None:
            return False
        lo, hi = cmp.band
        edge = lo if math.isfinite(lo) else hi
        return cmp.ci[0] <= edge <= cmp.ci[1]
    return cmp.status != "holds" and _bounded(cmp)


def _verdict(
    main: Comparison,
    controls: Sequence[tuple[Control, Comparison]],
    validity: Sequence[tuple[bool, str]],
) -> tuple[Status, str]:
    if main.status == "inconclusive":
        return "inconclusive", main.reason
    if main.status == "fails":
        biased = [
            (c.name, r)
            for c, r in controls
            if c.expect == "null"
            and not r.unreliable
            and r.ci is not None
            and not control_flipped(c, r)
        ]
        if biased:
            return "inconclusive", (
                f"{main.reason}; but the noise floor "
                + "; ".join(f"{n} [{r.ci[0]:.4g}, {r.ci[1]:.4g}]" for n, r in biased if r.ci)
                + " excludes the null value too: a difference like this one also separates two runs "
                "of the same method, which the interval does not resample, so the failure is not a "
                "finding"
            )
        return "fails", f"{main.reason}: a finding, not a bug to tune away"
    invalid = [c.name for (c, _), (ok, _) in zip(controls, validity, strict=True) if not ok]
    if invalid:
        return "inconclusive", f"control(s) {', '.join(invalid)} did not train (not valid controls)"
    unflipped = [
        (c.name, r)
        for c, r in controls
        # a noise-floor control that could not be measured, or whose interval is unbounded, shows
        # nothing: it does not pass
        if not control_flipped(c, r)
    ]
    if unflipped:
        return "inconclusive", "negative control(s) did not flip the verdict: " + "; ".join(
            f"{n} ({r.status}: {r.reason})" for n, r in unflipped
        )
    return "holds", main.reason


def evaluate(claim: Claim, results: str | Path, scale: str | None = "latest") -> ClaimResult:
    """Evaluate ``claim`` on the records of ``claim.sim`` under ``results`` at ``scale``.

    ``scale="latest"`` reads the scale of the newest record (what :func:`sims.records.load_records`
    does by default).
    """
    records = load_records(results, claim.sim, scale=scale)
    found = str(records[0].data.get("scale", "quick")) if records else (scale or "quick")
    main = _apply(claim.check, [r for r in records if claim.select(r)])
    controls = [
        (c, _apply(c.check or claim.check, [r for r in records if c.select(r)]))
        for c in claim.controls
    ]
    validity = [_valid(c, main, cmp, claim.chance) for c, cmp in controls]
    if claim.kind != "identity" and main.measured is not None and main.ci is None:
        main = replace(main, status="inconclusive", reason="no interval: " + main.reason)
    verdict, note = _verdict(main, controls, validity)
    trained, why = main_trained(claim, main)
    if not trained:
        verdict, note = "inconclusive", f"the main runs did not train ({why}); {main.reason}"
    return ClaimResult(claim, verdict, main, controls, note, found, list(validity), trained)


def scales_present(results: str | Path, sims: Sequence[str]) -> list[str]:
    """The rungs of the scale ladder with records of any of ``sims`` under ``results``, in ladder order."""
    found: set[str] = set()
    for sim in sims:
        for r in load_records(results, sim, scale=None):
            found.add(str(r.data.get("scale", "quick")))
    ordered = [s for s in SCALE_ORDER if s in found]
    return ordered + sorted(found - set(SCALE_ORDER))


def evaluate_scales(claim: Claim, results: str | Path, scales: Sequence[str]) -> list[ClaimResult]:
    """One result per rung in ``scales`` that has records of the claim's simulation; where no rung has
    any, one (inconclusive: no records) result at the first rung, so no claim drops out of a report."""
    out = []
    for s in scales:
        if load_records(results, claim.sim, scale=s):
            out.append(evaluate(claim, results, scale=s))
    if not out and scales:
        out.append(evaluate(claim, results, scale=scales[0]))
    return out


def distance_to_band(c: Comparison) -> float | None:
    """How far the measured value lies outside the band (0 inside); ``None`` without a value."""
    if c.measured is None:
        return None
    lo, hi = c.band
    return max(lo - c.measured, c.measured - hi, 0.0)


def trend(per_scale: Sequence[ClaimResult]) -> str:
    """For a law on several rungs: ``"approaching"`` when it fails on a rung but its distance from the band
    shrinks at every larger rung, ``"persists"`` when it fails on the largest rung without shrinking,
    ``""`` otherwise (one rung, or no failure). Rungs whose main runs did not train
    (:attr:`ClaimResult.trained`) are left out: their distance measures the failure to train."""
    per_scale = [r for r in per_scale if r.trained]
    if len(per_scale) < 2 or per_scale[0].claim.kind != "law":
        return ""
    dist = [distance_to_band(r.main) for r in per_scale]
    if any(d is None for d in dist) or not any(r.verdict == "fails" for r in per_scale):
        return ""
    ds = [float(d) for d in dist if d is not None]
    shrinking = all(b < a for a, b in itertools.pairwise(ds))
    if shrinking:
        return "approaching"
    return "persists" if per_scale[-1].verdict == "fails" else ""
