"""Claims of fast adversarial training — Wong, Rice & Kolter 2020 (ℓ∞); Goodwin, Brown & Helus 2020 (ℓ2).

shared/PAPERS.md §3. The one-step statistics are exact laws (:mod:`theory.fast_at`) checked on the
perturbations :class:`sims.methods.FastAT` trains on (simulation 11); the robustness-at-a-fraction-of-
the-cost claim compares trained models (simulation 12).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

from paper_checks.claims import Claim, Comparison, Control
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
#: KS p-value below which a start-radius law is rejected.
KS_MIN_P = 0.01
#: "Within a few points": fast AT's robust accuracy may trail PGD-AT's by at most this.
FEW_POINTS = 0.05
#: "A fraction of the cost": at most this share of PGD-AT's gradient evaluations.
COST_SHARE = 0.2


def _l2_high_dim(condition: str) -> bool:
    """Simulation 11's ℓ2 rows at d = 100 and d = 1000."""
    return condition.startswith("l2-") and condition.endswith(("-d100", "-d1000"))


def _condition(pred: Callable[[str], bool]) -> Callable[[RunRecord], bool]:
    return lambda r: pred(str(r.config.get("condition", "")))


def _rows(prefix: str, exclude_suffix: str) -> Callable[[RunRecord], bool]:
    """Runs whose condition starts with ``prefix`` and does not end with ``exclude_suffix``."""
    return _condition(lambda c: c.startswith(prefix) and not c.endswith(exclude_suffix))


def clip_share_check(runs: Sequence[RunRecord]) -> Comparison:
    """Largest ``|share at ±ε − a/2|`` over runs and members (:func:`theory.fast_at.fgsm_rs_clip_share`)."""
    worst, detail = 0.0, []
    for r in runs:
        a = float(r.config["a"])
        share = r.arrays()["clip_share"]
        pred = th.fgsm_rs_clip_share(a)
        worst = max(worst, float(np.abs(share - pred).max()))
        detail.append(f"a={a:g}: {share.mean():.4f} vs {pred:.4f}")
    ok = worst <= SHARE_TOL
    return Comparison(
        "holds" if ok else "fails",
        worst,
        0.0,
        f"|share − a/2| <= {SHARE_TOL}",
        "; ".join(detail),
        len(runs),
    )


def sphere_check(runs: Sequence[RunRecord]) -> Comparison:
    """Smallest share of ℓ2 fast steps (``α = aε``) that end on the sphere: at least :data:`SPHERE_MIN`."""
    worst, detail = 1.0, []
    for r in runs:
        on = float(r.arrays()["on_sphere"].min())
        worst = min(worst, on)
        bound = th.l2_fast_on_sphere_bound(float(r.config["a"]), int(r.config["d"]))
        detail.append(f"{r.config['condition']}: {on:.4f} (derived ≥ {1 - bound:.4g})")
    ok = worst >= SPHERE_MIN
    return Comparison(
        "holds" if ok else "fails", worst, 1.0, f">= {SPHERE_MIN}", "; ".join(detail), len(runs)
    )


def start_law_check(runs: Sequence[RunRecord]) -> Comparison:
    """Smallest KS p-value of the recorded start radii against the law the run names
    (:func:`theory.fast_at.start_radius_cdf`), per member."""
    worst, detail = 1.0, []
    for r in runs:
        law, d = str(r.config["law"]), int(r.config["d"])

        def cdf(t: np.ndarray, law: str = law, d: int = d) -> np.ndarray:
            return th.start_radius_cdf(law, t, d)

        for radii in r.arrays()["start_radius"]:
            worst = min(worst, float(stats.kstest(radii, cdf).pvalue))
        detail.append(f"{r.config['condition']} vs '{law}' law")
    ok = worst >= KS_MIN_P
    return Comparison(
        "holds" if ok else "fails", worst, None, f"KS p >= {KS_MIN_P}", "; ".join(detail), len(runs)
    )


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
            msg = f"{data}: needs one PGD-AT run and one other"
            return Comparison("inconclusive", None, None, "", msg, len(runs))
        out.append((data, rs["pgd"], rs[cand[0]]))
    return out


def fast_vs_pgd_check(runs: Sequence[RunRecord]) -> Comparison:
    """Per data set: the non-PGD model's robust accuracy at the training ε is at most
    :data:`FEW_POINTS` below PGD-AT's, at most :data:`COST_SHARE` of its gradient evaluations."""
    pairs = _pgd_pairs(runs)
    if isinstance(pairs, Comparison):
        return pairs
    worst_gap, worst_cost, detail = -np.inf, 0.0, []
    for data, p, c in pairs:
        rob_p, rob_c = (
            float(p.arrays()["robust"][:, 1].mean()),
            float(c.arrays()["robust"][:, 1].mean()),
        )
        cost = float(c.metrics["grad_evals"]) / float(p.metrics["grad_evals"])
        worst_gap, worst_cost = max(worst_gap, rob_p - rob_c), max(worst_cost, cost)
        detail.append(
            f"{data}: {c.config['method']} {rob_c:.3f} vs PGD-AT {rob_p:.3f} at {cost:.2f}× the gradient evaluations "
            f"({c.metrics['seconds']:.1f} s vs {p.metrics['seconds']:.1f} s)"
        )
    ok = worst_gap <= FEW_POINTS and worst_cost <= COST_SHARE
    return Comparison(
        "holds" if ok else "fails",
        float(worst_gap),
        0.0,
        f"PGD-AT − candidate <= {FEW_POINTS} and cost <= {COST_SHARE}× (cost {worst_cost:.2f}×)",
        "; ".join(detail),
        len(runs),
    )


