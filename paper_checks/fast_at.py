"""Claims of fast adversarial training — Wong, Rice & Kolter 2020 (ℓ∞); Goodwin, Brown & Helus 2020 (ℓ2).

shared/PAPERS.md §3. Three kinds of claim:

* *identities* — the exact statistics of one fast step (:mod:`theory.fast_at`), checked on the
  perturbations :class:`sims.methods.FastAT` trains on (simulation 11): a worst case over runs and
  members against the derived value, no interval;
* *comparisons* — fast AT against 10-step PGD-AT on the same member seeds, data and test points
  (simulation 12): the paired per-seed difference of robust accuracy, and of the feature measures, with
  the 95% interval of :mod:`paper_checks.stats`;
* *existence* — catastrophic overfitting somewhere on the map of published recipes (simulation 13),
  read on test-set PGD accuracy; beside it three *comparisons* on the same map — the guard, the random
  start and the gradient alignment — judged where the collapse happens (inconclusive where nothing
  collapses).

The cost of fast AT (two gradient evaluations per step against PGD-10's eleven: 2/11 by construction)
cannot fail, so it is reported as a measured fact — gradient evaluations and the training wall-time ratio
from the records — in each comparison's ``detail``, not judged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
from scipy import stats as sps

from paper_checks import stats
from paper_checks.claims import (
    INF,
    Claim,
    Comparison,
    Control,
    accuracies,
    all_of,
    exact,
    judge,
    missing,
)
from sims.measure import end_below_peak, trained_peak
from sims.records import RunRecord
from theory import fast_at as th

__all__ = ["CLAIMS"]

PAPER = "Wong, Rice & Kolter 2020; Goodwin, Brown & Helus 2020"
SIM11 = "11_fgsm_rs_statistics"
SIM12 = "12_fast_vs_pgd"
SIM13 = "13_overfitting_map"
#: Test PGD robust accuracy ending this far below its peak is a collapse (the authors' guard
#: threshold).
COLLAPSE = 0.2
#: A member whose test PGD accuracy never reached this cannot collapse (simulation 13's ``PEAK_MIN``).
PEAK_MIN = 0.3
#: The smallest radius of the map (fraction of the data's ℓ∞ cap): the controls' cells.
SMALLEST_FRAC = 0.2

#: Allowed deviation of the clipped share from a/2 (the binomial spread at quick scale is < 0.001).
SHARE_TOL = 0.01
#: Share of ℓ2 fast steps that must end on the sphere.
SPHERE_MIN = 0.999
#: Family-wise KS level: the Bonferroni-adjusted p-value of every row must be at least this.
KS_MIN_P = 0.01
#: "Within a few points": fast AT's robust accuracy may trail PGD-AT's by at most this, and a feature
#: measure may differ from PGD-AT's by at most this.
FEW_POINTS = 0.05

#: Simulation 11 records no accuracy: its controls train nothing.
NO_TRAINING = "exact statistics of one attack step at initialisation: nothing trains"


def _l2_high_dim(condition: str) -> bool:
    """Simulation 11's ℓ2 rows at d = 100 and d = 1000."""
    return condition.startswith("l2-") and condition.endswith(("-d100", "-d1000"))


def _condition(pred: Callable[[str], bool]) -> Callable[[RunRecord], bool]:
    return lambda r: pred(str(r.config.get("condition", "")))


def _rows(prefix: str, exclude_suffix: str) -> Callable[[RunRecord], bool]:
    """Runs whose condition starts with ``prefix`` and does not end with ``exclude_suffix``."""
    return _condition(lambda c: c.startswith(prefix) and not c.endswith(exclude_suffix))


def _members(runs: Sequence[RunRecord], key: str) -> int:
    """The most members any run recorded in ``key``."""
    return max(int(np.asarray(r.arrays()[key]).shape[0]) for r in runs)


# ----------------------------------------------------------------------------- identities (sim 11)
def clip_share_check(runs: Sequence[RunRecord]) -> Comparison:
    """Largest ``|share at ±ε − a/2|`` over runs and members (:func:`theory.fast_at.fgsm_rs_clip_share`),
    at most :data:`SHARE_TOL`."""
    worst, detail = 0.0, []
    for r in runs:
        a = float(r.config["a"])
        share = r.arrays()["clip_share"]
        pred = th.fgsm_rs_clip_share(a)
        worst = max(worst, float(np.abs(share - pred).max()))
        detail.append(f"a={a:g}: {share.mean():.4f} vs {pred:.4f}")
    return exact(
        worst,
        (0.0, SHARE_TOL),
        predicted=0.0,
        detail="; ".join(detail),
        n_runs=len(runs),
        n_seeds=_members(runs, "clip_share"),
    )


