"""The verdict rule (paper_checks.claims): intervals against bands, valid controls, kinds, the scale
ladder's trend, the JSON contract, the report and the verdict figure — on synthetic records whose true
value is known, so each rule is seen to flip."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from paper_checks import stats
from paper_checks.claims import (
    INF,
    Claim,
    Comparison,
    Control,
    accuracies,
    all_of,
    any_of,
    evaluate,
    evaluate_scales,
    exact,
    judge,
    main_trained,
    missing,
    trend,
)
from paper_checks.report import to_json, to_markdown, to_terminal
from sims.records import RunRecord, RunStore

SIM = "99_synthetic"


def _write(
    root: Path, key: str, condition: str, values: np.ndarray, acc: float, scale: str = "quick"
) -> None:
    """A fake run: ``values (S, n)`` per member and point, and its accuracies."""
    S = values.shape[0]
    RunStore(root, SIM).write(
        key,
        {
            "config": {"condition": condition},
            "scale": scale,
            "status": "ok",
            "timings": {"end": 1.0},
        },
        {"values": values, "train_acc": np.full(S, acc), "test_acc": np.full(S, acc)},
    )


def mean_check(runs: Sequence[RunRecord]) -> Comparison:
    """Mean of ``values`` against the band [0.9, 1.1]."""
    v = np.concatenate([r.arrays()["values"] for r in runs])
    return judge(stats.mean(v), (0.9, 1.1), predicted=1.0, n_runs=len(runs)).with_accuracy(
        *accuracies(runs)
    )


def _claim(kind: str = "law", *, accuracy: str = "clean") -> Claim:
    return Claim(
        id="SYN-mean",
        paper="synthetic",
        kind=kind,  # type: ignore[arg-type]
        statement="the mean is 1",
        source="[test]",
        sim=SIM,
        select=lambda r: r.config["condition"] == "law",
        check=mean_check,
        controls=(
            Control(
                "broken",
                "the condition broken: mean 2",
                lambda r: r.config["condition"] == "control",
                accuracy=accuracy,  # type: ignore[arg-type]
            ),
        ),
    )


def _data(center: float, spread: float, S: int = 8, n: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return center + rng.normal(0, spread, size=(S, 1)) + rng.normal(0, spread, size=(S, n))


@pytest.mark.parametrize(
    ("center", "spread", "expected"),
    [(1.0, 0.01, "holds"), (1.5, 0.01, "fails"), (1.1, 0.05, "inconclusive")],
)
def test_verdict_follows_the_interval(
    tmp_path: Path, center: float, spread: float, expected: str
) -> None:
    _write(tmp_path, "law", "law", _data(center, spread), 0.95)
    _write(tmp_path, "ctl", "control", _data(2.0, 0.01, seed=1), 0.95)
    res = evaluate(_claim(), tmp_path)
    assert res.verdict == expected, res.note
    assert res.main.ci is not None and res.main.n_seeds == 8
    if expected == "inconclusive":
        assert "straddles the band edge 1.1" in res.note


def test_a_control_that_does_not_flip_makes_the_claim_inconclusive(tmp_path: Path) -> None:
    _write(tmp_path, "law", "law", _data(1.0, 0.01), 0.95)
    _write(tmp_path, "ctl", "control", _data(1.0, 0.01, seed=1), 0.95)
    res = evaluate(_claim(), tmp_path)
    assert res.verdict == "inconclusive" and "did not flip" in res.note


def test_a_control_that_did_not_train_is_not_valid(tmp_path: Path) -> None:
    """The control flips, but its accuracy is 0.3 below the main runs': it proves nothing."""
    _write(tmp_path, "law", "law", _data(1.0, 0.01), 0.95)
    _write(tmp_path, "ctl", "control", _data(2.0, 0.01, seed=1), 0.65)
    res = evaluate(_claim(), tmp_path)
    assert res.controls[0][1].status == "fails"
    assert res.verdict == "inconclusive" and "did not train" in res.note
    assert res.validity == [(False, "clean accuracy 0.650 vs 0.950 in the main runs")]


