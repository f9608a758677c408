"""Records: keys, atomic writes, resume after a kill, failures recorded, the aggregate table."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sims.errors import AdvsimError
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
    real_done = simmod._Sweep.done
    state = {"n": 0}

    def done_and_kill(self: object, key: str, cfg: object, result: object) -> None:
        from distributed import Client

        real_done(self, key, cfg, result)  # type: ignore[arg-type]
        state["n"] += 1
        if state["n"] == 5 and not killed:
            client = Client.current()
            pids = client.run(os.getpid)
            pid = sorted(pids.values())[0]
            killed.append(pid)
            threading.Thread(target=os.kill, args=(pid, signal.SIGKILL)).start()

    monkeypatch.setattr(simmod._Sweep, "done", done_and_kill)
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
    """Both scales build (configs validate) and give distinct run keys; so does every variant's grid,
    whose keys differ from the plain grid's."""
    from sims.registry import all_simulations

    for sim in all_simulations():
        for scale in ("quick", "medium", "paper"):
            cfgs = sim.grid(scale)
            keys = [sim.key(c) for c in cfgs]
            assert cfgs and len(set(keys)) == len(keys), (sim.id, scale)
            for variant in sim.variants:
                vkeys = [sim.key(c) for c in sim.grid(scale, variant=variant)]
                assert len(set(vkeys)) == len(keys) and not set(vkeys) & set(keys), (
                    sim.id,
                    variant,
                )


@dataclass(frozen=True)
class _VCfg:
    i: int
    shift: int = 0
    n_seeds: int = 1


def _vrun(cfg: _VCfg, ctx: RunContext) -> RunOutput:
    return RunOutput({"value": float(cfg.i + cfg.shift)}, {"x": np.full(2, cfg.i)})


VARIANT_DEMO = Simulation(
    number="00",
    name="variants",
    title="t",
    paper="none",
    configs=lambda scale: [_VCfg(i) for i in range(3)],
    run=_vrun,
    label=lambda c: f"i{c.i}",
    variants={"shifted": lambda c: _VCfg(c.i, shift=10)},
)


def test_a_variant_runs_its_own_grid_into_its_own_folder(tmp_path: Path) -> None:
    """A variant's rows carry the plain rows' labels but their own configs: they go to
    ``out/variants/<name>``, so neither sweep sees (or skips) the other's records."""
    from sims.simulation import variant_out

    plain = run_simulation(VARIANT_DEMO, out=tmp_path, progress=False)
    shifted = run_simulation(VARIANT_DEMO, out=tmp_path, progress=False, variant="shifted")
    assert (plain.ran, shifted.ran, shifted.skipped) == (3, 3, 0)
    here = variant_out(tmp_path, "shifted")
    assert here == tmp_path / "variants" / "shifted"
    base = {
        r.key.split("-")[0]: r.metrics["value"]
        for r in RunStore(tmp_path, VARIANT_DEMO.id).records()
    }
    var = {
        r.key.split("-")[0]: r.metrics["value"] for r in RunStore(here, VARIANT_DEMO.id).records()
    }
    assert base == {"i0": 0.0, "i1": 1.0, "i2": 2.0}
    assert var == {"i0": 10.0, "i1": 11.0, "i2": 12.0}
    again = run_simulation(VARIANT_DEMO, out=tmp_path, progress=False, variant="shifted")
    assert (again.ran, again.skipped) == (0, 3)


def test_variant_names_are_folder_names_and_simulations_stay_hashable() -> None:
    assert hash(VARIANT_DEMO) == hash(VARIANT_DEMO)
    with pytest.raises(AdvsimError, match=r"variant name must be lower-case letters"):
        Simulation(
            number="00",
            name="v",
            title="t",
            paper="p",
            configs=lambda s: [],
            run=_vrun,
            variants={"../up": lambda c: c},
        )
    with pytest.raises(AdvsimError, match=r"variants\['x'\] must be a callable"):
        Simulation(
            number="00",
            name="v",
            title="t",
            paper="p",
            configs=lambda s: [],
            run=_vrun,
            variants={"x": 3},  # type: ignore[dict-item]
        )


