"""``python -m figures [--results DIR] [--out DIR] [--only STEM] [--force]``: redraw the figures.

A figure that cannot be drawn (its records missing the runs it needs, say) is reported as ``failed``
with the reason and the others are still drawn (exit status 1). Records that cannot be read are
skipped by the reader, with one warning each, and listed at the end
(:func:`sims.records.skipped_records`).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from figures.registry import all_figures, draw
from sims.records import SkippedRecordWarning, skipped_records


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m figures", description=__doc__)
    p.add_argument("--results", default="results", help="records directory (default: results)")
    p.add_argument(
        "--out", default="figures/gallery", help="output directory (default: figures/gallery)"
    )
    p.add_argument("--only", default=None, help="comma-separated figure stems")
    p.add_argument("--force", action="store_true", help="redraw even if the records did not change")
    args = p.parse_args(argv)
    figs = all_figures()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {f.stem for f in figs}
        if unknown:
            print(
                f"error: --only names unknown figures {sorted(unknown)}; known: "
                f"{', '.join(f.stem for f in figs)}",
                file=sys.stderr,
            )
            return 2
        figs = [f for f in figs if f.stem in wanted]
    failed = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedRecordWarning)  # listed once, below
        for f in figs:
            try:
                status = draw(f, Path(args.results), Path(args.out), force=args.force)
            except Exception as exc:  # one broken figure must not stop the others
                failed += 1
                first = (str(exc).strip().splitlines() or [""])[0]
                status = f"failed ({type(exc).__name__}: {first})"
            print(f"{f.stem}: {status}")
    skipped = skipped_records()
    if skipped:
        print(f"skipped {len(skipped)} unreadable record(s):")
        for path, reason in skipped:
            print(f"  {path}: {reason}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
