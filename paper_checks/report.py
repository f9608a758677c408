"""Rendering of claim results: a terminal table, a Markdown report and JSON."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from paper_checks.claims import ClaimResult, Comparison

__all__ = ["to_json", "to_markdown", "to_terminal"]


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def _controls(r: ClaimResult) -> str:
    return "; ".join(f"{c.name}: {cmp.status} ({_num(cmp.measured)})" for c, cmp in r.controls)


def to_terminal(results: Sequence[ClaimResult]) -> str:
    """A fixed-width table, one line per claim, then the notes."""
    head = f"{'claim':<20} {'verdict':<13} {'measured':>10} {'predicted':>10}  {'tolerance':<24} controls"
    lines = [head, "-" * len(head)]
    for r in results:
        m = r.main
        lines.append(
            f"{r.claim.id:<20} {r.verdict:<13} {_num(m.measured):>10} "
            f"{_num(m.predicted):>10}  {m.tolerance:<24} {_controls(r)}"
        )
    for r in results:
        if r.note:
            lines.append(f"  {r.claim.id}: {r.note}")
    counts = {s: sum(r.verdict == s for r in results) for s in ("holds", "fails", "inconclusive")}
    lines.append(f"{len(results)} claims: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return "\n".join(lines)


def _cmp_json(c: Comparison) -> dict[str, Any]:
    return {
        "status": c.status,
        "measured": c.measured,
        "predicted": c.predicted,
        "tolerance": c.tolerance,
        "detail": c.detail,
        "n_runs": c.n_runs,
    }


def to_json(results: Sequence[ClaimResult]) -> list[dict[str, Any]]:
    """Plain data for ``--json``."""
    return [
        {
            "id": r.claim.id,
            "paper": r.claim.paper,
            "statement": r.claim.statement,
            "source": r.claim.source,
            "sim": r.claim.sim,
            "verdict": r.verdict,
            "note": r.note,
            "main": _cmp_json(r.main),
            "controls": [
                {"name": c.name, "description": c.description, **_cmp_json(cmp)}
                for c, cmp in r.controls
            ],
        }
        for r in results
    ]


def to_markdown(results: Sequence[ClaimResult], *, report_path: Path, figures_dir: Path) -> str:
    """The Markdown report, with figures linked relative to ``report_path``."""
    out = [
        "# advsim — paper checks",
        "",
        "Each claim joins a measurement from the simulation records with a prediction from "
        "`theory/`. A claim *holds* only if its negative controls (runs where a theorem condition "
        "is broken) make the same check fail. A claim that fails is a finding.",
        "",
        "| claim | verdict | measured | predicted | tolerance | negative controls |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        m = r.main
        out.append(
            f"| {r.claim.id} | **{r.verdict}** | {_num(m.measured)} | {_num(m.predicted)} | "
            f"{m.tolerance} | {_controls(r)} |"
        )
    out.append("")
    for r in results:
        c = r.claim
        out += [
            f"## {c.id} — {r.verdict}",
            "",
            f"*{c.paper}* — {c.source}.",
            "",
            c.statement,
            "",
            f"- measured: {_num(r.main.measured)}; predicted: {_num(r.main.predicted)}; "
            f"tolerance: {r.main.tolerance}; runs: {r.main.n_runs} (sim `{c.sim}`)",
        ]
        if r.main.detail:
            out.append(f"- detail: {r.main.detail}")
        for ctl, cmp in r.controls:
            out.append(
                f"- negative control *{ctl.name}* ({ctl.description}): **{cmp.status}**, "
                f"measured {_num(cmp.measured)} over {cmp.n_runs} runs"
            )
        if r.note:
            out.append(f"- note: {r.note}")
        if c.figure:
            png = figures_dir / f"{c.figure}.png"
            rel = os.path.relpath(png, report_path.parent)
            out += ["", f"![{c.figure}]({rel})"]
        out.append("")
    return "\n".join(out)
