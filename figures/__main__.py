"""``python -m figures [--results DIR] [--out DIR] [--only STEM] [--force]``: redraw the figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from figures.registry import all_figures, draw


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
    for f in figs:
        status = draw(f, Path(args.results), Path(args.out), force=args.force)
        print(f"{f.stem}: {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
