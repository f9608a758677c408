"""Rendering of claim results: a terminal table, a Markdown report and JSON, grouped by kind and scale.

Every function takes the flat list of :class:`~paper_checks.claims.ClaimResult` (one per claim and rung of
the scale ladder present) and groups it by claim, in registry order. The JSON is a public contract (issue
#13): ``{"claims": [{"id", "paper", "kind", "scale", "verdict", "measured", "ci", "band", "n_seeds",
"controls": [{"name", "verdict", "measured", "ci", "valid"}]}], ...}`` — one entry per claim and scale;
other keys may be added, none of these renamed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from paper_checks.claims import KINDS, SCALE_ORDER, ClaimResult, Comparison, band_text, trend

__all__ = ["by_claim", "counts_line", "to_json", "to_markdown", "to_terminal"]

_KIND_TITLE = {
    "law": "Laws (a predicted value or exponent within a band)",
    "comparison": "Comparisons (the sign or size of a difference)",
    "existence": "Existence (a phenomenon appears in a stated region)",
    "identity": "Identities (exact consequences of the update rule, machine precision)",
}


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def _ci(c: Comparison) -> str:
    if c.ci is None:
        return "exact" if c.measured is not None else "—"
    return f"[{_num(c.ci[0])}, {_num(c.ci[1])}]"


def _hw(c: Comparison) -> str:
    hw = c.half_width
    return "—" if hw is None or not math.isfinite(hw) else f"±{hw:.2g}"


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def by_claim(results: Sequence[ClaimResult]) -> list[list[ClaimResult]]:
    """Results grouped by claim (registry order kept), each group in ladder order."""
    groups: dict[str, list[ClaimResult]] = {}
    for r in results:
        groups.setdefault(r.claim.id, []).append(r)
    rank = {s: i for i, s in enumerate(SCALE_ORDER)}
    return [sorted(g, key=lambda r: rank.get(r.scale, len(rank))) for g in groups.values()]


def _scales(results: Sequence[ClaimResult]) -> list[str]:
    found = {r.scale for r in results}
    return [s for s in SCALE_ORDER if s in found] + sorted(found - set(SCALE_ORDER))


def counts_line(results: Sequence[ClaimResult], scale: str) -> str:
    """``N paper claims (laws, comparisons, existence) and M identities`` with the verdicts at ``scale``."""
    rs = [r for r in results if r.scale == scale]
    kinds = {k: [r for r in rs if r.claim.kind == k] for k in KINDS}
    paper = [r for r in rs if r.claim.kind != "identity"]

    def verdicts(group: Sequence[ClaimResult]) -> str:
        return ", ".join(
            f"{sum(r.verdict == v for r in group)} {v}" for v in ("holds", "fails", "inconclusive")
        )

    return (
        f"[{scale}] {len(paper)} paper claims ({len(kinds['law'])} laws, "
        f"{len(kinds['comparison'])} comparisons, {len(kinds['existence'])} existence): "
        f"{verdicts(paper)}; and {len(kinds['identity'])} identities: {verdicts(kinds['identity'])}"
    )


def _controls(r: ClaimResult) -> str:
    parts = []
    for (c, cmp), (ok, _) in zip(r.controls, r.validity, strict=False):
        mark = "" if ok else " INVALID"
        parts.append(f"{c.name}: {cmp.status}{mark}")
    return "; ".join(parts)


def to_terminal(results: Sequence[ClaimResult]) -> str:
    """A fixed-width table per kind, one line per claim and rung, then the notes and the counts."""
    lines: list[str] = []
    groups = by_claim(results)
    head = (
        f"{'claim':<24} {'scale':<7} {'verdict':<13} {'measured':>9} {'95% interval':<22} "
        f"{'±':>7}  {'band':<18} {'trend':<11} controls"
    )
    for kind in KINDS:
        in_kind = [g for g in groups if g[0].claim.kind == kind]
        if not in_kind:
            continue
        lines += ["", _KIND_TITLE[kind], head, "-" * len(head)]
        for g in in_kind:
            tr = trend(g)
            for r in g:
                m = r.main
                lines.append(
                    f"{r.claim.id:<24} {r.scale:<7} {r.verdict:<13} {_num(m.measured):>9} "
                    f"{_ci(m):<22} {_hw(m):>7}  {band_text(m.band):<18} {tr:<11} {_controls(r)}"
                )
    notes = [f"  {r.claim.id} [{r.scale}]: {r.note}" for g in groups for r in g if r.note]
    if notes:
        lines += ["", "Reasons:", *notes]
    lines.append("")
    lines += [counts_line(results, s) for s in _scales(results)]
    return "\n".join(lines).lstrip("\n")


def _cmp_json(c: Comparison) -> dict[str, Any]:
    return {
        "measured": c.measured,
        "ci": None if c.ci is None else [_finite(c.ci[0]), _finite(c.ci[1])],
        "band": [c.band[0], c.band[1]],
        "predicted": c.predicted,
        "reason": c.reason,
        "detail": c.detail,
        "n_runs": c.n_runs,
        "n_seeds": c.n_seeds,
        "train_acc": c.train_acc,
        "clean_acc": c.clean_acc,
        "parts": [{"label": p.label, "status": p.status, **_cmp_json(p)} for p in c.parts],
        "unreliable": c.unreliable,
    }


def to_json(results: Sequence[ClaimResult], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Plain data for ``--json`` (the contract in the module docstring). Infinite band edges are written
    as ``Infinity``/``-Infinity`` (Python's ``json`` reads them back)."""
    claims = []
    for g in by_claim(results):
        tr = trend(g)
        for r in g:
            c, m = r.claim, r.main
            claims.append(
                {
                    "id": c.id,
                    "paper": c.paper,
                    "kind": c.kind,
                    "scale": r.scale,
                    "verdict": r.verdict,
                    "measured": m.measured,
                    "ci": None if m.ci is None else [_finite(m.ci[0]), _finite(m.ci[1])],
                    "band": [m.band[0], m.band[1]],
                    "half_width": _finite(m.half_width) if m.half_width is not None else None,
                    "n_seeds": m.n_seeds,
                    "trend": tr,
                    "statement": c.statement,
                    "source": c.source,
                    "sim": c.sim,
                    "note": r.note,
                    "trained": r.trained,
                    "main": {"status": m.status, **_cmp_json(m)},
                    "controls": [
                        {
                            "name": ctl.name,
                            "description": ctl.description,
                            "verdict": cmp.status,
                            "measured": cmp.measured,
                            "ci": None
                            if cmp.ci is None
                            else [_finite(cmp.ci[0]), _finite(cmp.ci[1])],
                            "valid": ok,
                            "validity": why,
                            "reason": cmp.reason,
                            "n_seeds": cmp.n_seeds,
                        }
                        for (ctl, cmp), (ok, why) in zip(r.controls, r.validity, strict=False)
                    ],
                }
            )
    return {"meta": dict(meta or {}), "claims": claims}