def test_an_unknown_variant_is_refused_naming_the_offered_ones(tmp_path: Path) -> None:
    with pytest.raises(
        AdvsimError,
        match=r"variant must be one of simulation 00's variants \('shifted'\); got 'noise'",
    ):
        run_simulation(VARIANT_DEMO, out=tmp_path, progress=False, variant="noise")
    with pytest.raises(AdvsimError, match=r"variants \(none\)"):
        run_simulation(DEMO, out=tmp_path, progress=False, variant="shifted")
    assert not (tmp_path / "variants").exists()


def test_a_worker_rebuilds_the_variant_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Dask side (:func:`sims.simulation._remote`) gets the variant's name and rebuilds that grid:
    the keys it is sent are the variant's."""
    import torch

    import sims.simulation as simmod

    monkeypatch.setattr(simmod, "load_simulation", lambda module: VARIANT_DEMO)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # a worker's; not this process
    keys = [VARIANT_DEMO.key(c) for c in VARIANT_DEMO.grid("quick", variant="shifted")]
    outs = simmod._remote("demo", "quick", None, keys[:2], "cpu", "shifted")
    assert [o.metrics["value"] for o in outs] == [10.0, 11.0]
    with pytest.raises(KeyError):
        simmod._remote("demo", "quick", None, keys[:1], "cpu", None)


# ----------------------------------------------------------------------------- issue 17: damage, locks
def _good(store: RunStore, key: str, end: float = 1.0) -> None:
    store.write(
        key,
        {"config": {"k": key}, "status": "ok", "scale": "quick", "timings": {"end": end}},
        {"x": np.arange(50.0)},
    )


def _flip_a_data_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    i = raw.index(b"x.npy") + 80  # inside the compressed data of the one array
    raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def _object_arrays(path: Path) -> None:
    np.savez(path, x=np.array([{"a": 1}], dtype=object))  # pickled: refused by the reader


