"""Claims of bridged adversarial training — Kim, Lee, Lee & Lee 2021 (shared/PAPERS.md §4).

Margins (ℓ2 minimum-norm attack), smoothness (KL between the outputs at ``x`` and at its PGD point) and
robust accuracies are read from the records of simulation 14. Every method there continues member ``i``
from the same clean-trained weights and is measured on the same test points, so every difference is a
*paired* one (:func:`paper_checks.stats.paired_difference`, or :func:`paper_checks.stats.bootstrap` for a
difference of differences): members and points are resampled together and the member effect cancels.

The negative controls put, in BAT's place, TRADES with another seed of its inner attack (the noise
floor: a difference that is not there) and BAT with β = 0 (clean training on the clean loss — the
identity itself is a conformance test, ``tests/test_methods.py``). Both are comparisons (kind
``comparison``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from paper_checks import stats
from paper_checks.claims import (
    INF,
    Claim,
    Comparison,
    Control,
    accuracies,
    all_of,
    judge,
    missing,
)
from sims.records import RunRecord

__all__ = ["CLAIMS"]

PAPER = "Kim, Lee, Lee & Lee 2021"
SIM14 = "14_margin_smoothness"
#: The training radius of simulation 14 (ℓ2): "large ε" is the largest radius of its grid above it.
TRAIN_EPS = 0.25


def _conds(*names: str) -> Callable[[RunRecord], bool]:
    return lambda r: r.config.get("condition") in names


def _split(
    runs: Sequence[RunRecord],
) -> tuple[RunRecord | None, RunRecord | None, RunRecord | None]:
    """``(PGD-AT, TRADES β = 6 seed 0, the candidate)`` among the selected runs."""
    pgd = next((r for r in runs if r.config["condition"] == "pgd_at"), None)
    trades = next((r for r in runs if r.config["condition"] == "trades-beta6"), None)
    rest = [r for r in runs if r is not pgd and r is not trades]
    return pgd, trades, (rest[0] if len(rest) == 1 else None)


def _margin_parts(runs: Sequence[RunRecord]) -> tuple[Comparison, Comparison] | Comparison:
    """``(hurt, restore)`` of :func:`margin_check`, or an inconclusive comparison without the runs."""
    pgd, trades, cand = _split(runs)
    if pgd is None or trades is None or cand is None:
        return missing("needs PGD-AT, TRADES and one candidate", (0.0, INF), len(runs))
    m = {k: r.arrays()["margin"] for k, r in (("pgd", pgd), ("trades", trades), ("cand", cand))}
    smooth = {
        k: float(r.arrays()["smoothness"].mean())
        for k, r in (("pgd", pgd), ("trades", trades), ("cand", cand))
    }
    name = str(cand.config["condition"])
    hurt = judge(
        stats.paired_difference(m["pgd"], m["trades"], reduce="median"),
        (0.0, INF),
        detail=(
            f"median margin: {name} {np.nanmedian(m['cand']):.4f}, TRADES {np.nanmedian(m['trades']):.4f}, "
            f"PGD-AT {np.nanmedian(m['pgd']):.4f}; mean KL: PGD-AT {smooth['pgd']:.3f}, TRADES "
            f"{smooth['trades']:.3f}, {name} {smooth['cand']:.3f}"
        ),
        n_runs=2,
        label="PGD-AT − TRADES (the regulariser hurts the margin)",
    )
    restore = judge(
        stats.paired_difference(m["cand"], m["trades"], reduce="median"),
        (0.0, INF),
        n_runs=2,
        label=f"{name} − TRADES (bridging restores the margin)",
    )
    return hurt, restore


def margin_check(runs: Sequence[RunRecord]) -> Comparison:
    """Two paired differences of pooled median margins (per member and test point; NaN where a member
    misclassifies the point), in the statement's order: PGD-AT minus TRADES above 0 — the smoothness
    regulariser hurts the margin (the headline) — and the candidate (BAT) minus TRADES above 0 —
    bridging restores it."""
    parts = _margin_parts(runs)
    if isinstance(parts, Comparison):
        return parts
    return all_of(parts).with_accuracy(*accuracies(runs))


def restore_check(runs: Sequence[RunRecord]) -> Comparison:
    """The candidate's part of :func:`margin_check` alone (candidate minus TRADES median margin above
    0): what a control in BAT's place must fail; the PGD-AT part does not involve the candidate."""
    parts = _margin_parts(runs)
    if isinstance(parts, Comparison):
        return parts
    return parts[1].with_accuracy(*accuracies(runs))