def aligned_check(runs: Sequence[RunRecord]) -> Comparison:
    """Per data set, the candidate's feature measure (median on-subspace gradient share, or median
    neuron purity) within :data:`FEW_POINTS` of PGD-AT's."""
    pairs = _pgd_pairs(runs)
    if isinstance(pairs, Comparison):
        return pairs
    worst, detail = 0.0, []
    for data, p, c in pairs:
        key = "grad_on_share" if data == "subspace" else "purity"
        vp, vc = float(np.median(p.arrays()[key])), float(np.median(c.arrays()[key]))
        worst = max(worst, abs(vp - vc))
        detail.append(f"{data} {key}: {c.config['method']} {vc:.3f} vs PGD-AT {vp:.3f}")
    ok = worst <= FEW_POINTS
    return Comparison(
        "holds" if ok else "fails",
        worst,
        0.0,
        f"|candidate − PGD-AT| <= {FEW_POINTS}",
        "; ".join(detail),
        len(runs),
    )


def collapse_check(runs: Sequence[RunRecord]) -> Comparison:
    """Largest fall of the training batch's PGD robust accuracy below its running peak, over runs and
    members: at least :data:`COLLAPSE` means catastrophic overfitting happened somewhere."""
    worst, where = 0.0, ""
    for r in runs:
        acc = r.arrays()["guard_acc"]
        fall = float((np.maximum.accumulate(acc, axis=0) - acc).max())
        if fall >= worst:
            worst, where = fall, str(r.config["condition"])
    ok = worst >= COLLAPSE
    return Comparison(
        "holds" if ok else "fails",
        worst,
        COLLAPSE,
        f"largest fall below the peak >= {COLLAPSE}",
        f"largest in {where}",
        len(runs),
    )


def guarded_check(runs: Sequence[RunRecord]) -> Comparison:
    """Largest fall of the kept weights' robust accuracy below its peak (the guard restores weights
    when a check falls more than :data:`COLLAPSE`): below :data:`COLLAPSE` everywhere."""
    worst = 0.0
    fired = 0
    for r in runs:
        a = r.arrays()
        acc = a["guard_acc"]
        worst = max(worst, float((acc.max(axis=0) - acc[-1]).max()))
        fired += int((a["guard_step"] >= 0).sum())
    ok = worst < COLLAPSE
    return Comparison(
        "holds" if ok else "fails",
        worst,
        0.0,
        f"final robust accuracy within {COLLAPSE} of its peak",
        f"the guard fired for {fired} members",
        len(runs),
    )


def _fast_vs_pgd(norm: str) -> Claim:
    label = "ℓ∞ FGSM-RS (Wong et al.)" if norm == "linf" else "ℓ2 fast AT (Goodwin et al.)"
    return Claim(
        id=f"FAST-vs-PGD-{norm}",
        paper=PAPER,
        statement=(
            f"{label} reaches robust accuracy within {FEW_POINTS:.0%} of 10-step PGD-AT at the training ε, "
            f"at <= {COST_SHARE:.0%} of its gradient evaluations (subspace and sparse-coding data)."
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
            ),
        ),
        figure="fig11_fgsm_rs_statistics",
    ),
    Claim(
        id="FAST-l2-sphere",
        paper=PAPER,
        statement="One ℓ2 fast step of α = 1.25ε from any start in the ball lands on the sphere for d >= 100.",
        source="[derived] PAPERS.md §3 exact statistics",
        sim=SIM11,
        select=_condition(_l2_high_dim),
        check=sphere_check,
        controls=(
            Control("short step", "α = 0.5ε", _condition(lambda c: c == "l2-short_step")),
            Control(
                "low dimension",
                "d = 10",
                _condition(lambda c: c.startswith("l2-") and c.endswith("-d10")),
            ),
        ),
        figure="fig11_fgsm_rs_statistics",
    ),
    Claim(
        id="FAST-start-laws",
        paper=PAPER,
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
            statement=(
                "Fast ℓ2 AT keeps the features of robust (PGD-trained) models: "
                + (
                    "the input gradient's share on the data subspace"
                    if data == "subspace"
                    else "the neurons' purity in the dictionary basis"
                )
                + " within 0.05 of PGD-AT's."
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
        statement=(
            "Without the guard, fast AT with a large step (α >= 2ε) or without a random start overfits "
            "catastrophically: PGD robust accuracy on the training batch falls >= 0.2 below its peak."
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
        statement=(
            "With the guard (PGD on a fixed batch every 10 steps; stop and restore on a fall > 0.2), no "
            "run ends more than 0.2 below its peak robust accuracy."
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