DAMAGE = {
    "record truncated": lambda run: (run / RECORD_FILE).write_text(
        (run / RECORD_FILE).read_text()[:40]
    ),
    "record not an object": lambda run: (run / RECORD_FILE).write_text("[1, 2]"),
    "record without status": lambda run: (run / RECORD_FILE).write_text(
        json.dumps({"key": run.name, "config": {}})
    ),
    "record not utf-8": lambda run: (run / RECORD_FILE).write_bytes(b"\xff\xfe{"),
    "record is a folder": lambda run: ((run / RECORD_FILE).unlink(), (run / RECORD_FILE).mkdir()),
    "record bad status": lambda run: (run / RECORD_FILE).write_text(
        json.dumps({"key": run.name, "config": {}, "status": "maybe"})
    ),
    "arrays missing": lambda run: (run / ARRAYS_FILE).unlink(),
    "arrays truncated": lambda run: (run / ARRAYS_FILE).write_bytes(
        (run / ARRAYS_FILE).read_bytes()[:100]
    ),
    "arrays garbage": lambda run: (run / ARRAYS_FILE).write_bytes(b"not a zip file at all"),
    "arrays corrupt data": lambda run: _flip_a_data_byte(run / ARRAYS_FILE),
    "arrays of objects": lambda run: _object_arrays(run / ARRAYS_FILE),
    "arrays without a listed key": lambda run: np.savez(run / ARRAYS_FILE, y=np.zeros(2)),
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_readers_skip_each_kind_of_damaged_record(damage: str, tmp_path: Path) -> None:
    """One damaged run beside two good ones: readers return the good ones, warn once naming the
    path and the reason, list it in skipped_records(); the damaged run does not count as done."""
    from sims.records import (
        SkippedRecordWarning,
        clear_skipped_records,
        load_records,
        skipped_records,
    )

    clear_skipped_records()
    store = RunStore(tmp_path, "00_demo")
    for key in ("a", "b", "c"):
        _good(store, key)
    bad = store.run_dir("b")
    DAMAGE[damage](bad)
    with pytest.warns(SkippedRecordWarning, match=re.escape(str(bad))):
        recs = load_records(tmp_path, "00_demo")
    assert [r.key for r in recs] == ["a", "c"]
    assert [p for p, _ in skipped_records()] == [bad]
    assert not store.is_done("b") and store.is_done("a")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per path: no second warning
        assert [r.key for r in store.records(status=None)] == ["a", "c"]
    store.write_table()  # the table skips it too
    clear_skipped_records()


def test_a_run_with_damaged_arrays_is_recomputed(tmp_path: Path) -> None:
    s = run_simulation(DEMO, out=tmp_path, progress=False)
    assert s.ran == 4
    store = RunStore(tmp_path, DEMO.id)
    victim = store.run_dir(DEMO.key(_Cfg(3)))
    (victim / ARRAYS_FILE).write_bytes(b"\x00" * 10)
    s2 = run_simulation(DEMO, out=tmp_path, progress=False)
    assert (s2.ran, s2.skipped, s2.failed) == (1, 3, 1)
    assert store.is_done(DEMO.key(_Cfg(3)))
    np.testing.assert_array_equal(store.load(DEMO.key(_Cfg(3))).arrays()["x"], np.full(3, 3))


def test_non_finite_metrics_are_strict_json_and_come_back(tmp_path: Path) -> None:
    store = RunStore(tmp_path, "00_demo")
    store.write(
        "k",
        {
            "config": {"cap": float("inf")},
            "status": "ok",
            "metrics": {"a": float("nan"), "b": -float("inf"), "c": 1.5},
        },
        {"x": np.zeros(1)},
    )

    def refuse(name: str) -> None:
        raise ValueError(f"bare {name} in record.json")

    raw = json.loads((store.run_dir("k") / RECORD_FILE).read_text(), parse_constant=refuse)
    assert raw["metrics"] == {"a": None, "b": None, "c": 1.5} and raw["config"]["cap"] is None
    assert {(tuple(e["path"]), e["value"]) for e in raw["nonfinite"]} == {
        (("metrics", "a"), "NaN"),
        (("metrics", "b"), "-Infinity"),
        (("config", "cap"), "Infinity"),
    }
    assert raw["array_keys"] == ["x"]
    rec = store.load("k")
    assert math.isnan(rec.metrics["a"]) and rec.metrics["b"] == -math.inf
    assert rec.config["cap"] == math.inf and rec.metrics["c"] == 1.5


def test_object_arrays_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    from sims.errors import AdvsimError

    store = RunStore(tmp_path, "00_demo")
    _good(store, "k")
    with pytest.raises(AdvsimError, match=r"^arrays\['o'\] must be"):
        store.write("k", {"config": {}, "status": "ok"}, {"o": np.array([None, 1], dtype=object)})
    assert store.is_done("k")  # the old, complete run is untouched


def test_run_lock_is_exclusive_and_freed_by_a_killed_holder(tmp_path: Path) -> None:
    store = RunStore(tmp_path, "00_demo")
    lock = store.lock("k")
    assert lock is not None and store.lock("k") is None
    lock.release()
    again = store.lock("k")
    assert again is not None
    again.release()
    # a process that takes the lock and is killed with SIGKILL leaves no stale lock behind
    code = (
        "import sys, time; from sims.records import RunStore; "
        f"l = RunStore({str(tmp_path)!r}, '00_demo').lock('k'); print(l is not None, flush=True); "
        "time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "True"
    assert store.lock("k") is None  # held by the child
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    recovered = store.lock("k")
    assert recovered is not None
    recovered.release()


def test_leftover_temporary_files_are_removed_when_a_sweep_starts(tmp_path: Path) -> None:
    run_simulation(DEMO, out=tmp_path, progress=False)
    store = RunStore(tmp_path, DEMO.id)
    k0, k1 = DEMO.key(_Cfg(0)), DEMO.key(_Cfg(1))
    left = [
        store.run_dir(k0) / f".{ARRAYS_FILE}~host~123~abc.tmp",
        store.run_dir(k0) / f".{RECORD_FILE}.456.tmp",  # the older naming
        store.dir / ".table.csv~host~9~xyz.tmp",
    ]
    busy = store.run_dir(k1) / f".{RECORD_FILE}~host~1~live.tmp"
    for p in [*left, busy]:
        p.write_text("partial")
    held = store.lock(k1)  # another writer is busy with run k1: its file must stay
    try:
        s = run_simulation(DEMO, out=tmp_path, progress=False)
    finally:
        assert held is not None
        held.release()
    assert s.cleaned == 3 and not any(p.exists() for p in left) and busy.exists()
    assert store.clean_temporary() == 1 and not busy.exists()


_TWO_SWEEPS = """
import os, sys, time
from dataclasses import dataclass
import numpy as np
from sims.simulation import RunOutput, Simulation, run_simulation

@dataclass(frozen=True)
class Cfg:
    i: int
    n_seeds: int = 1

def run(cfg, ctx):
    with open(sys.argv[2], "a") as fh:  # one line per computation, appended atomically
        fh.write(f"{cfg.i} {os.getpid()}\\n")
    time.sleep(0.15)
    return RunOutput({"i": float(cfg.i)}, {"x": np.full(2, cfg.i)})

SIM = Simulation(number="00", name="twosweeps", title="t", paper="none",
                 configs=lambda scale: [Cfg(i) for i in range(12)], run=run,
                 label=lambda c: f"i{c.i}")
while time.time() < float(sys.argv[3]):  # both start together
    time.sleep(0.005)
s = run_simulation(SIM, out=sys.argv[1], progress=False)
print(s.ran, s.skipped, s.busy, s.failed)
"""


def test_two_concurrent_sweeps_compute_every_run_once(tmp_path: Path) -> None:
    """Two processes sweep the same folder at the same time; every run is computed exactly once and
    recorded once, and between them the sweeps account for every run."""
    script = tmp_path / "sweep.py"
    script.write_text(_TWO_SWEEPS)
    counter = tmp_path / "computed.txt"
    start = time.time() + 3.0
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / "res"), str(counter), str(start)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    computed = [line.split()[0] for line in counter.read_text().splitlines()]
    assert sorted(computed, key=int) == [str(i) for i in range(12)]  # each run once
    counts = [tuple(map(int, o.split())) for o in outs]
    assert sum(c[0] for c in counts) == 12 and all(c[3] == 0 for c in counts)
    for ran, skipped, busy, _ in counts:
        assert ran + skipped + busy == 12
    assert len(RunStore(tmp_path / "res", "00_twosweeps").records()) == 12


def _diverging_run(cfg: _Cfg, ctx: RunContext) -> RunOutput:
    import torch

    from sims.nets import init_ensemble
    from sims.optim import OptimizerConfig
    from sims.training import TrainConfig, train

    X = torch.randn(20, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 30
    y = torch.sign(X[:, 0])
    lr = (0.001, 1e200) if cfg.i == 1 else 0.001
    ens = init_ensemble(4, 5, seeds=[0, 1], dtype=torch.float64)
    res = train(ens, X, y, TrainConfig(steps=10, optimizer=OptimizerConfig(lr=lr), loss="squared"))
    return RunOutput({"diverged": float(res.diverged.sum())}, {"W": ens.W.numpy()})  # type: ignore[union-attr]


def _diverging_group(cfgs: list[_Cfg], ctx: RunContext) -> list[RunOutput]:
    return [_diverging_run(c, ctx) for c in cfgs]


@pytest.mark.parametrize("grouped", [False, True])
def test_a_diverged_member_is_flagged_in_its_record(grouped: bool, tmp_path: Path) -> None:
    sim = Simulation(
        number="00",
        name="diverge",
        title="t",
        paper="none",
        configs=lambda scale: [_Cfg(0), _Cfg(1)],
        run=_diverging_run,
        label=lambda c: f"i{c.i}",
        group=(lambda c: 0) if grouped else None,
        run_group=_diverging_group if grouped else None,  # type: ignore[arg-type]
    )
    s = run_simulation(sim, out=tmp_path, progress=False)
    assert (s.ran, s.diverged) == (2, 1)
    recs = {r.config["i"]: r.data for r in RunStore(tmp_path, sim.id).records()}
    assert recs[0]["diverged"] == [[False, False]] and recs[0]["diverged_any"] is False
    assert recs[1]["diverged"] == [[False, True]] and recs[1]["diverged_any"] is True
    assert recs[1]["status"] == "ok"


@pytest.mark.filterwarnings("ignore:No artists with labels")
def test_figures_finish_and_list_skipped_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A damaged record of a figure's simulation: the figure run still finishes, says which figure
    could not be drawn (here: no usable records left) and lists the skipped record."""
    from figures.__main__ import main as figures_main
    from sims.records import clear_skipped_records

    clear_skipped_records()
    store = RunStore(tmp_path, "11_fgsm_rs_statistics")
    _good(store, "broken")
    (store.run_dir("broken") / ARRAYS_FILE).write_bytes(b"garbage")
    code = figures_main(
        [
            "--results",
            str(tmp_path),
            "--out",
            str(tmp_path / "gallery"),
            "--only",
            "fig11_fgsm_rs_statistics",
        ]
    )
    out = capsys.readouterr().out
    assert "fig11_fgsm_rs_statistics:" in out
    assert "skipped 1 unreadable record(s)" in out and str(store.run_dir("broken")) in out
    assert code in (0, 1)
    clear_skipped_records()


def test_one_failing_figure_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import figures.__main__ as figmain
    from figures.registry import FigureSpec

    _good(RunStore(tmp_path, "00_demo"), "k")

    def broken(results: Path, out: Path) -> list[Path]:
        raise KeyError("condition")

    def fine(results: Path, out: Path) -> list[Path]:
        out.mkdir(parents=True, exist_ok=True)
        (out / "fig99_fine.png").write_bytes(b"png")
        return [out / "fig99_fine.png"]

    specs = [
        FigureSpec("fig98_broken", ("00_demo",), "", broken),
        FigureSpec("fig99_fine", ("00_demo",), "", fine),
    ]
    monkeypatch.setattr(figmain, "all_figures", lambda: specs)
    code = figmain.main(["--results", str(tmp_path), "--out", str(tmp_path / "g")])
    out = capsys.readouterr().out
    assert code == 1
    assert "fig98_broken: failed (KeyError: 'condition')" in out and "fig99_fine: drawn" in out


def test_a_run_whose_arrays_cannot_be_recorded_fails_alone(tmp_path: Path) -> None:
    def run(cfg: _Cfg, ctx: RunContext) -> RunOutput:
        arrays = {"x": np.zeros(2)} if cfg.i != 1 else {"o": np.array([{}, None], dtype=object)}
        return RunOutput({"v": 1.0}, arrays)

    sim = Simulation(
        number="00",
        name="objects",
        title="t",
        paper="none",
        configs=lambda scale: [_Cfg(0), _Cfg(1)],
        run=run,
        label=lambda c: f"i{c.i}",
    )
    s = run_simulation(sim, out=tmp_path, progress=False)
    assert (s.ran, s.failed) == (1, 1) and "arrays['o'] must be" in s.failures[0]
    failed = [r for r in RunStore(tmp_path, sim.id).records(status=None) if r.status == "failed"]
    assert len(failed) == 1 and not (failed[0].path / ARRAYS_FILE).exists()


def test_queue_order_puts_larger_batches_first_and_keeps_ties_in_order() -> None:
    from sims.simulation import queue_order

    assert queue_order([1, 3, 1, 2, 3]) == [1, 4, 3, 0, 2]
    assert queue_order([]) == []


def test_packed_sweep_of_several_simulations_records_what_each_gets_alone(tmp_path: Path) -> None:
    """One local cluster for two simulations, their batches queued together: every config recorded
    once, ok, with the numbers an in-process sweep of each simulation alone records; the summaries come
    back in the order given and ``on_finish`` sees each simulation once."""
    pytest.importorskip("distributed")
    from sims.registry import find_simulation
    from sims.simulation import run_simulations

    sims = [find_simulation("11"), find_simulation("05")]
    finished: list[str] = []
    packed = run_simulations(
        sims,
        out=tmp_path / "packed",
        n_seeds=2,
        workers=2,
        progress=False,
        on_finish=lambda s: finished.append(s.sim),
    )
    alone = run_simulations(sims, out=tmp_path / "alone", n_seeds=2, progress=False)
    assert [s.sim for s in packed] == [s.id for s in sims]
    assert all(s.packed and s.row_seconds > 0 for s in packed)
    assert not any(s.packed for s in alone)
    assert sorted(finished) == sorted(s.id for s in sims)
    for sim, p, a in zip(sims, packed, alone, strict=True):
        total = len(sim.grid("quick", 2))
        assert p.ran == a.ran == total and p.failed == 0, p.failures
        got = {r.key: r for r in RunStore(tmp_path / "packed", sim.id).records()}
        ref = {r.key: r for r in RunStore(tmp_path / "alone", sim.id).records()}
        assert got.keys() == ref.keys() and len(got) == total
        assert all(r.data["worker"] != "local" for r in got.values())
        for key, r in ref.items():
            assert got[key].metrics.keys() == r.metrics.keys()
            for name, value in r.metrics.items():
                assert np.isclose(got[key].metrics[name], value, rtol=1e-6, atol=1e-9), (key, name)
        assert (tmp_path / "packed" / sim.id / "table.csv").exists()


def test_packed_sweep_refuses_a_lone_simulation_object(tmp_path: Path) -> None:
    from sims.registry import find_simulation
    from sims.simulation import run_simulations

    with pytest.raises(AdvsimError, match="sims"):
        run_simulations(find_simulation("01"), out=tmp_path)  # type: ignore[arg-type]


def test_arrays_are_read_once_per_file_version_and_read_only(tmp_path: Path) -> None:
    """A record's arrays come from memory after the first read, read-only (so no reader can change what
    the next one sees), and a rewritten record is read again."""
    import sims.records as recmod

    store = RunStore(tmp_path, "00_demo")
    store.write("k", {"config": {}, "status": "ok", "metrics": {}}, {"x": np.arange(4.0)})
    first = store.load("k").arrays()
    with pytest.raises(ValueError, match="read-only"):
        first["x"][0] = 7.0
    first["extra"] = np.zeros(1)  # the dict is the caller's own
    again = store.load("k").arrays()
    assert "extra" not in again and again["x"] is first["x"]  # from memory
    time.sleep(0.01)
    store.write("k", {"config": {}, "status": "ok", "metrics": {}}, {"x": np.arange(4.0) + 1})
    assert np.array_equal(store.load("k").arrays()["x"], np.arange(4.0) + 1)
    before, before_bytes = dict(recmod._ARRAYS_CACHE), recmod._CACHED_BYTES
    old_cap = recmod.ARRAYS_CACHE_BYTES
    try:
        recmod._ARRAYS_CACHE.clear()
        recmod._CACHED_BYTES = 0
        recmod.ARRAYS_CACHE_BYTES = 40  # room for one 32-byte array: the older one is evicted
        store.write("k2", {"config": {}, "status": "ok", "metrics": {}}, {"y": np.ones(4)})
        store.load("k").arrays()
        store.load("k2").arrays()
        assert len(recmod._ARRAYS_CACHE) == 1 and recmod._CACHED_BYTES == 32
        assert next(iter(recmod._ARRAYS_CACHE))[0].endswith(f"k2/{ARRAYS_FILE}")
        # checking a record (RunStore.records, is_done) reads its arrays without caching them
        recmod._ARRAYS_CACHE.clear()
        recmod._CACHED_BYTES = 0
        recmod._ARRAYS_CHECKED.clear()
        assert len(store.records()) == 2 and not recmod._ARRAYS_CACHE
    finally:
        recmod.ARRAYS_CACHE_BYTES = old_cap
        recmod._ARRAYS_CACHE.clear()
        recmod._ARRAYS_CACHE.update(before)
        recmod._CACHED_BYTES = before_bytes
