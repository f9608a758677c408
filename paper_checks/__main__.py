"""``python -m paper_checks [--results DIR] [--json FILE] [--report FILE] [--strict]``.

Evaluates every registered claim on the records, prints a table and writes the Markdown report.
Exit status 0 whatever the verdicts (a failing claim is a finding), unless ``--strict``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from paper_checks.claims import evaluate
from paper_checks.registry import CLAIMS
from paper_checks.report import to_json, to_markdown, to_terminal


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m paper_checks", description=__doc__)
    p.add_argument("--results", default="results", help="records directory (default: results)")
    p.add_argument("--report", default=None, help="Markdown report (default: RESULTS/report.md)")
    p.add_argument("--figures", default="figures/gallery", help="where the figures are")
    p.add_argument("--json", default=None, help="also write the verdicts as JSON here")
    p.add_argument("--only", default=None, help="comma-separated claim ids")
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
    results = [evaluate(c, args.results) for c in claims]
    print(to_terminal(results))
    report = Path(args.report) if args.report else Path(args.results) / "report.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(to_markdown(results, report_path=report, figures_dir=Path(args.figures)))
    print(f"report: {report}")
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(results), indent=1))
    if args.strict and any(r.verdict != "holds" for r in results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
