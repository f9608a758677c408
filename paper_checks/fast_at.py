"""Claims of fast adversarial training — Wong, Rice & Kolter 2020 (ℓ∞); Goodwin, Brown & Helus 2020 (ℓ2).

shared/PAPERS.md §3. Three kinds of claim:

* *identities* — the exact statistics of one fast step (:mod:`theory.fast_at`), checked on the
  perturbations :class:`sims.methods.FastAT` trains on (simulation 11): a worst case over runs and
  members against the derived value, no interval;
* *comparisons* — fast AT against 10-step PGD-AT on the same member seeds, data and test points
  (simulation 12): the paired per-seed difference of robust accuracy, and of the feature measures, with
  the 95% interval of :mod:`paper_checks.stats`; and the guard against no guard (simulation 13);
* *existence* — catastrophic overfitting somewhere on the (α/ε, ε) map (simulation 13).

The cost of fast AT (two gradient evaluations per step against PGD-10's eleven: 2/11 by construction)
cannot fail, so it is reported as a measured fact — gradient evaluations and the training wall-time ratio
from the records — in each comparison's ``detail``, not judged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
from sims.records import RunRecord
from theory import fast_at as th

__all__ = ["CLAIMS"]

PAPER = "Wong, Rice & Kolter 2020; Goodwin, Brown & Helus 2020"
SIM11 = "11_fgsm_rs_statistics"
SIM12 = "12_fast_vs_pgd"
SIM13 = "13_overfitting_map"
#: A fall of the guard batch's PGD robust accuracy this far below its peak is a collapse (the
#: authors' guard threshold).
COLLAPSE = 0.2

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
def fall_below_peak(acc: np.ndarray) -> np.ndarray:
    """Per member, the largest fall of the guard's robust accuracy below its running peak
    (``acc``: ``(checks, M)``)."""
    return np.asarray((np.maximum.accumulate(acc, axis=0) - acc).max(axis=0))


def end_below_peak(acc: np.ndarray) -> np.ndarray:
    """Per member, how far the last check (the kept weights) ends below the peak."""
    return np.asarray(acc.max(axis=0) - acc[-1])


def _largest_cell(
    runs: Sequence[RunRecord],
    per_member: Callable[[np.ndarray], np.ndarray],
    band: tuple[float, float],
) -> Comparison:
    """The largest member-mean of ``per_member(guard_acc)`` over the cells (runs) of simulation 13.

    Every cell seeds member ``i`` alike on the same data, so the cells are resampled together by
    member (:func:`paper_checks.stats.bootstrap`, no points), and the statistic — the maximum over cells
    of the mean over members — is recomputed on each resample: its interval carries the selection of
    the largest cell."""
    vals = [per_member(np.asarray(r.arrays()["guard_acc"], dtype=float)) for r in runs]
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
    over = sum(int((v >= COLLAPSE).sum()) for v in vals)
    fired = sum(int((np.asarray(r.arrays()["guard_step"]) >= 0).sum()) for r in runs)
    detail = (
        f"largest in {runs[top].config['condition']} ({means[top]:.3f}); members at >= {COLLAPSE}: "
        f"{over} of {sum(v.size for v in vals)} in {len(runs)} cells; the guard fired for {fired}"
    )
    cmp = judge(iv, band, detail=detail, n_runs=len(runs))
    return cmp.with_accuracy(*accuracies(runs))


def collapse_check(runs: Sequence[RunRecord]) -> Comparison:
    """Catastrophic overfitting somewhere in the region: the largest cell's mean fall of the training
    batch's PGD robust accuracy below its running peak at least :data:`COLLAPSE`."""
    return _largest_cell(runs, fall_below_peak, (COLLAPSE, INF))


def guarded_check(runs: Sequence[RunRecord]) -> Comparison:
    """With the guard (it restores the weights when a check falls more than :data:`COLLAPSE`), the
    largest cell's mean gap between the peak and the final (kept) robust accuracy below
    :data:`COLLAPSE`."""
    return _largest_cell(runs, end_below_peak, (-INF, COLLAPSE))


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
            "Without the guard, fast AT with a large step (α >= 2ε) or without a random start overfits "
            "catastrophically somewhere on the (α/ε, ε) map: in some cell the training batch's PGD "
            f"robust accuracy falls, on average over members, >= {COLLAPSE} below its running peak."
        ),
        source="[paper] Wong et al.: catastrophic overfitting",
        sim=SIM13,
        select=_condition(lambda c: c.startswith("noguard-") and ("fgsm" in c or "-a2" in c)),
        check=collapse_check,
        controls=(
            Control(
                "small step with random start",
                "α <= 1.25ε from U[−ε, ε], where the authors saw no collapse",
                _condition(
                    lambda c: c.startswith("noguard-rs-a1-") or c.startswith("noguard-rs-a1.25-")
                ),
            ),
        ),
        figure="fig13_overfitting_map",
    ),
    Claim(
        id="FAST-guard",
        paper=PAPER,
        kind="comparison",
        statement=(
            "With the guard (PGD on a fixed batch every 10 steps; stop and restore on a fall > 0.2), no "
            f"cell ends, on average over members, more than {COLLAPSE} below its peak robust accuracy — "
            "where the same cells without the guard do."
        ),
        source="[paper] Wong et al.: the early-stopping guard",
        sim=SIM13,
        select=_condition(lambda c: c.startswith("guard-")),
        check=guarded_check,
        controls=(
            Control(
                "guard off",
                "the same cells without the guard",
                _condition(lambda c: c.startswith("noguard-")),
            ),
        ),
        figure="fig13_overfitting_map",
    ),
)
