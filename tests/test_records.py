"""Records: keys, atomic writes, resume after a kill, failures recorded, the aggregate table."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sims.records import ARRAYS_FILE, RECORD_FILE, RunStore, run_key
from sims.simulation import RunContext, RunOutput, Simulation, run_simulation

ROOT = Path(__file__).resolve().parents[1]


def test_run_key_is_stable_and_sensitive() -> None:
    a = run_key({"x": 1, "y": (1, 2)}, prefix="p")
    assert a == run_key({"y": [1, 2], "x": 1}, prefix="p")
    assert a != run_key({"x": 2, "y": (1, 2)}, prefix="p")
    assert a.startswith("p-") and len(a) == 2 + 12


def test_write_load_round_trip_and_table(tmp_path: Path) -> None:
    store = RunStore(tmp_path, "00_demo")
    store.write(
        "k1",
        {"config": {"a": 1, "nested": {"b": 2}}, "status": "ok", "metrics": {"m": 0.5}},
        {"W": np.arange(6.0).reshape(2, 3)},
    )
    store.write("k2", {"config": {"a": 2}, "status": "failed", "error": "boom"})
    assert store.is_done("k1") and not store.is_done("k2") and not store.is_done("k3")
    rec = store.load("k1")
    assert rec.config["nested"]["b"] == 2 and rec.metrics["m"] == 0.5
    np.testing.assert_array_equal(rec.arrays()["W"], np.arange(6.0).reshape(2, 3))
    assert [r.key for r in store.records()] == ["k1"]
    table = pd.read_csv(store.write_table())
    assert len(table) == 2 and set(table["status"]) == {"ok", "failed"}
    assert "config.nested.b" in table.columns and "metrics.m" in table.columns
    # no temporary files left behind
    assert not [p for p in (tmp_path / "00_demo").rglob("*.tmp")]


def test_partial_write_is_not_a_finished_run(tmp_path: Path) -> None:
    store = RunStore(tmp_path, "00_demo")
    run = store.run_dir("k")
    run.mkdir(parents=True)
    (run / ARRAYS_FILE).write_bytes(b"half an npz")  # killed before the record was written
    (run / f".{RECORD_FILE}.123.tmp").write_text("{")
    assert not store.is_done("k")
    assert store.records(status=None) == []


@dataclass(frozen=True)
class _Cfg:
    i: int
    n_seeds: int = 1


def _run(cfg: _Cfg, ctx: RunContext) -> RunOutput:
    if cfg.i == 2:
        raise RuntimeError("config 2 is broken")
    return RunOutput({"value": float(cfg.i)}, {"x": np.full(3, cfg.i)})


DEMO = Simulation(
    number="00",
    name="demo",
    title="demo",
    paper="none",
    configs=lambda scale: [_Cfg(i) for i in range(5)],
    run=_run,
    label=lambda c: f"i{c.i}",
)


def test_failed_config_is_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    s = run_simulation(DEMO, out=tmp_path, progress=False)
    assert (s.ran, s.failed, s.skipped) == (4, 1, 0)
    store = RunStore(tmp_path, DEMO.id)
    failed = [r for r in store.records(status=None) if r.status == "failed"]
    assert len(failed) == 1 and "config 2 is broken" in failed[0].data["error"]
    s2 = run_simulation(DEMO, out=tmp_path, progress=False)
    assert (s2.ran, s2.failed, s2.skipped) == (0, 1, 4)  # failures are retried, finished runs not


def test_records_carry_provenance(tmp_path: Path) -> None:
    run_simulation(DEMO, out=tmp_path, progress=False)
    rec = RunStore(tmp_path, DEMO.id).records()[0]
    for key in ("versions", "git", "timings", "config", "device", "scale", "schema", "sim"):
        assert key in rec.data
    assert rec.data["versions"]["torch"] is not None


def test_kill_mid_sweep_loses_no_finished_run(tmp_path: Path) -> None:
    """kill -9 a real sweep of simulation 01 part-way, restart it, and count every run exactly once."""
    out = tmp_path / "res"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sims",
            "run",
            "01",
            "--out",
            str(out),
            "--no-progress",
            "--seeds",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sim_dir = out / "01_frozen_weights"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(sim_dir.glob(f"*/{RECORD_FILE}"))) < 10:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = {p.parent.name for p in sim_dir.glob(f"*/{RECORD_FILE}")}
    assert len(done_before) >= 10
    for p in sim_dir.glob(f"*/{RECORD_FILE}"):
        json.loads(p.read_text())  # every record is complete JSON
        with np.load(p.parent / ARRAYS_FILE) as z:
            assert "W" in z.files
    from sims.registry import find_simulation

    sim = find_simulation("01")
    total = len(sim.grid("quick", 1))
    s = run_simulation(sim, out=out, n_seeds=1, progress=False)
    assert s.skipped == len(done_before) and s.ran == total - len(done_before) and s.failed == 0
    assert len(RunStore(out, sim.id).records()) == total


@pytest.mark.parametrize("which", ["01", "1", "frozen_weights", "01_frozen_weights"])
def test_find_simulation_by_number_or_name(which: str) -> None:
    from sims.registry import find_simulation

    assert find_simulation(which).id == "01_frozen_weights"


def test_dask_sweep_survives_a_killed_worker_and_runs_every_config_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real local cluster with two workers; one worker process is killed mid-sweep. Every run of
    simulation 01 must be recorded exactly once, all of them ok."""
    pytest.importorskip("distributed")
    import threading

    import sims.simulation as simmod
    from sims.registry import find_simulation

    writes: dict[str, int] = {}
    real_write = RunStore.write

    def counting_write(self: RunStore, key: str, record: object, arrays: object = None) -> Path:
        writes[key] = writes.get(key, 0) + 1
        return real_write(self, key, record, arrays)  # type: ignore[arg-type]

    monkeypatch.setattr(RunStore, "write", counting_write)
    killed: list[int] = []
    real_run_dask = simmod._run_dask

    def run_dask_and_kill(*args: object, **kwargs: object) -> None:
        from distributed import Client

        done = args[-1]
        state = {"n": 0}

        def done_and_kill(key: str, cfg: object, result: object) -> None:
            done(key, cfg, result)  # type: ignore[operator]
            state["n"] += 1
            if state["n"] == 5 and not killed:
                client = Client.current()
                pids = client.run(os.getpid)
                pid = sorted(pids.values())[0]
                killed.append(pid)
                threading.Thread(target=os.kill, args=(pid, signal.SIGKILL)).start()

        real_run_dask(*args[:-1], done_and_kill)  # type: ignore[arg-type,call-arg]

    monkeypatch.setattr(simmod, "_run_dask", run_dask_and_kill)
    sim = find_simulation("01")
    s = run_simulation(sim, out=tmp_path, n_seeds=1, workers=2, progress=False)
    total = len(sim.grid("quick", 1))
    assert killed, "no worker was killed"
    assert s.ran == total and s.failed == 0, s.failures
    assert len(writes) == total and set(writes.values()) == {1}
    recs = RunStore(tmp_path, sim.id).records()
    assert len(recs) == total
    assert len({r.data["worker"] for r in recs}) >= 2


