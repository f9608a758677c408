"""Shared helpers of the end-to-end simulation tests: quick runs shared by the whole test session,
pinned verdicts, and the split between the default tier and the slow tier.

Every simulation runs at most once per test session, into one folder shared by every test module
(:class:`QuickRuns`, the ``quick`` fixture of ``tests/conftest.py``). With ``ADVSIM_RESULTS=DIR`` the
tests read (and, where a run is missing, complete) the quick records already in ``DIR`` — what
``.ci/main`` does after the main job, so the slow tier checks every pin on the main job's own records
without simulating anything twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from figures.registry import all_figures, draw
from paper_checks.claims import ClaimResult, control_flipped, evaluate
from paper_checks.registry import CLAIMS
from sims.records import load_records
from sims.registry import find_simulation
from sims.simulation import run_simulation

#: Simulations whose quick run is too slow for the default tier (quick main-job wall times on the
#: 2-core machine, seconds: 02 47, 04 54, 06 ≈ 210, 08 119–150, 09 151–165, 10 85–122, 12 79–94,
#: 13 ≈ 110, 14 155–300, 15 ≈ 150, 16 ≈ 80, 17 ≈ 90; the others take 2–25 s). Tests that need one of
#: these are in the slow tier (``-m slow``), which ``.ci/main`` runs on the main job's records; the
#: properties they rest on (identities, attacks, training methods, statistics) are proved by cheaper
#: tests in the default tier.
SLOW_SIMS = frozenset({"02", "04", "06", "08", "09", "10", "12", "13", "14", "15", "16", "17"})


@dataclass
class FakeRun:
    """The two things a check reads from a record — its config and its arrays — for unit tests of the
    checks on synthetic data (cast to :class:`sims.records.RunRecord`)."""

    config: dict[str, Any]
    _arrays: dict[str, np.ndarray] = field(default_factory=dict)
    key: str = "fake"

    def arrays(self) -> dict[str, np.ndarray]:
        return self._arrays


class QuickRuns:
    """Runs simulations at the quick scale into ``root``, each at most once per instance.

    :func:`sims.simulation.run_simulation` skips runs already finished in ``root``, so a folder from
    an earlier main job is completed, not redone. The records read back must be quick ones: a folder
    whose newest records of a simulation are at another rung is refused (the pins are quick-scale).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._done: set[str] = set()

    def __call__(self, *sims: str) -> Path:
        for name in sims:
            sim = find_simulation(name)
            if sim.id in self._done:
                continue
            s = run_simulation(sim, scale="quick", out=self.root, progress=False)
            assert s.failed == 0, s.failures
            recs = load_records(self.root, sim.id)
            scales = {str(r.data.get("scale", "quick")) for r in recs}
            assert scales == {"quick"}, (
                f"{self.root}: the newest records of {sim.id} are at {sorted(scales)}, not quick; "
                "point ADVSIM_RESULTS at a folder of quick records"
            )
            self._done.add(sim.id)
        return self.root


def sim_number(cid: str) -> str:
    """The two-digit number of the simulation that claim ``cid`` reads."""
    return next(c for c in CLAIMS if c.id == cid).sim[:2]


def tiered(cids: Iterable[str]) -> list[object]:
    """``cids`` as pytest parameters, those whose simulation is in :data:`SLOW_SIMS` marked slow."""
    return [
        pytest.param(cid, marks=pytest.mark.slow) if sim_number(cid) in SLOW_SIMS else cid
        for cid in sorted(cids)
    ]


def tiered_figures(stems: Iterable[str]) -> list[object]:
    """Figure stems (``figNN_...``) as pytest parameters, marked slow where simulation NN is."""
    return [
        pytest.param(stem, marks=pytest.mark.slow) if stem[3:5] in SLOW_SIMS else stem
        for stem in stems
    ]


def draw_quick(quick: QuickRuns, stem: str, out: Path) -> str:
    """Draw figure ``stem`` from the shared quick records of its simulations into ``out``."""
    fig = next(f for f in all_figures() if f.stem == stem)
    return draw(fig, quick(*(s[:2] for s in fig.sims)), out)


def pinned_claim_ids(prefix: str) -> set[str]:
    """The registered claim ids starting with ``prefix``."""
    return {c.id for c in CLAIMS if c.id.startswith(prefix)}


def check_pinned(results: Path, cid: str, expected: str) -> ClaimResult:
    """Evaluate claim ``cid`` at the quick rung under the interval rule (:mod:`paper_checks.claims`):
    its verdict is ``expected``; a non-identity claim's main comparison carries an interval; and a
    ``holds`` pin has every negative control come out as it must (``fails``; a noise floor: not holding,
    or, strictly, containing the null value: :func:`paper_checks.claims.control_flipped`) and valid (it
    trained)."""
    claim = next(c for c in CLAIMS if c.id == cid)
    res = evaluate(claim, results, scale="quick")
    assert res.verdict == expected, (res.main, res.note)
    assert res.controls
    if claim.kind != "identity" and res.main.measured is not None:
        assert res.main.ci is not None, res.main
    if expected == "holds":
        assert all(control_flipped(ctl, cmp) for ctl, cmp in res.controls), res.controls
        assert all(ok for ok, _ in res.validity), res.validity
    return res