@pytest.mark.parametrize(
    ("center", "acc", "expected"),
    [(1.5, 0.65, "fails"), (1.5, 0.55, "inconclusive"), (1.0, 0.55, "inconclusive")],
)
def test_main_runs_that_did_not_train_make_the_claim_inconclusive(
    tmp_path: Path, center: float, acc: float, expected: str
) -> None:
    """Where a claim states its task's chance level, main runs within VALID_DROP of it neither show
    nor refute anything: a failure on them is no finding, and an interval inside the band no hold."""
    _write(tmp_path, "law", "law", _data(center, 0.01), acc)
    _write(tmp_path, "ctl", "control", _data(2.0, 0.01, seed=1), acc)
    res = evaluate(replace(_claim(), chance=0.5), tmp_path)
    assert res.verdict == expected, res.note
    assert main_trained(res.claim, res.main)[0] == (acc >= 0.6)
    if expected == "inconclusive":
        assert res.note.startswith("the main runs did not train (clean accuracy 0.550, below 0.60")
    # without a stated chance level the accuracy is not judged: the interval alone decides
    assert evaluate(_claim(), tmp_path).verdict == ("fails" if center == 1.5 else "holds")


def test_chance_level_is_checked() -> None:
    with pytest.raises(ValueError, match="chance must lie in"):
        replace(_claim(), chance=1.0)
    with pytest.raises(ValueError, match="an identity is exact"):
        replace(_claim("identity"), chance=0.5)


def test_a_control_at_chance_is_not_valid_whatever_the_main_runs(tmp_path: Path) -> None:
    """Main runs at 0.65 clear the chance floor 0.6; a control at 0.56 is within VALID_DROP of them
    but no better than a constant prediction: it flips, yet shows nothing."""
    _write(tmp_path, "law", "law", _data(1.0, 0.01), 0.65)
    _write(tmp_path, "ctl", "control", _data(2.0, 0.01, seed=1), 0.56)
    assert evaluate(_claim(), tmp_path).verdict == "holds"
    res = evaluate(replace(_claim(), chance=0.5), tmp_path)
    assert res.verdict == "inconclusive" and "did not train" in res.note
    assert res.validity[0][0] is False and "below 0.60" in res.validity[0][1]


def test_trend_leaves_out_rungs_that_did_not_train(tmp_path: Path) -> None:
    """A failing quick rung and a medium rung closer to the band read "approaching" — unless the medium
    runs did not train, whose distance measures the collapse, not the law."""
    _write(tmp_path, "lq", "law", _data(1.6, 0.01), 0.9, scale="quick")
    _write(tmp_path, "cq", "control", _data(2.0, 0.01, seed=1), 0.9, scale="quick")
    for acc, expected in ((0.9, "approaching"), (0.55, "")):
        _write(tmp_path, "lm", "law", _data(1.3, 0.01, seed=2), acc, scale="medium")
        _write(tmp_path, "cm", "control", _data(2.0, 0.01, seed=3), acc, scale="medium")
        per = evaluate_scales(replace(_claim(), chance=0.5), tmp_path, ["quick", "medium"])
        assert [r.trained for r in per] == [True, acc >= 0.6]
        assert trend(per) == expected
    assert to_json(per)["claims"][1]["trained"] is False


def test_a_finding_stands_whatever_the_controls(tmp_path: Path) -> None:
    _write(tmp_path, "law", "law", _data(1.5, 0.01), 0.95)
    _write(tmp_path, "ctl", "control", _data(1.0, 0.01, seed=1), 0.3)
    assert evaluate(_claim(), tmp_path).verdict == "fails"


@pytest.mark.parametrize(("floor", "expected"), [(0.9, "fails"), (0.5, "inconclusive")])
def test_a_noise_floor_that_excludes_the_null_value_keeps_a_failure_from_being_a_finding(
    tmp_path: Path, floor: float, expected: str
) -> None:
    """A noise-floor control (``expect="null"``: the same method again, whose true difference is the
    band edge) must contain that edge; when it excludes it the comparison's interval misses a source of
    variance, so a failing main comparison is inconclusive instead of a finding."""
    _write(tmp_path, "law", "law", _data(1.5, 0.01), 0.95)
    _write(tmp_path, "ctl", "control", _data(floor, 0.05, seed=1), 0.95)
    claim = _claim()
    null = Control(
        "another seed",
        "the noise floor",
        lambda r: r.config["condition"] == "control",
        expect="null",
    )
    claim = Claim(**{**claim.__dict__, "controls": (null,)})
    res = evaluate(claim, tmp_path)
    assert res.verdict == expected, res.note
    if expected == "inconclusive":
        assert "noise floor" in res.note and "not a finding" in res.note