def sphere_check(runs: Sequence[RunRecord]) -> Comparison:
    """Smallest share of ℓ2 fast steps (``α = aε``) that end on the sphere, over runs and members: at
    least :data:`SPHERE_MIN` (:func:`theory.fast_at.l2_fast_on_sphere_bound`)."""
    worst, detail = 1.0, []
    for r in runs:
        on = float(r.arrays()["on_sphere"].min())
        worst = min(worst, on)
        bound = th.l2_fast_on_sphere_bound(float(r.config["a"]), int(r.config["d"]))
        detail.append(f"{r.config['condition']}: {on:.4f} (derived ≥ {1 - bound:.4g})")
    return exact(
        worst,
        (SPHERE_MIN, 1.0),
        predicted=1.0,
        detail="; ".join(detail),
        n_runs=len(runs),
        n_seeds=_members(runs, "on_sphere"),
    )


def start_law_check(runs: Sequence[RunRecord]) -> Comparison:
    """Smallest Bonferroni-adjusted KS p-value of the recorded start radii against the law each run
    names (:func:`theory.fast_at.start_radius_cdf`).

    The random start is keyed on the attacked rows' content (:mod:`sims.rng`), so members attacked at
    the same points draw the *same* radii: a KS test on the pooled ``(M, n)`` array would count every
    draw ``M`` times and shrink its p-value (at 4 members × 10 000 points, p = 1e-4 for exact uniform
    draws). So the test runs on the distinct draws only — identical member rows are kept once; members
    with draws of their own are pooled. One KS test per run, its p-value times the number of runs
    (capped at 1), so that the family of tests is rejected by chance with probability at most
    :data:`KS_MIN_P` whatever the number of runs and members."""
    worst, detail = 1.0, []
    for r in runs:
        law, d = str(r.config["law"]), int(r.config["d"])
        radii = np.unique(np.atleast_2d(np.asarray(r.arrays()["start_radius"])), axis=0).ravel()
        p = float(sps.kstest(radii, lambda t, law=law, d=d: th.start_radius_cdf(law, t, d)).pvalue)
        adjusted = min(1.0, p * len(runs))
        worst = min(worst, adjusted)
        detail.append(f"{r.config['condition']} vs '{law}' law: p = {p:.3g} ({radii.size} radii)")
    return exact(
        worst,
        (KS_MIN_P, 1.0),
        detail="; ".join(detail),
        n_runs=len(runs),
        n_seeds=_members(runs, "start_radius"),
    )


# ----------------------------------------------------------------------------- comparisons (sim 12)
def _pgd_pairs(
    runs: Sequence[RunRecord],
) -> list[tuple[str, RunRecord, RunRecord]] | Comparison:
    """``(data set, PGD-AT run, the other run)`` per data set of simulation 12; an inconclusive
    comparison when a data set lacks exactly that pair."""
    by: dict[str, dict[str, RunRecord]] = {}
    for r in runs:
        by.setdefault(str(r.config["data"]), {})[str(r.config["method"])] = r
    out = []
    for data, rs in sorted(by.items()):
        cand = [m for m in rs if m != "pgd"]
        if "pgd" not in rs or len(cand) != 1:
            return missing(f"{data}: needs one PGD-AT run and one other", n_runs=len(runs))
        out.append((data, rs["pgd"], rs[cand[0]]))
    return out


def _robust_at_eps(r: RunRecord) -> np.ndarray:
    """Per member and attacked point, robust at the training ε: ``(M, n)``."""
    a = r.arrays()
    j = int(np.argmin(np.abs(np.asarray(a["eps_grid"]) - float(r.config["eps"]))))
    return np.asarray(a["robust_points"][:, j, :], dtype=float)


def _cost(p: RunRecord, c: RunRecord) -> str:
    """The candidate's cost against PGD-AT's, as measured (not judged)."""
    ge_c, ge_p = float(c.metrics["grad_evals"]), float(p.metrics["grad_evals"])
    s_c, s_p = float(c.metrics["seconds"]), float(p.metrics["seconds"])
    return (
        f"cost: {ge_c:.0f} vs {ge_p:.0f} gradient evaluations ({ge_c / ge_p:.2f}×, by construction), "
        f"training {s_c:.1f} s vs {s_p:.1f} s ({s_c / s_p:.2f}× the wall time)"
    )


