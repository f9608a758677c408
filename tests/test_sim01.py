"""Simulation 01 end to end: quick run, paper checks with their negative controls, figure, CLI."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from figures.registry import all_figures, draw
from paper_checks.claims import Claim, Control, evaluate
from paper_checks.registry import CLAIMS
from sims.records import ARRAYS_FILE, load_records
from sims.registry import find_simulation
from sims.simulation import RunContext
from tests.pinned import QuickRuns

ROOT = Path(__file__).resolve().parents[1]
SIM = find_simulation("01")


@pytest.fixture(scope="module")
def results(quick: QuickRuns) -> Path:
    return quick("01")


def _claim(cid: str) -> Claim:
    return next(c for c in CLAIMS if c.id == cid)


def test_quick_run_records_every_config(results: Path) -> None:
    recs = load_records(results, SIM.id, scale="quick")
    assert len(recs) == len(SIM.grid("quick"))
    a = recs[0].arrays()
    for key in ("basis", "X", "y", "W0", "W", "a0", "a", "b0", "b", "drift", "steps"):
        assert key in a
    assert a["W"].shape[0] == recs[0].config["n_seeds"]
    assert (results / SIM.id / "table.csv").is_file()


@pytest.mark.parametrize("cid", [c.id for c in CLAIMS if c.sim == "01_frozen_weights"])
def test_sim01_claims_hold_and_every_negative_control_flips(results: Path, cid: str) -> None:
    res = evaluate(_claim(cid), results, scale="quick")
    assert res.verdict == "holds", (res.main, res.note)
    assert res.claim.kind == "identity" and res.main.ci is None  # exact: no sampling error
    assert res.controls, "a claim without a negative control"
    for ctl, cmp in res.controls:
        assert cmp.status == "fails", f"control {ctl.name} did not flip: {cmp}"
        assert cmp.n_runs > 0


def test_a_control_that_keeps_the_condition_makes_the_claim_inconclusive(results: Path) -> None:
    """The teeth rule itself: a 'control' drawn from the theorem's regime cannot flip the verdict."""
    base = _claim("MYV-frozen")
    toothless = dataclasses.replace(
        base,
        controls=(
            Control("not a control", "GD runs again", lambda r: r.config["condition"] == "gd"),
        ),
    )
    res = evaluate(toothless, results, scale="quick")
    assert res.verdict == "inconclusive" and "did not flip" in res.note


def test_tampered_records_make_the_frozen_claim_fail(results: Path, tmp_path: Path) -> None:
    """Move one invariant run's weights off the subspace by 1e-6: the check must say 'fails'."""
    copy = tmp_path / "results"
    shutil.copytree(results / SIM.id, copy / SIM.id)
    recs = load_records(copy, SIM.id, scale="quick")
    victim = next(r for r in recs if r.config["condition"] == "sgd")
    arrays = victim.arrays()
    U = arrays["basis"]
    noise = np.random.default_rng(0).standard_normal(arrays["W"].shape)
    arrays["W"] = arrays["W"] + 1e-6 * (noise - (noise @ U) @ U.T)
    np.savez_compressed(victim.path / ARRAYS_FILE, **arrays)  # type: ignore[arg-type]
    res = evaluate(_claim("MYV-frozen"), copy, scale="quick")
    assert res.verdict == "fails"
    assert res.main.measured is not None and res.main.measured > 1e-8


def test_same_seed_same_measurements() -> None:
    ctx = RunContext()
    cfgs = [
        c
        for c in SIM.grid("quick", 2)
        if (c.condition, c.loss, c.train_b, c.train_a)
        in {
            ("sgd", "hinge", True, False),
            ("adam_rotated", "logistic", True, True),
            ("affine", "logistic", True, True),
        }
    ]
    assert len(cfgs) == 3
    for cfg in cfgs:
        a, b = SIM.run(cfg, ctx), SIM.run(cfg, ctx)
        for k in ("W", "b", "a", "drift", "perp_ratio"):
            np.testing.assert_array_equal(a.arrays[k], b.arrays[k])
        assert {k: v for k, v in a.metrics.items() if k != "train_seconds"} == {
            k: v for k, v in b.metrics.items() if k != "train_seconds"
        }


def test_figure01_draws_and_skips_when_records_unchanged(results: Path, tmp_path: Path) -> None:
    fig = next(f for f in all_figures() if f.stem == "fig01_frozen_weights")
    assert draw(fig, results, tmp_path) == "drawn"
    assert (tmp_path / "fig01_frozen_weights.png").stat().st_size > 10_000
    assert (tmp_path / "fig01_frozen_weights.pdf").is_file()
    assert draw(fig, results, tmp_path) == "unchanged"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_cli_list_and_bad_input() -> None:
    out = _cli("sims", "list")
    assert out.returncode == 0 and "01  frozen_weights" in out.stdout
    bad = _cli("sims", "run", "99")
    assert bad.returncode == 2 and "simulation must be 'all' or one of" in bad.stderr
    bad = _cli("sims", "run", "01", "--seeds", "0")
    assert bad.returncode == 2 and "seeds must be an integer in [1, 9999]" in bad.stderr
    bad = _cli("sims", "run", "01", "--device", "tpu")
    assert bad.returncode == 2 and "device must be one of" in bad.stderr
    assert _cli("sims.01_frozen_weights", "--help").returncode == 0


def test_cli_refuses_a_variant_a_simulation_does_not_offer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sims.cli import main

    out = ["--out", str(tmp_path)]
    assert main(["run", "01", "--variant", "noise", *out]) == 2
    err = capsys.readouterr().err
    assert "variant must be one of simulation 01's variants (none); got 'noise'" in err
    assert main(["run", "all", "--variant", "dense", *out]) == 2
    err = capsys.readouterr().err
    assert (
        "--variant must be one that some simulation offers (noise, orthonormal, overcomplete)"
        in err
    )
    assert not list(tmp_path.iterdir())  # refused before anything ran


def test_paper_checks_cli_writes_report_and_json(results: Path, tmp_path: Path) -> None:
    rep, js = tmp_path / "report.md", tmp_path / "v.json"
    own = tmp_path / "results"  # simulation 01 alone: the shared folder may hold other simulations
    shutil.copytree(results / SIM.id, own / SIM.id)
    figs = tmp_path / "figures"
    snap = ROOT / "paper_checks" / "snapshots" / "medium.json"
    common = ["--results", str(own), "--report", str(rep), "--figures", str(figs)]
    out = _cli("paper_checks", *common, "--json", str(js), "--snapshot", str(snap))
    assert out.returncode == 0, out.stderr
    assert "MYV-frozen" in out.stdout and "holds" in out.stdout
    text = rep.read_text()
    assert "negative control" in text and "fig01_frozen_weights.png" in text
    assert js.is_file() and (figs / "fig00_verdicts.png").stat().st_size > 10_000
    bad = _cli("paper_checks", *common, "--snapshot", str(rep))  # a report is not a snapshot
    assert bad.returncode == 2 and "is not a verdict snapshot" in bad.stderr