def test_any_of_holds_when_one_alternative_holds_and_fails_only_when_all_fail() -> None:
    """An existence statement over alternatives (:func:`paper_checks.claims.any_of`): the headline is
    the alternative that decides the status; every alternative stays in ``parts``."""
    from paper_checks.stats import Interval

    def alt(lo: float, hi: float, label: str) -> Comparison:
        return judge(Interval((lo + hi) / 2, lo, hi, 8), (0.5, INF), label=label)

    yes, no, maybe = alt(0.6, 0.7, "a"), alt(0.1, 0.2, "b"), alt(0.4, 0.6, "c")
    got = any_of([no, maybe, yes])
    assert got.status == "holds" and got.label == "a" and len(got.parts) == 3
    assert got.reason.startswith("one of: b: fails")
    assert any_of([no, maybe]).status == "inconclusive" and any_of([no, maybe]).label == "c"
    assert any_of([no, alt(0.0, 0.3, "d")]).status == "fails"
    with pytest.raises(ValueError):
        any_of([])


def test_a_non_identity_check_without_an_interval_is_inconclusive(tmp_path: Path) -> None:
    def point_check(runs: Sequence[RunRecord]) -> Comparison:
        return exact(1.0, (0.9, 1.1))

    claim = _claim()
    claim = Claim(**{**claim.__dict__, "check": point_check})
    _write(tmp_path, "law", "law", _data(1.0, 0.01), 0.95)
    _write(tmp_path, "ctl", "control", _data(2.0, 0.01, seed=1), 0.95)
    res = evaluate(claim, tmp_path)
    assert res.verdict == "inconclusive" and "no interval" in res.note
    ident = Claim(**{**claim.__dict__, "kind": "identity"})
    assert evaluate(ident, tmp_path).verdict == "inconclusive"  # the control (same check) holds too


def test_identity_is_exact() -> None:
    assert exact(1e-15, (-INF, 1e-10)).status == "holds"
    assert exact(1e-3, (-INF, 1e-10)).status == "fails"
    assert exact(float("nan"), (-INF, 1e-10)).status == "inconclusive"


def test_all_of_needs_every_part() -> None:
    good = judge(stats.Interval(1.0, 0.95, 1.05, 8), (0.9, 1.1), label="a")
    bad = judge(stats.Interval(2.0, 1.9, 2.1, 8), (0.9, 1.1), label="b")
    unsure = judge(stats.Interval(1.1, 1.0, 1.2, 8), (0.9, 1.1), label="c")
    assert all_of([good, good]).status == "holds"
    assert all_of([good, bad]).status == "fails"
    assert all_of([good, unsure]).status == "inconclusive"
    assert "b: fails" in all_of([good, bad]).reason
    assert missing("no records").status == "inconclusive"


def test_one_sided_bands_and_unbounded_intervals() -> None:
    assert judge(stats.Interval(0.8, 0.6, 0.9, 8), (0.5, INF)).status == "holds"
    assert judge(stats.Interval(0.8, -INF, INF, 1), (0.5, INF)).status == "inconclusive"
    assert judge(stats.Interval(float("nan"), 0, 1, 8), (0.5, INF)).status == "inconclusive"


def test_claim_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="kind"):
        _claim(kind="theorem")