def fast_vs_pgd_check(runs: Sequence[RunRecord]) -> Comparison:
    """Per data set, PGD-AT's robust accuracy at the training ε minus the other model's: the paired
    difference (same member seeds, data and attacked points; :func:`paper_checks.stats.paired_difference`)
    at most :data:`FEW_POINTS`. The parts are ordered by the estimated gap, the largest first (the
    headline). The cost is reported in ``detail``, not judged."""
    pairs = _pgd_pairs(runs)
    if isinstance(pairs, Comparison):
        return pairs
    if any("robust_points" not in r.arrays() for _, p, c in pairs for r in (p, c)):
        return missing("records lack robust_points: rerun simulation 12", n_runs=len(runs))
    parts = []
    for data, p, c in pairs:
        rp, rc = _robust_at_eps(p), _robust_at_eps(c)
        iv = stats.paired_difference(rp, rc)
        parts.append(
            judge(
                iv,
                (-INF, FEW_POINTS),
                predicted=0.0,
                detail=(
                    f"{data}: {c.config['method']} {rc.mean():.3f} vs PGD-AT {rp.mean():.3f} robust "
                    f"at ε = {float(p.config['eps']):g}; {_cost(p, c)}"
                ),
                n_runs=2,
                label=f"{data}: PGD-AT − {c.config['method']}",
            )
        )
    parts.sort(key=lambda cmp: -(cmp.measured if cmp.measured is not None else -INF))
    return all_of(parts).with_accuracy(*accuracies(runs))


def aligned_check(runs: Sequence[RunRecord]) -> Comparison:
    """Per data set, the candidate's median feature measure minus PGD-AT's (on-subspace gradient share
    per test point, or neuron purity per neuron; pooled medians, paired by member and point or neuron —
    every method continues the same member from the same weights) within ±:data:`FEW_POINTS`."""
    pairs = _pgd_pairs(runs)
    if isinstance(pairs, Comparison):
        return pairs
    parts = []
    for data, p, c in pairs:
        key = "grad_on_share" if data == "subspace" else "purity"
        vp, vc = p.arrays()[key], c.arrays()[key]
        iv = stats.paired_difference(vc, vp, reduce="median")
        parts.append(
            judge(
                iv,
                (-FEW_POINTS, FEW_POINTS),
                predicted=0.0,
                detail=(
                    f"{data} median {key}: {c.config['method']} {np.median(vc):.3f} vs PGD-AT "
                    f"{np.median(vp):.3f}"
                ),
                n_runs=2,
                label=f"{data}: {c.config['method']} − PGD-AT",
            )
        )
    return all_of(parts).with_accuracy(*accuracies(runs))


# ----------------------------------------------------------------------------- the map (sim 13)
def _method(r: RunRecord) -> str:
    return str(r.config.get("method", ""))


def _cell_key(r: RunRecord) -> tuple[str, float]:
    """A cell's data set and radius (its method aside): what the methods of one radius share."""
    return str(r.config["data"]), float(r.config["frac"])


def _peak(r: RunRecord) -> tuple[np.ndarray, np.ndarray]:
    """Per member, the trained peak of the test PGD accuracy and its check
    (:func:`sims.measure.trained_peak`: checks where the clean accuracy beats the more frequent
    class's share by 0.1 — an untrained net that puts every point in one class is trivially robust
    on that class)."""
    a = r.arrays()
    return trained_peak(
        np.asarray(a["pgd"], dtype=float),
        None,
        np.asarray(a["clean"], dtype=float),
        float(r.metrics["clean_min"]),
    )


def _guard_end(r: RunRecord) -> np.ndarray:
    """Per member, the check at which the guarded run ends (:func:`sims.training.guard_replay`, recorded
    as ``guard_fired``: the check before the one that fired; the last check where it never fired)."""
    a = r.arrays()
    fired = np.asarray(a["guard_fired"])
    return np.where(fired >= 0, fired - 1, np.asarray(a["pgd"]).shape[0] - 1)


def _collapse(r: RunRecord) -> np.ndarray:
    """Per member, how far the test PGD accuracy ends below its trained peak (:func:`_peak`; 0 where the
    peak stayed below :data:`PEAK_MIN`): :func:`sims.measure.end_below_peak`."""
    a = r.arrays()
    return end_below_peak(
        np.asarray(a["pgd"], dtype=float),
        peak_min=PEAK_MIN,
        clean=np.asarray(a["clean"], dtype=float),
        clean_min=float(r.metrics["clean_min"]),
    )


