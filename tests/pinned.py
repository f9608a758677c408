"""Shared helpers of the end-to-end simulation tests: run sims at quick scale, check pinned verdicts."""

from __future__ import annotations

from pathlib import Path

from paper_checks.claims import ClaimResult, evaluate
from paper_checks.registry import CLAIMS
from sims.registry import find_simulation
from sims.simulation import run_simulation


def run_quick(out: Path, *sims: str) -> Path:
    """Run ``sims`` at the quick scale into ``out``; every run must succeed."""
    for sim in sims:
        s = run_simulation(find_simulation(sim), scale="quick", out=out, progress=False)
        assert s.failed == 0, s.failures
    return out


def pinned_claim_ids(prefix: str) -> set[str]:
    """The registered claim ids starting with ``prefix``."""
    return {c.id for c in CLAIMS if c.id.startswith(prefix)}


def check_pinned(results: Path, cid: str, expected: str) -> ClaimResult:
    """Evaluate claim ``cid`` under the interval rule (:mod:`paper_checks.claims`): its verdict is
    ``expected``; a non-identity claim's main comparison carries an interval; and a ``holds`` pin has
    every negative control come out ``fails`` and valid (it trained)."""
    claim = next(c for c in CLAIMS if c.id == cid)
    res = evaluate(claim, results)
    assert res.verdict == expected, (res.main, res.note)
    assert res.controls
    if claim.kind != "identity" and res.main.measured is not None:
        assert res.main.ci is not None, res.main
    if expected == "holds":
        assert all(
            cmp.status == "fails" if ctl.expect == "fails" else cmp.status != "holds"
            for ctl, cmp in res.controls
        ), res.controls
        assert all(ok for ok, _ in res.validity), res.validity
    return res