def test_scales_are_evaluated_apart_and_a_shrinking_failure_is_approaching(tmp_path: Path) -> None:
    for scale, center in (("quick", 1.6), ("medium", 1.3)):
        _write(tmp_path, f"law-{scale}", "law", _data(center, 0.01), 0.95, scale)
        _write(tmp_path, f"ctl-{scale}", "control", _data(2.0, 0.01, seed=1), 0.95, scale)
    per = evaluate_scales(_claim(), tmp_path, ["quick", "medium", "paper"])
    assert [r.scale for r in per] == ["quick", "medium"]
    assert [r.verdict for r in per] == ["fails", "fails"]
    assert per[0].main.measured == pytest.approx(1.6, abs=0.02)
    assert trend(per) == "approaching"
    assert trend(per[::-1]) == "persists"
    text = to_terminal(per)
    assert "approaching" in text and "[medium] 1 paper claims" in text


def test_json_contract_report_and_figure(tmp_path: Path) -> None:
    res_dir = tmp_path / "results"
    _write(res_dir, "law", "law", _data(1.0, 0.01), 0.95)
    _write(res_dir, "ctl", "control", _data(2.0, 0.01, seed=1), 0.95)
    results = [evaluate(_claim(), res_dir)]
    data = to_json(results, meta={"git": "x"})
    entry = data["claims"][0]
    for key in (
        "id",
        "paper",
        "kind",
        "scale",
        "verdict",
        "measured",
        "ci",
        "band",
        "n_seeds",
        "controls",
    ):
        assert key in entry
    for key in ("name", "verdict", "measured", "ci", "valid"):
        assert key in entry["controls"][0]
    assert entry["verdict"] == "holds" and entry["band"] == [0.9, 1.1] and entry["n_seeds"] == 8
    back = json.loads(json.dumps(data))
    assert back["claims"][0]["ci"][0] < 1.0 < back["claims"][0]["ci"][1]
    md = to_markdown(results, report_path=tmp_path / "r.md", figures_dir=tmp_path / "figs")
    assert "1 paper claims (1 laws" in md and "fig00_verdicts.png" in md
    from figures.verdicts import draw_verdicts

    paths = draw_verdicts(data, tmp_path / "figs")
    assert all(p.stat().st_size > 1000 for p in paths)


def test_cli_writes_json_with_meta(tmp_path: Path) -> None:
    """``python -m paper_checks`` on a folder with no records: every claim inconclusive, JSON written."""
    from paper_checks.__main__ import main as checks_main

    out = tmp_path / "v.json"
    rc = checks_main(
        [
            "--results",
            str(tmp_path / "empty"),
            "--json",
            str(out),
            "--no-figure",
            "--meta",
            "wall_s=12",
            "--only",
            "MYV-frozen",
        ]
    )
    assert rc == 0
    data = json.loads(out.read_text())
    assert data["meta"]["wall_s"] == "12" and data["meta"]["scales"] == ["quick"]
    assert [c["verdict"] for c in data["claims"]] == ["inconclusive"]
    assert all(isinstance(x, float) for x in data["claims"][0]["band"])


def test_a_damaged_record_is_skipped_and_listed_in_the_report(tmp_path: Path) -> None:
    from paper_checks.__main__ import main as checks_main
    from sims.records import RECORD_FILE

    res_dir = tmp_path / "results"
    bad = res_dir / "01_frozen_weights" / "bad-run"
    bad.mkdir(parents=True)
    (bad / RECORD_FILE).write_text('{"status": "ok", "con')
    report = tmp_path / "report.md"
    with pytest.warns(Warning):
        rc = checks_main(
            [
                "--results",
                str(res_dir),
                "--report",
                str(report),
                "--no-figure",
                "--only",
                "MYV-frozen",
            ]
        )
    assert rc == 0
    text = report.read_text()
    assert "could not be read and were skipped" in text and "bad-run" in text