def _largest_cell(
    vals: Sequence[np.ndarray], runs: Sequence[RunRecord], band: tuple[float, float], what: str
) -> Comparison:
    """The largest member-mean of per-member values ``vals`` over cells (runs) of simulation 13.

    The cells of one data set seed member ``i`` alike, so members are resampled jointly across cells
    (:func:`paper_checks.stats.bootstrap`, no points) and the statistic — the maximum over cells of
    the mean over members — is recomputed on each resample: its interval carries the selection of the
    largest cell."""
    if len({v.shape for v in vals}) != 1:
        return missing("cells with different member counts", band, len(runs))
    means = [float(v.mean()) for v in vals]
    top = int(np.argmax(means))

    def largest(*cells: np.ndarray) -> np.ndarray:
        return np.asarray(np.stack([c.mean(axis=(1, 2)) for c in cells]).max(axis=0))

    iv = stats.bootstrap(
        tuple(v[:, None] for v in vals),
        largest,
        nested=False,
        method="largest cell mean, members resampled jointly",
    )
    r = runs[top]
    a = r.arrays()
    peak, at = _peak(r)
    cols = np.arange(at.size)
    fgsm, align = np.asarray(a["fgsm"]), np.asarray(a["align"])
    detail = (
        f"{what}: largest in {r.config['condition']} (ε = {float(r.metrics['eps']):.3g}, "
        f"{means[top]:.3f}): test PGD {peak.mean():.2f} at its trained peak → "
        f"{np.asarray(a['pgd'])[-1].mean():.2f} at the end, FGSM {fgsm[at, cols].mean():.2f} → "
        f"{fgsm[-1].mean():.2f}, alignment {align[at, cols].mean():.2f} → {align[-1].mean():.2f}; "
        f"members at >= {COLLAPSE}: {sum(int((v >= COLLAPSE).sum()) for v in vals)} of "
        f"{sum(v.size for v in vals)} in {len(runs)} cells; by cell: "
        + ", ".join(f"{q.config['condition']} {m:.2f}" for q, m in zip(runs, means, strict=True))
    )
    return judge(iv, band, detail=detail, n_runs=len(runs)).with_accuracy(*accuracies(runs))


def _reference(runs: Sequence[RunRecord], cell: RunRecord) -> str:
    """What PGD-AT (the map's reference rows) reaches at ``cell``'s data set and radius."""
    ref = [r for r in runs if _method(r) == "pgd" and _cell_key(r) == _cell_key(cell)]
    if not ref:
        return "no PGD-AT reference at this radius"
    peak, _ = _peak(ref[0])
    return (
        f"PGD-AT there: test PGD {peak.mean():.2f} at its trained peak, "
        f"{np.asarray(ref[0].arrays()['pgd'])[-1].mean():.2f} at the end"
    )


def collapse_check(runs: Sequence[RunRecord]) -> Comparison:
    """Catastrophic overfitting somewhere on the map: the largest fast-AT cell's member-mean of the test
    PGD accuracy's end below its trained peak (a peak of at least :data:`PEAK_MIN`) at least
    :data:`COLLAPSE`. The detail adds the PGD-AT reference at that radius and the fast-AT cell with the
    largest end-state gap between FGSM and PGD accuracy (the state the collapse leaves, reached
    there with or without a collapse)."""
    fast = [r for r in runs if _method(r) != "pgd"]
    if not fast:
        return missing("no fast-AT cells", (COLLAPSE, INF), len(runs))
    cmp = _largest_cell([_collapse(r) for r in fast], fast, (COLLAPSE, INF), "without the guard")
    means = [float(_collapse(r).mean()) for r in fast]
    gaps = [
        float((np.asarray(r.arrays()["fgsm"])[-1] - np.asarray(r.arrays()["pgd"])[-1]).mean())
        for r in fast
    ]
    top, g = fast[int(np.argmax(means))], int(np.argmax(gaps))
    a = fast[g].arrays()
    note = (
        f"{_reference(runs, top)}; largest end-state FGSM − PGD gap: {fast[g].config['condition']} "
        f"{gaps[g]:.2f} (test PGD {np.asarray(a['pgd'])[-1].mean():.2f}, FGSM "
        f"{np.asarray(a['fgsm'])[-1].mean():.2f}, clean {np.asarray(a['clean'])[-1].mean():.2f}; "
        f"alignment at the end {np.nanmean(np.asarray(a['align'])[-1]):.2f}; trained PGD peak "
        f"{_peak(fast[g])[0].mean():.2f}; {_reference(runs, fast[g])})"
    )
    return replace(cmp, detail=f"{cmp.detail}; {note}")