def large_eps_check(runs: Sequence[RunRecord]) -> Comparison:
    """The candidate's robust-accuracy gain over TRADES (paired, per member and attacked point) at the
    largest evaluated ε is above 0, and exceeds its gain at the training ε (a paired difference of
    differences): the advantage is largest at large ε."""
    _, trades, cand = _split(runs)
    if trades is None or cand is None:
        return missing("needs TRADES and one candidate", (0.0, INF), len(runs))
    a_c, a_t = cand.arrays(), trades.arrays()
    if "robust_points" not in a_c or "robust_points" not in a_t:
        return missing("records lack robust_points: rerun simulation 14", (0.0, INF), len(runs))
    grid = np.asarray(a_c["eps_grid"])
    j = int(np.argmin(np.abs(grid - TRAIN_EPS)))
    pc, pt = (np.asarray(a["robust_points"], dtype=float) for a in (a_c, a_t))
    name = str(cand.config["condition"])
    gains = pc.mean(axis=(0, 2)) - pt.mean(axis=(0, 2))
    at_large = judge(
        stats.paired_difference(pc[:, -1], pt[:, -1]),
        (0.0, INF),
        detail=(
            f"{name} − TRADES robust accuracy per ε "
            f"{dict(zip(np.round(grid, 3).tolist(), np.round(gains, 4).tolist(), strict=True))}"
        ),
        n_runs=2,
        label=f"{name} − TRADES at ε = {grid[-1]:g}",
    )

    def growth(c_l: np.ndarray, t_l: np.ndarray, c_j: np.ndarray, t_j: np.ndarray) -> np.ndarray:
        def mean(a: np.ndarray) -> np.ndarray:  # (B, S, n) -> (B,)
            return np.asarray(a.mean(axis=(1, 2)))

        return np.asarray((mean(c_l) - mean(t_l)) - (mean(c_j) - mean(t_j)))

    larger = judge(
        stats.bootstrap(
            (pc[:, -1], pt[:, -1], pc[:, j], pt[:, j]),
            growth,
            method="paired difference of paired differences",
        ),
        (0.0, INF),
        n_runs=2,
        label=f"gain at ε = {grid[-1]:g} − gain at the training ε = {grid[j]:g}",
    )
    return all_of([at_large, larger]).with_accuracy(*accuracies(runs))


CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="BAT-margin",
        paper=PAPER,
        kind="comparison",
        statement=(
            "The smoothness regulariser hurts the margin (TRADES' median margin < PGD-AT's) and bridging "
            "restores it (BAT, m = 4, β = 24, above TRADES)."
        ),
        source="[paper] abstract",
        sim=SIM14,
        select=_conds("pgd_at", "trades-beta6", "bat-m4-beta24"),
        check=margin_check,
        controls=(
            Control(
                "another TRADES seed",
                "TRADES with another inner-attack seed in place of BAT (the noise floor)",
                _conds("pgd_at", "trades-beta6", "trades-beta6-seed1"),
                check=restore_check,
                expect="not_holds",
            ),
            Control(
                "β = 0",
                "BAT without its regulariser (clean training)",
                _conds("pgd_at", "trades-beta6", "bat-m4-beta0"),
                check=restore_check,
            ),
        ),
        figure="fig14_margin_smoothness",
    ),
    Claim(
        id="BAT-large-eps",
        paper=PAPER,
        kind="comparison",
        statement=(
            "BAT's robust-accuracy advantage over TRADES is positive at the largest ε and larger there "
            "than at the training ε."
        ),
        source="[paper] abstract: especially for large perturbations",
        sim=SIM14,
        select=_conds("trades-beta6", "bat-m4-beta24"),
        check=large_eps_check,
        controls=(
            Control(
                "another TRADES seed",
                "TRADES with another inner-attack seed in place of BAT (the noise floor)",
                _conds("trades-beta6", "trades-beta6-seed1"),
                expect="not_holds",
            ),
            Control(
                "β = 0",
                "BAT without its regulariser (clean training)",
                _conds("trades-beta6", "bat-m4-beta0"),
            ),
        ),
        figure="fig14_margin_smoothness",
    ),
)
