"""``python -m paper_checks [--results DIR] [--scale S] [--json FILE] [--report FILE] [--strict]``.

Evaluates every registered claim on the records at every rung of the scale ladder present (or the one
``--scale`` names), prints a table per claim kind, draws the verdict figure (a forest plot, the first thing
in the report) and writes the Markdown report. Exit status 0 whatever the verdicts (a failing claim is a
finding), unless ``--strict``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from paper_checks.claims import SCALE_ORDER, evaluate_scales, scales_present
from paper_checks.registry import CLAIMS
from paper_checks.report import to_json, to_markdown, to_terminal
from sims.records import clear_skipped_records, git_revision, skipped_records


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m paper_checks", description=__doc__)
    p.add_argument("--results", default="results", help="records directory (default: results)")
    p.add_argument("--report", default=None, help="Markdown report (default: RESULTS/report.md)")
    p.add_argument("--figures", default="figures/gallery", help="where the figures are")
    p.add_argument("--json", default=None, help="also write the verdicts as JSON here")
    p.add_argument("--only", default=None, help="comma-separated claim ids")
    p.add_argument(
        "--scale",
        default=None,
        help=f"evaluate one rung ({', '.join(SCALE_ORDER)}); default: every rung with records",
    )
    p.add_argument(
        "--meta",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra facts for the JSON's meta (e.g. wall_s=1234); repeatable",
    )
    p.add_argument(
        "--snapshot",
        action="append",
        default=[],
        metavar="FILE",
        help="also draw, in the verdict figure, the verdicts of a committed snapshot (e.g. "
        "paper_checks/snapshots/medium.json) for the claims and rungs the records do not give; "
        "repeatable",
    )
    p.add_argument("--no-figure", action="store_true", help="do not draw the verdict figure")
    p.add_argument("--strict", action="store_true", help="exit 1 unless every claim holds")
    args = p.parse_args(argv)
    claims = CLAIMS
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {c.id for c in CLAIMS}
        if unknown:
            print(
                f"error: --only names unknown claim ids {sorted(unknown)}; known: "
                f"{', '.join(c.id for c in CLAIMS)}",
                file=sys.stderr,
            )
            return 2
        claims = tuple(c for c in CLAIMS if c.id in wanted)
    meta: dict[str, object] = {}
    for item in args.meta:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"error: --meta takes KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
        meta[key] = value
    scales = (
        [args.scale]
        if args.scale
        else scales_present(args.results, sorted({c.sim for c in claims}))
    )
    if not scales:
        scales = ["quick"]
    clear_skipped_records()
    results = [r for c in claims for r in evaluate_scales(c, args.results, scales)]
    skipped = [(str(path), reason) for path, reason in skipped_records()]
    print(to_terminal(results))
    for path, reason in skipped:
        print(f"skipped unreadable record {path}: {reason}")
    data = to_json(
        results,
        meta={
            "git": git_revision(),
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "results": str(args.results),
            "scales": scales,
            "skipped_records": [{"path": p_, "reason": r_} for p_, r_ in skipped],
            **meta,
        },
    )
    figures_dir = Path(args.figures)
    stem: str | None = None
    if not args.no_figure and results:
        from figures.verdicts import STEM, draw_verdicts

        shown = dict(data)
        for snap in args.snapshot:
            have = {(e["id"], e["scale"]) for e in shown["claims"]}
            try:
                extra = json.loads(Path(snap).read_text(encoding="utf-8"))
                entries = [e for e in extra["claims"] if (e["id"], e["scale"]) not in have]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                print(
                    f"error: --snapshot {snap!r} is not a verdict snapshot: {exc}", file=sys.stderr
                )
                return 2
            shown["claims"] = [*shown["claims"], *entries]
        draw_verdicts(shown, figures_dir, STEM)
        stem = STEM
    report = Path(args.report) if args.report else Path(args.results) / "report.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        to_markdown(
            results,
            report_path=report,
            figures_dir=figures_dir,
            verdict_figure=stem,
            skipped=skipped,
        )
    )
    print(f"report: {report}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(data, indent=1))
    if args.strict and any(r.verdict != "holds" for r in results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