def test_forced_rerun_never_pairs_an_old_record_with_new_arrays(tmp_path: Path) -> None:
    store = RunStore(tmp_path, "00_demo")
    store.write("k", {"config": {}, "status": "ok", "metrics": {"v": 1.0}}, {"x": np.zeros(2)})
    store.write("k", {"config": {}, "status": "failed", "error": "boom"})
    assert not (store.run_dir("k") / ARRAYS_FILE).exists()  # stale arrays removed
    assert store.load("k").status == "failed"


def test_run_keys_treat_equal_numbers_alike() -> None:
    assert run_key({"lr": 1}) == run_key({"lr": 1.0})
    assert run_key({"flag": True}) != run_key({"flag": 1.0})


def test_records_of_another_scale_are_not_mixed_in(tmp_path: Path) -> None:
    from sims.records import load_records

    store = RunStore(tmp_path, "00_demo")
    store.write("a", {"config": {}, "status": "ok", "scale": "paper", "timings": {"end": 1.0}})
    store.write("b", {"config": {}, "status": "ok", "scale": "quick", "timings": {"end": 2.0}})
    assert [r.key for r in load_records(tmp_path, "00_demo")] == ["b"]
    assert [r.key for r in load_records(tmp_path, "00_demo", scale="paper")] == ["a"]
    assert len(load_records(tmp_path, "00_demo", scale=None)) == 2


def test_every_simulation_grid_is_valid_at_both_scales() -> None:
    """Both scales build (configs validate) and give distinct run keys."""
    from sims.registry import all_simulations

    for sim in all_simulations():
        for scale in ("quick", "paper"):
            cfgs = sim.grid(scale)
            keys = [sim.key(c) for c in cfgs]
            assert cfgs and len(set(keys)) == len(keys), (sim.id, scale)