def _collapsing(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """The fast-AT cells whose members collapse, on average, by at least :data:`COLLAPSE` without the
    guard (chosen on the point estimate; the checks' intervals do not carry this choice)."""
    return [r for r in runs if _method(r) != "pgd" and float(_collapse(r).mean()) >= COLLAPSE]


NOTHING_TO_GUARD = "no cell collapses without the guard: there is nothing to guard against"


def _guard_loss(r: RunRecord) -> np.ndarray:
    """Per member, how far the guarded run's final test PGD accuracy lies below the *unguarded* run's
    trained peak over the whole run (0 where that peak stayed below :data:`PEAK_MIN`): a guard that
    stops at the collapse keeps it small; one that fires too late, or never, does not. A guard that
    keeps an untrained net (clean accuracy below the trained level at its stop: its robustness is one
    class's share) has kept nothing: the whole peak is lost."""
    peak, _ = _peak(r)
    a = r.arrays()
    kept = np.asarray(a["pgd_guarded"], dtype=float)
    stop = _guard_end(r)
    trained = np.asarray(a["clean"], dtype=float)[stop, np.arange(stop.size)] >= float(
        r.metrics["clean_min"]
    )
    return np.asarray(np.where(peak >= PEAK_MIN, np.where(trained, peak - kept, peak), 0.0))


def guarded_check(runs: Sequence[RunRecord]) -> Comparison:
    """In the cells that collapse without the guard, the guard (replayed: stop at the first fall of
    the training batch's PGD-5 accuracy of more than 0.2, keep the previous check's weights) keeps the
    largest cell's member-mean of :func:`_guard_loss` under :data:`COLLAPSE`. The detail reports what
    the guard does over all fast-AT cells — where it fired on a passing dip it kept an earlier net —
    also when nothing collapses."""
    fast = [r for r in runs if _method(r) != "pgd"]
    kept, end, kept_clean, end_clean, fired, members = [], [], [], [], 0, 0
    for r in fast:
        a = r.arrays()
        f = np.asarray(a["guard_fired"])
        clean = np.asarray(a["clean"], dtype=float)
        kept.append(float(np.asarray(a["pgd_guarded"]).mean()))
        end.append(float(np.asarray(a["pgd"])[-1].mean()))
        kept_clean.append(float(clean[_guard_end(r), np.arange(f.size)].mean()))
        end_clean.append(float(clean[-1].mean()))
        fired, members = fired + int((f >= 0).sum()), members + f.size
    note = (
        f"the guard fired for {fired} of {members} members in {len(fast)} cells; final test accuracy, "
        f"mean over cells, guarded vs unguarded: PGD {np.mean(kept):.3f} vs {np.mean(end):.3f}, clean "
        f"{np.mean(kept_clean):.3f} vs {np.mean(end_clean):.3f}"
    )
    cells = _collapsing(runs)
    if not cells:
        return replace(missing(NOTHING_TO_GUARD, (-INF, COLLAPSE), len(runs)), detail=note)
    cmp = _largest_cell([_guard_loss(r) for r in cells], cells, (-INF, COLLAPSE), "guarded")
    return replace(cmp, detail=f"{cmp.detail}; {note}")


def unguarded_check(runs: Sequence[RunRecord]) -> Comparison:
    """The guard claim's control: the same collapsing cells without the guard (their collapse, judged
    against the guard's band: it cannot hold where the cells were chosen for collapsing, and shows how
    much there was to prevent)."""
    cells = _collapsing(runs)
    if not cells:
        return missing(NOTHING_TO_GUARD, (-INF, COLLAPSE), len(runs))
    return _largest_cell([_collapse(r) for r in cells], cells, (-INF, COLLAPSE), "unguarded")


def _start_pairs(runs: Sequence[RunRecord]) -> list[tuple[RunRecord, RunRecord]]:
    """(zero-init FGSM, FGSM-RS α = 1.25ε) runs of the same cell (data set, radius)."""
    by: dict[tuple[str, float], dict[str, RunRecord]] = {}
    for r in runs:
        by.setdefault(_cell_key(r), {})[_method(r)] = r
    return [(c["fgsm"], c["rs1.25"]) for _, c in sorted(by.items()) if {"fgsm", "rs1.25"} <= set(c)]


def start_check(runs: Sequence[RunRecord]) -> Comparison:
    """The authors' FGSM-RS recipe widens the region without collapse (:func:`start_difference`) —
    judged only where something collapses: with no collapse on the map there is no region to widen."""
    pairs = _start_pairs(runs)
    if pairs and not any(float(_collapse(r).mean()) >= COLLAPSE for pair in pairs for r in pair):
        return missing(
            "no cell collapses with either recipe: the region without collapse is the whole map",
            (COLLAPSE, INF),
            len(runs),
        )
    return start_difference(runs)


def start_difference(runs: Sequence[RunRecord]) -> Comparison:
    """The largest paired (same member seeds, data, minibatches) cell-mean difference of the collapse,
    zero-init FGSM (α = ε) minus FGSM-RS (α = 1.25ε), at least :data:`COLLAPSE`; as the control, at
    the smallest radius."""
    pairs = _start_pairs(runs)
    if not pairs:
        return missing("no cell with both zero-init FGSM and FGSM-RS (α = 1.25ε)", (COLLAPSE, INF))
    diffs = [_collapse(z) - _collapse(rs) for z, rs in pairs]
    cmp = _largest_cell(diffs, [z for z, _ in pairs], (COLLAPSE, INF), "zero-init − FGSM-RS")
    return cmp.with_accuracy(*accuracies(runs))


#: The gradient alignment must fall by at least this more than over the same checks at the smallest
#: radius (A&F report a fall from about 0.9 to below 0.3 at the collapse).
ALIGN_FALL = 0.05


def _alignment_excess(cells: Sequence[RunRecord], runs: Sequence[RunRecord]) -> Comparison:
    """Per member of ``cells``, the gradient alignment's fall from the check of its trained PGD peak to
    the end, minus the same member's fall over the same checks in the smallest-radius cell of the same
    data set and method (ordinary training's drift, paired by member seed): at least
    :data:`ALIGN_FALL` (member-mean of the largest cell). The detail counts the collapsing members
    whose alignment had already fallen by :data:`ALIGN_FALL` at the check before their test PGD
    accuracy first fell :data:`COLLAPSE` below the peak."""
    small_frac = min(float(r.config["frac"]) for r in runs)
    base = {
        (str(r.config["data"]), _method(r)): r
        for r in runs
        if float(r.config["frac"]) == small_frac
    }
    excess, used, before, n_coll = [], [], 0, 0
    for r in cells:
        ref = base.get((str(r.config["data"]), _method(r)))
        if ref is None or ref is r:
            continue
        align = np.asarray(r.arrays()["align"], dtype=float)
        align0 = np.asarray(ref.arrays()["align"], dtype=float)
        pgd = np.asarray(r.arrays()["pgd"], dtype=float)
        peak, at = _peak(r)
        cols = np.arange(at.size)
        excess.append((align[at, cols] - align[-1]) - (align0[at, cols] - align0[-1]))
        used.append(r)
        for j in np.flatnonzero(_collapse(r) >= COLLAPSE):
            n_coll += 1
            fall = np.flatnonzero((np.arange(len(pgd)) > at[j]) & (peak[j] - pgd[:, j] >= COLLAPSE))
            if fall.size:  # the end itself fell this far, so there is one
                before += int(align[at[j], j] - align[fall[0] - 1, j] >= ALIGN_FALL)
    if not used:
        return missing(
            "no cell above the smallest radius with a smallest-radius cell to pair with",
            (ALIGN_FALL, INF),
            len(runs),
        )
    cmp = _largest_cell(excess, used, (ALIGN_FALL, INF), "alignment fall beyond the small radius's")
    note = (
        f"collapsing members whose alignment had fallen >= {ALIGN_FALL} by the check before their "
        f"collapse: {before} of {n_coll}"
    )
    return replace(cmp, detail=f"{cmp.detail}; {note}")


def alignment_check(runs: Sequence[RunRecord]) -> Comparison:
    """Andriushchenko & Flammarion's diagnostic in the cells that collapse (:func:`_alignment_excess`)."""
    cells = _collapsing(runs)
    if not cells:
        return missing(
            "no cell collapses: no collapse for the alignment to follow",
            (ALIGN_FALL, INF),
            len(runs),
        )
    return _alignment_excess(cells, runs)


def alignment_control(runs: Sequence[RunRecord]) -> Comparison:
    """The alignment claim's control: the same statistic in the fast-AT cells above the smallest radius
    that became robust (a trained peak of at least :data:`PEAK_MIN` on average) and do not collapse —
    the collapse is the one condition they lack (cells that never became robust have no peak for a
    collapse to fall from)."""
    small_frac = min(float(r.config["frac"]) for r in runs)
    cells = [
        r
        for r in runs
        if _method(r) != "pgd"
        and float(r.config["frac"]) > small_frac
        and float(_peak(r)[0].mean()) >= PEAK_MIN
        and float(_collapse(r).mean()) < COLLAPSE
    ]
    if not cells:
        return missing("no cell became robust without collapsing", (ALIGN_FALL, INF), len(runs))
    return _alignment_excess(cells, runs)


def _fast_vs_pgd(norm: str) -> Claim:
    label = "ℓ∞ FGSM-RS (Wong et al.)" if norm == "linf" else "ℓ2 fast AT (Goodwin et al.)"
    return Claim(
        id=f"FAST-vs-PGD-{norm}",
        paper=PAPER,
        kind="comparison",
        statement=(
            f"{label} reaches robust accuracy within {FEW_POINTS:.0%} of 10-step PGD-AT at the training ε "
            "(subspace and sparse-coding data), at 2/11 of its gradient evaluations (the cost is "
            "reported as measured, not judged)."
        ),
        source="[paper] abstract and headline numbers",
        sim=SIM12,
        select=_condition(lambda c: c.split("-")[1:2] == [norm] and not c.endswith("clean")),
        check=fast_vs_pgd_check,
        controls=(
            Control(
                "clean training",
                "clean training in place of fast AT (cheapest of all)",
                _condition(lambda c: c.split("-")[1:2] == [norm] and not c.endswith("fast")),
            ),
        ),
        figure="fig12_fast_vs_pgd",
    )


CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="FAST-clip-share",
        paper=PAPER,
        kind="identity",
        statement="One ℓ∞ FGSM-RS step of α = aε (a ≤ 2) leaves a share a/2 of coordinates at ±ε.",
        source="[derived] PAPERS.md §3 exact statistics",
        sim=SIM11,
        select=_condition(lambda c: c.startswith("linf-a")),
        check=clip_share_check,
        controls=(
            Control(
                "no random start",
                "plain FGSM from δ = 0",
                _condition(lambda c: c == "linf-no_start"),
                accuracy="none",
                no_accuracy=NO_TRAINING,
            ),
        ),
        figure="fig11_fgsm_rs_statistics",
    ),
    Claim(
        id="FAST-l2-sphere",
        paper=PAPER,
        kind="identity",
        statement="One ℓ2 fast step of α = 1.25ε from any start in the ball lands on the sphere for d >= 100.",
        source="[derived] PAPERS.md §3 exact statistics",
        sim=SIM11,
        select=_condition(_l2_high_dim),
        check=sphere_check,
        controls=(
            Control(
                "short step",
                "α = 0.5ε",
                _condition(lambda c: c == "l2-short_step"),
                accuracy="none",
                no_accuracy=NO_TRAINING,
            ),
            Control(
                "low dimension",
                "d = 10",
                _condition(lambda c: c.startswith("l2-") and c.endswith("-d10")),
                accuracy="none",
                no_accuracy=NO_TRAINING,
            ),
        ),
        figure="fig11_fgsm_rs_statistics",
    ),
    Claim(
        id="FAST-start-laws",
        paper=PAPER,
        kind="identity",
        statement="ℓ2 start radii follow U[0, 1] (direction × uniform radius) and t^d (uniform in the ball).",
        source="[derived] PAPERS.md §3, §5",
        sim=SIM11,
        select=_condition(_l2_high_dim),
        check=start_law_check,
        controls=(
            Control(
                "radius start called uniform",
                "direction × U[0, 1] radius held against the uniform-in-ball law",
                _condition(lambda c: c == "l2-radius_as_uniform"),
                accuracy="none",
                no_accuracy=NO_TRAINING,
            ),
        ),
        figure="fig11_fgsm_rs_statistics",
    ),
    _fast_vs_pgd("linf"),
    _fast_vs_pgd("l2"),
    *(
        Claim(
            id=f"FAST-aligned-l2-{data}",
            paper=PAPER,
            kind="comparison",
            statement=(
                "Fast ℓ2 AT keeps the features of robust (PGD-trained) models: "
                + (
                    "the median share of the input gradient on the data subspace"
                    if data == "subspace"
                    else "the neurons' median purity in the dictionary basis"
                )
                + f" within ±{FEW_POINTS} of PGD-AT's."
            ),
            source="[paper] Goodwin et al. (human-aligned features); our synthetic analogue, PAPERS.md §3",
            sim=SIM12,
            select=_rows(f"{data}-l2-", "clean"),
            check=aligned_check,
            controls=(
                Control(
                    "clean training",
                    "clean training in place of fast AT",
                    _rows(f"{data}-l2-", "fast"),
                ),
            ),
            figure="fig12_fast_vs_pgd",
        )
        for data in ("subspace", "sparse")
    ),
    Claim(
        id="FAST-overfitting",
        paper=PAPER,
        kind="existence",
        statement=(
            "Fast AT overfits catastrophically somewhere on the map of published recipes (zero-init "
            "FGSM, FGSM-RS with α = 1.25ε and 2ε; minibatch SGD with the cyclic learning rate; digits, "
            "teacher labels, an injected non-robust feature, linear labels) at radii above the "
            "smallest: in some cell "
            f"the test PGD accuracy ends, on average over members, >= {COLLAPSE} below its peak "
            f"(a peak of at least {PEAK_MIN}, at a check where the net had trained: clean accuracy "
            "at least 0.1 above the more frequent class's share)."
        ),
        source="[paper] Wong et al.: catastrophic overfitting; Andriushchenko & Flammarion",
        sim=SIM13,
        select=_condition(lambda c: not c.endswith(f"-f{SMALLEST_FRAC:g}")),
        check=collapse_check,
        controls=(
            Control(
                "small radius",
                f"the same recipes at the smallest radius ({SMALLEST_FRAC:g} of the data's ℓ∞ cap)",
                _condition(lambda c: c.endswith(f"-f{SMALLEST_FRAC:g}")),
            ),
        ),
        figure="fig13_overfitting_map",
    ),
    Claim(
        id="FAST-guard",
        paper=PAPER,
        kind="comparison",
        statement=(
            "With the guard (PGD-5 on a fixed training batch at every check, every second epoch; stop "
            f"and keep the previous weights on a fall > {COLLAPSE}), in every cell that collapses "
            f"without it the final test PGD accuracy stays, on average over members, within {COLLAPSE} "
            "of the unguarded run's trained peak."
        ),
        source="[paper] Wong et al.: the early-stopping guard",
        sim=SIM13,
        select=_condition(lambda c: not c.endswith(f"-f{SMALLEST_FRAC:g}")),
        check=guarded_check,
        controls=(
            Control(
                "guard off",
                "the same collapsing cells without the guard",
                _condition(lambda c: not c.endswith(f"-f{SMALLEST_FRAC:g}")),
                check=unguarded_check,
            ),
        ),
        figure="fig13_overfitting_map",
    ),
    Claim(
        id="FAST-random-start",
        paper=PAPER,
        kind="comparison",
        statement=(
            "The authors' recipe widens the region without collapse: in some cell of the map zero-init "
            f"FGSM's (α = ε) members collapse by >= {COLLAPSE} more than FGSM-RS's (random start, "
            "α = 1.25ε) on the same member seeds, data and minibatches."
        ),
        source="[paper] Wong et al.: FGSM with a random start",
        sim=SIM13,
        select=_condition(
            lambda c: not c.endswith(f"-f{SMALLEST_FRAC:g}") and ("-fgsm-" in c or "-rs1.25-" in c)
        ),
        check=start_check,
        controls=(
            Control(
                "small radius",
                "the same pairs at the smallest radius, where neither recipe collapses",
                _condition(
                    lambda c: (
                        c.endswith(f"-f{SMALLEST_FRAC:g}") and ("-fgsm-" in c or "-rs1.25-" in c)
                    )
                ),
                check=start_difference,
            ),
        ),
        figure="fig13_overfitting_map",
    ),
    Claim(
        id="FAST-alignment",
        paper="Andriushchenko & Flammarion 2020",
        kind="comparison",
        statement=(
            "Where fast AT collapses, the gradient alignment (cosine of the input gradients at x and "
            f"at a random point of the ε-ball) falls from the trained PGD peak to the end by >= "
            f"{ALIGN_FALL} more than the same member's alignment over the same checks at the smallest "
            "radius."
        ),
        source="[paper] Andriushchenko & Flammarion: gradient alignment and catastrophic overfitting",
        sim=SIM13,
        select=_condition(lambda c: "-pgd-" not in c),
        check=alignment_check,
        controls=(
            Control(
                "no collapse",
                "the fast-AT cells above the smallest radius that became robust and do not collapse",
                _condition(lambda c: "-pgd-" not in c),
                check=alignment_control,
            ),
        ),
        figure="fig13_overfitting_map",
    ),
)