def to_markdown(
    results: Sequence[ClaimResult],
    *,
    report_path: Path,
    figures_dir: Path,
    verdict_figure: str | None = "fig00_verdicts",
    skipped: Sequence[tuple[str, str]] = (),
) -> str:
    """The Markdown report: the verdict figure first, then one table per kind, then one section per claim;
    figures linked relative to ``report_path``; ``skipped`` lists unreadable records ``(path, reason)``."""

    def link(stem: str) -> str:
        return os.path.relpath(figures_dir / f"{stem}.png", report_path.parent)

    scales = _scales(results)
    out = [
        "# advsim — paper checks",
        "",
        "Each claim joins a measurement from the simulation records, with its 95% interval (bootstrap "
        "over seeds, points nested within seeds; paired where two methods share seeds and data), with "
        "the band `theory/` and the claim allow. A claim *holds* when its whole interval lies inside the "
        "band and every negative control (runs where a theorem condition is broken, which must have "
        "trained) comes out *fails* (a noise floor — the same method with another seed — must instead "
        "not hold, or, strictly, contain the null value); it *fails* when the whole interval lies "
        "outside the band — a "
        "finding; otherwise it is *inconclusive*, with the reason. Identities are exact consequences of "
        "the update rule, checked at machine precision: they test the engine as much as the paper.",
        "",
    ]
    out += [f"- {counts_line(results, s)}" for s in scales]
    out.append("")
    if skipped:
        out += [
            f"**{len(skipped)} record(s) could not be read and were skipped** (their runs are "
            "recomputed by the next sweep):",
            "",
            *[f"- `{path}`: {reason}" for path, reason in skipped],
            "",
        ]
    if verdict_figure:
        out += [f"![verdicts]({link(verdict_figure)})", ""]
    groups = by_claim(results)
    for kind in KINDS:
        in_kind = [g for g in groups if g[0].claim.kind == kind]
        if not in_kind:
            continue
        out += [
            f"## {_KIND_TITLE[kind]}",
            "",
            "| claim | " + " | ".join(scales) + " | band | trend | negative controls |",
            "|---|" + "---|" * len(scales) + "---|---|---|",
        ]
        for g in in_kind:
            by_scale = {r.scale: r for r in g}
            cells = []
            for s in scales:
                r = by_scale.get(s)
                cells.append(
                    "—" if r is None else f"**{r.verdict}** {_num(r.main.measured)} {_ci(r.main)}"
                )
            last = g[-1]
            out.append(
                f"| {last.claim.id} | " + " | ".join(cells) + f" | {band_text(last.main.band)} | "
                f"{trend(g) or '—'} | {_controls(last)} |"
            )
        out.append("")
    for g in groups:
        c = g[0].claim
        out += [
            f"### {c.id} ({c.kind})",
            "",
            f"*{c.paper}* — {c.source}.",
            "",
            c.statement,
            "",
        ]
        for r in g:
            m = r.main
            out.append(
                f"- **{r.scale}: {r.verdict}** — measured {_num(m.measured)}, 95% interval {_ci(m)} "
                f"({_hw(m)}), band {band_text(m.band)}; {m.n_seeds} seeds, {m.n_runs} runs "
                f"(sim `{c.sim}`)"
            )
            if r.note:
                out.append(f"  - why: {r.note}")
            if m.detail:
                out.append(f"  - detail: {m.detail}")
            for (ctl, cmp), (ok, why) in zip(r.controls, r.validity, strict=False):
                out.append(
                    f"  - negative control *{ctl.name}* ({ctl.description}): **{cmp.status}**, "
                    f"measured {_num(cmp.measured)} {_ci(cmp)} over {cmp.n_runs} runs; "
                    f"{'valid' if ok else 'NOT VALID'} ({why}); {cmp.reason}"
                )
        tr = trend(g)
        if tr:
            out.append(f"- trend across rungs: **{tr}**")
        if c.figure:
            out += ["", f"![{c.figure}]({link(c.figure)})"]
        out.append("")
    return "\n".join(out)