def test_a_noise_floor_control_only_has_to_not_hold(tmp_path: Path) -> None:
    """A control expected ``not_holds`` (another seed of the same method: true effect zero) passes when
    its interval straddles the band; it would disqualify the claim only by holding."""
    _write(tmp_path, "law", "law", _data(1.0, 0.01), 0.95)
    _write(tmp_path, "ctl", "control", _data(1.1, 0.05, seed=1), 0.95)
    base = _claim()
    strict = evaluate(base, tmp_path)
    assert strict.controls[0][1].status == "inconclusive" and strict.verdict == "inconclusive"
    floor = Claim(
        **{
            **base.__dict__,
            "controls": (Control(**{**base.controls[0].__dict__, "expect": "not_holds"}),),
        }
    )
    assert evaluate(floor, tmp_path).verdict == "holds"
    _write(tmp_path, "ctl", "control", _data(1.0, 0.01, seed=1), 0.95)
    assert evaluate(floor, tmp_path).verdict == "inconclusive"
    # a noise-floor control that measured nothing (no runs selected) does not pass either
    empty = Claim(
        **{
            **base.__dict__,
            "controls": (
                Control(
                    **{
                        **base.controls[0].__dict__,
                        "expect": "not_holds",
                        "select": lambda r: False,
                    }
                ),
            ),
        }
    )
    res = evaluate(empty, tmp_path)
    assert res.controls[0][1].measured is None and res.verdict == "inconclusive"
    # nor one whose interval is unbounded (a single seed)
    _write(tmp_path, "ctl", "control", _data(1.1, 0.05, S=1, seed=1), 0.95)
    res = evaluate(floor, tmp_path)
    ci = res.controls[0][1].ci
    assert ci is not None and not np.isfinite(ci).all() and res.verdict == "inconclusive"


def test_start_law_ks_counts_members_sharing_their_draws_once(tmp_path: Path) -> None:
    """Members attacked at the same points draw the same start radii (keyed on the rows): the KS test
    must see each draw once. Four identical copies of 10 000 exact U[0, 1] draws pass; the pooled
    copies, read as 40 000 independent draws, would have given a p-value four times too confident —
    and a non-uniform law still fails."""
    from paper_checks.fast_at import start_law_check

    u = np.random.default_rng(3).uniform(size=10_000)
    cases = {"shared": np.tile(u, (4, 1)), "wrong": np.tile(u**2, (4, 1))}
    for name, radii in cases.items():
        RunStore(tmp_path, "11_fgsm").write(
            name,
            {"config": {"condition": name, "law": "radius", "d": 100}, "status": "ok"},
            {"start_radius": radii},
        )
    runs = {r.config["condition"]: r for r in RunStore(tmp_path, "11_fgsm").records()}
    shared = start_law_check([runs["shared"]])
    assert "(10000 radii)" in shared.detail
    from scipy import stats as sps

    assert shared.measured == pytest.approx(sps.kstest(u, "uniform").pvalue)
    assert start_law_check([runs["wrong"]]).status == "fails"


@pytest.mark.parametrize(
    ("ci", "band", "unreliable", "flipped"),
    [
        ((-0.1, 0.2), (0.0, np.inf), "", True),  # contains the null value: a noise floor
        ((0.05, 0.2), (0.0, np.inf), "", False),  # holds
        ((-0.3, -0.1), (0.0, np.inf), "", False),  # excludes 0 on the other side: a bias
        ((-np.inf, np.inf), (0.0, np.inf), "", False),  # unbounded: shows nothing
        ((-0.1, 0.2), (0.0, np.inf), "levels not reached", False),  # unreliable: shows nothing
        ((-0.2, 0.1), (-np.inf, 0.0), "", True),  # a band below 0: its edge is 0
        ((0.1, 0.2), (-np.inf, 0.0), "", False),
    ],
)
def test_a_strict_noise_floor_must_contain_the_null_value(
    ci: tuple[float, float], band: tuple[float, float], unreliable: str, flipped: bool
) -> None:
    """``expect="null"``: the control's interval must be bounded, reliable and contain the band's finite
    edge, whatever its status; ``"not_holds"`` accepts an interval that excludes it below."""
    from paper_checks.claims import Comparison, _judge_interval, control_flipped

    status, reason = _judge_interval(ci[0], ci[1], band)
    cmp = Comparison(status, 0.5 * (ci[0] + ci[1]), band, ci, reason=reason, unreliable=unreliable)
    ctl = Control("floor", "another seed", lambda r: True, expect="null")
    assert control_flipped(ctl, cmp) == flipped
    loose = Control("floor", "another seed", lambda r: True, expect="not_holds")
    if ci == (-0.3, -0.1):
        assert control_flipped(loose, cmp)  # the looser floor only asks that it not hold
