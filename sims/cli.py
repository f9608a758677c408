"""``python -m sims``: list the numbered simulations and run them into records."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sims.errors import AdvsimError
from sims.simulation import SCALES, Simulation

__all__ = ["main", "main_for"]


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scale",
        default="quick",
        choices=SCALES,
        help="quick (CI, main job), medium (about an hour on 2 cores) or paper (the paper's setting); default quick",
    )
    p.add_argument("--out", default="results", help="results directory (default: results)")
    p.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="ensemble members (seeds) per run, overriding the scale's default",
    )
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--force", action="store_true", help="recompute finished runs")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="run on a local Dask cluster of N single-threaded worker processes",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="run on an existing Dask cluster (scheduler address, e.g. tcp://host:8786)",
    )
    p.add_argument(
        "--no-group",
        action="store_true",
        help="run every row alone (by default rows that share shapes run as one batched ensemble)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument(
        "--variant",
        default=None,
        help="run the grid under a named variant of its data (e.g. the feature-purification "
        "simulations' dictionaries: orthonormal, overcomplete, noise) into OUT/variants/VARIANT; "
        "'run all --variant V' runs the simulations that offer V",
    )


def _preflight(args: argparse.Namespace) -> None:
    """Check the options before anything is computed: ``--out`` is (or can become) a writable
    directory, ``--device`` can allocate a tensor, ``--workers`` is positive, and a ``--scheduler``
    answers within a bounded time (:data:`sims.simulation.SCHEDULER_TIMEOUT`)."""
    from sims.simulation import check_out_dir, check_scheduler, resolve_device
    from sims.validate import check_int

    check_out_dir(args.out)
    resolve_device(args.device)
    if args.seeds is not None:
        check_int("--seeds", args.seeds, 1, 9_999)
    if args.workers is not None:
        check_int("--workers", args.workers, 1)
    if args.workers is not None and args.scheduler is not None:
        raise AdvsimError(
            "--workers must not be given with --scheduler (a local cluster or an existing one); "
            f"got --workers {args.workers} and --scheduler {args.scheduler!r}"
        )
    if args.scheduler is not None:
        check_scheduler(args.scheduler)


def _run(sims: Sequence[Simulation], args: argparse.Namespace) -> int:
    from sims.simulation import SweepSummary, run_simulations, variant_out

    _preflight(args)
    failed = False

    def report(s: SweepSummary) -> None:
        nonlocal failed
        extra = "".join(
            f", {n} {what}"
            for n, what in (
                (s.busy, "busy in another sweep"),
                (s.diverged, "with diverged members"),
                (s.cleaned, "temporary files removed"),
            )
            if n
        )
        when = (
            f"done {s.seconds:.1f} s into the packed sweep, rows {s.row_seconds:.1f} s"
            if s.packed
            else f"{s.seconds:.1f} s"
        )
        print(
            f"sim {s.sim}: {s.ran} ran, {s.skipped} already done, {s.failed} failed{extra} "
            f"({when}) -> {variant_out(Path(args.out), args.variant)}/{s.sim}",
            flush=True,
        )
        for f in s.failures:
            print(f"  FAILED {f}", file=sys.stderr)
        for g in s.group_errors:
            print(f"  WARNING {g}", file=sys.stderr)
        failed = failed or s.failed > 0

    run_simulations(
        sims,
        scale=args.scale,
        out=args.out,
        n_seeds=args.seeds,
        device=args.device,
        force=args.force,
        progress=False if args.no_progress else None,
        workers=args.workers,
        scheduler=args.scheduler,
        group=not args.no_group,
        on_finish=report,
        variant=args.variant,
    )
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m sims``."""
    parser = argparse.ArgumentParser(prog="python -m sims", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the numbered simulations")
    run = sub.add_parser("run", help="run simulations into records")
    run.add_argument("which", help="a number (01), a name (frozen_weights) or 'all'")
    _add_run_options(run)
    args = parser.parse_args(argv)
    from sims.registry import all_simulations, find_simulation

    try:
        if args.command == "list":
            for sim in all_simulations():
                print(f"{sim.number}  {sim.name:<24} {sim.title}  [{sim.paper}]")
            return 0
        sims = all_simulations() if args.which == "all" else [find_simulation(args.which)]
        if args.which == "all" and args.variant is not None:
            sims = [s for s in sims if args.variant in s.variants]
            if not sims:
                offered = sorted({v for s in all_simulations() for v in s.variants})
                raise AdvsimError(
                    f"--variant must be one that some simulation offers ({', '.join(offered)}); "
                    f"got {args.variant!r}"
                )
        return _run(sims, args)
    except AdvsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def main_for(sim: Simulation, argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m sims.NN_name``: the run options for that one simulation."""
    parser = argparse.ArgumentParser(prog=f"python -m sims.{sim.id}", description=sim.title)
    _add_run_options(parser)
    args = parser.parse_args(argv)
    try:
        return _run([sim], args)
    except AdvsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
