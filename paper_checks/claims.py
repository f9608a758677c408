"""The claim machinery: a claim joins a measurement from records with a prediction from ``theory``.

A :class:`Claim` names the paper statement, the simulation whose records it reads, which runs satisfy
the theorem's conditions (``select``), a ``check`` that turns those runs into a :class:`Comparison`
(measured vs predicted at a stated tolerance), and one or more :class:`Control` selections where a
condition is broken. The *same* check runs on each control; a check whose controls do not all come out
``fails`` cannot tell the theorem's regime from its absence, so the claim is then ``inconclusive`` however
well the main comparison agrees. Verdicts:

* ``holds`` — the main comparison is within tolerance and every negative control flips;
* ``fails`` — the main comparison is outside tolerance (a finding, reported as such);
* ``inconclusive`` — no records, no prediction, or a control that did not flip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sims.records import RunRecord, load_records

__all__ = ["Check", "Claim", "ClaimResult", "Comparison", "Control", "Status", "evaluate"]

Status = Literal["holds", "fails", "inconclusive"]
Check = Callable[[Sequence[RunRecord]], "Comparison"]
Select = Callable[[RunRecord], bool]


@dataclass(frozen=True)
class Comparison:
    """A check's outcome on one set of runs."""

    status: Status
    measured: float | None
    predicted: float | None
    tolerance: str
    detail: str = ""
    n_runs: int = 0


@dataclass(frozen=True)
class Control:
    """A negative control: runs where a theorem condition is broken; the check must say ``fails``.

    ``check`` (rarely needed) applies the claim's check to another subject *within* the selected runs —
    e.g. the adversarially trained net in place of the low-complexity model a claim is about — when the
    broken condition is a model the same run also trained; by default the claim's own check runs.
    """

    name: str
    description: str
    select: Select
    check: Check | None = None


@dataclass(frozen=True)
class Claim:
    """One paper claim as advsim checks it.

    Attributes:
        id: short stable identifier, e.g. ``"MYV-frozen"``.
        paper: the paper.
        statement: the claim in our words.
        source: where it comes from (``[paper]``, ``[recalled]``, ``[derived]`` as in PAPERS.md).
        sim: the simulation id whose records are read.
        select: which runs satisfy the claim's conditions.
        check: the comparison of measurement and prediction.
        controls: the negative controls.
        figure: the figure that shows it (file stem), if any.
    """

    id: str
    paper: str
    statement: str
    source: str
    sim: str
    select: Select
    check: Check
    controls: tuple[Control, ...]
    figure: str | None = None


@dataclass(frozen=True)
class ClaimResult:
    """A claim's verdict with the comparisons behind it."""

    claim: Claim
    verdict: Status
    main: Comparison
    controls: list[tuple[Control, Comparison]] = field(default_factory=list)
    note: str = ""


def _apply(check: Check, runs: Sequence[RunRecord]) -> Comparison:
    if not runs:
        return Comparison("inconclusive", None, None, "", "no matching records", 0)
    return check(runs)


def evaluate(claim: Claim, results: str | Path) -> ClaimResult:
    """Evaluate ``claim`` on the records of ``claim.sim`` under ``results``."""
    records = load_records(results, claim.sim)
    main = _apply(claim.check, [r for r in records if claim.select(r)])
    controls = [
        (c, _apply(c.check or claim.check, [r for r in records if c.select(r)]))
        for c in claim.controls
    ]
    if not claim.controls:
        raise ValueError(f"claim {claim.id} has no negative control: a check that cannot fail")
    if main.status == "inconclusive":
        return ClaimResult(claim, "inconclusive", main, controls, main.detail)
    if main.status == "fails":
        return ClaimResult(
            claim,
            "fails",
            main,
            controls,
            "measured outside tolerance: a finding, not a bug to tune away",
        )
    unflipped = [c.name for c, r in controls if r.status != "fails"]
    if unflipped:
        return ClaimResult(
            claim,
            "inconclusive",
            main,
            controls,
            f"negative control(s) {', '.join(unflipped)} did not flip the verdict",
        )
    return ClaimResult(claim, "holds", main, controls, "")
