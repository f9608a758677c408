"""``python -m benchmarks [--quick] [--json FILE] [--only CASE,...]``.

Runs every case in its own fresh process (so each case's peak memory is its own), prints a table and
writes JSON. ``--quick`` shortens the long cases: fewer steps for the large shapes, and the naive loop
timed on a subset of the models and scaled up (the loop is exactly linear in the number of models;
the JSON marks it ``naive_extrapolated``) and skips the slow cases: ``memory_large`` (one GD step of
1024 networks with n = 10 000, d = 500, m = 512: about two minutes) and ``sweep_workers`` (simulation 13's
fast-AT sweep row by row and grouped in-process, and grouped on 1, 2, 4 Dask workers). Targets are
reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.cases import CASES, SLOW_CASES, main_case

TARGETS = {
    "train_small speedup >= 50x": ("train_small", "speedup", 50.0),
    "pgd_small speedup >= 30x": ("pgd_small", "speedup", 30.0),
    "train_large_f32 >= 60% of matmul peak": ("train_large_f32", "advsim_fraction_of_peak", 0.6),
    "pgd_large >= 70% of matmul peak": ("pgd_large", "advsim_fraction_of_peak", 0.7),
}
#: Targets met when the measured value is at most the target.
TARGETS_AT_MOST = {
    "at_step <= 1.3x of 11 forward-and-input-gradient passes": (
        "at_step",
        "ratio_to_eleven_passes",
        1.3,
    ),
}


def _run_child(name: str, quick: bool) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks", "--case", name] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"case": name, "error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    by = {r["case"]: r for r in results}
    out: dict[str, Any] = {}
    for label, (case, key, target) in TARGETS.items():
        if case in by and key in by[case]:
            v = by[case][key]
            out[label] = {"measured": v, "target": target, "met": v >= target}
    for label, (case, key, target) in TARGETS_AT_MOST.items():
        if case in by and key in by[case]:
            v = by[case][key]
            out[label] = {"measured": v, "target": target, "met": v <= target}
    f32, f64 = by.get("train_large_f32"), by.get("train_large_f64")
    if f32 and f64 and "advsim_s" in f32 and "advsim_s" in f64:
        ratio = f64["advsim_s"] / f32["advsim_s"]
        out["float64/float32 time <= 2.2x"] = {
            "measured": ratio,
            "target": 2.2,
            "met": ratio <= 2.2,
        }
    imp = by.get("import_overhead")
    if imp and "overhead_s" in imp:
        out["import overhead <= 0.3 s"] = {
            "measured": imp["overhead_s"],
            "target": 0.3,
            "met": imp["overhead_s"] <= 0.3,
        }
    sweep = by.get("size_sweep")
    if sweep and "exponent_large" in sweep:
        out["cost exponent in M·n·m·d (large shapes)"] = {
            "measured": sweep["exponent_large"],
            "target": 1.0,
            "met": None,
        }
    return out


def _range(r: dict[str, Any], key: str, scale: float = 1.0, fmt: str = ".0f") -> str:
    """`` [lo–hi]`` of a measured range the case reports (empty where it reports none)."""
    if key not in r:
        return ""
    lo, hi = r[key]
    return f" [{scale * lo:{fmt}}–{scale * hi:{fmt}}]"


def _fmt(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{r['case']:<20} ERROR {r['error']}"
    if "speedup" in r:
        ext = " (naive extrapolated)" if r.get("naive_extrapolated") else ""
        return (
            f"{r['case']:<20} advsim {r['advsim_s']:8.3f} s  naive {r['naive_s']:9.3f} s  "
            f"speedup {r['speedup']:6.1f}x  {r['advsim_gflops']:6.1f} GFLOP/s "
            f"({100 * r['advsim_fraction_of_peak']:.0f}%{_range(r, 'fraction_of_peak_range', 100)} "
            f"of {r['peak_gflops']:.0f})  "
            f"rss {r['peak_rss_mb']:.0f} MiB{ext}"
        )
    if "ratio_to_eleven_passes" in r:
        return (
            f"{r['case']:<20} advsim {r['advsim_s']:8.3f} s  11 passes {r['eleven_passes_s']:7.3f} s  "
            f"ratio {r['ratio_to_eleven_passes']:5.2f}{_range(r, 'ratio_range', fmt='.2f')}  "
            f"composed {r['composed_s']:7.3f} s  "
            f"{100 * r['advsim_fraction_of_peak']:.0f}%{_range(r, 'fraction_of_peak_range', 100)} "
            f"of {r['peak_gflops']:.0f} GFLOP/s  rss {r['peak_rss_mb']:.0f} MiB"
        )
    keys = [k for k in r if k not in ("case", "rows", "torch_threads")]
    return f"{r['case']:<20} " + "  ".join(
        f"{k}={r[k]:.4g}" if isinstance(r[k], float) else f"{k}={r[k]}" for k in keys
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="shorter runs (see above)")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--only", default=None, help=f"comma-separated cases of {', '.join(CASES)}")
    p.add_argument("--case", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.case:
        main_case(args.case, args.quick)
        return 0
    names = (
        args.only.split(",")
        if args.only
        else [c for c in CASES if not (args.quick and c in SLOW_CASES)]
    )
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print(
            f"error: --only names unknown cases {unknown}; known: {', '.join(CASES)}",
            file=sys.stderr,
        )
        return 2
    results = []
    for name in names:
        r = _run_child(name, args.quick)
        print(_fmt(r), flush=True)
        results.append(r)
    summary = _summary(results)
    print("\ntargets:")
    for label, v in summary.items():
        met = "" if v["met"] is None else ("met" if v["met"] else "NOT met")
        print(f"  {label:<42} measured {v['measured']:.3g}  {met}")
    if args.json:
        doc = {
            "machine": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            },
            "quick": args.quick,
            "cases": results,
            "targets": summary,
        }
        Path(args.json).write_text(json.dumps(doc, indent=1))
        print(f"json: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
