"""Claims of bridged adversarial training — Kim, Lee, Lee & Lee 2021 (shared/PAPERS.md §4).

Margins (ℓ2 minimum-norm attack), smoothness (KL between the outputs at ``x`` and at its PGD point) and
robust accuracies are read from the records of simulation 14. The negative controls put, in BAT's
place, BAT with β = 0 (clean training on the clean loss — the identity itself is a conformance test,
``tests/test_methods.py``) and TRADES with another seed (the noise floor); differences must clear a
bootstrap or binomial noise floor, so an identical model cannot pass by a rounding error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from paper_checks.claims import Claim, Comparison, Control
from sims.records import RunRecord

__all__ = ["CLAIMS"]

PAPER = "Kim, Lee, Lee & Lee 2021"
SIM14 = "14_margin_smoothness"


def _conds(*names: str) -> Callable[[RunRecord], bool]:
    return lambda r: r.config.get("condition") in names


#: Bootstrap resamples of the paired median-margin differences, and the one-sided level.
BOOTSTRAP = 400
LEVEL = 0.05


def _split(
    runs: Sequence[RunRecord],
) -> tuple[RunRecord | None, RunRecord | None, RunRecord | None]:
    """``(PGD-AT, TRADES β = 6 seed 0, the candidate)`` among the selected runs."""
    pgd = next((r for r in runs if r.config["condition"] == "pgd_at"), None)
    trades = next((r for r in runs if r.config["condition"] == "trades-beta6"), None)
    rest = [r for r in runs if r is not pgd and r is not trades]
    return pgd, trades, (rest[0] if len(rest) == 1 else None)


def _lower_median_gain(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Median of ``a`` minus median of ``b`` (per-point margins of two models on the same test points,
    pooled over members, pairs with a NaN dropped) and its one-sided lower bootstrap bound."""
    a, b = a.ravel(), b.ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(a), size=(BOOTSTRAP, len(a)))
    boot = np.median(a[idx], axis=1) - np.median(b[idx], axis=1)
    return float(np.median(a) - np.median(b)), float(np.quantile(boot, LEVEL))


def margin_check(runs: Sequence[RunRecord]) -> Comparison:
    """Median margins: TRADES below PGD-AT (the smoothness regulariser hurts the margin) and the
    candidate (BAT) above TRADES (bridging restores it), each beyond the noise: the lower 5% bootstrap
    bound of the paired median difference above 0. The measured value is the candidate's gain."""
    pgd, trades, cand = _split(runs)
    if pgd is None or trades is None or cand is None:
        return Comparison(
            "inconclusive", None, None, "", "needs PGD-AT, TRADES and one candidate", len(runs)
        )
    m = {k: r.arrays()["margin"] for k, r in (("pgd", pgd), ("trades", trades), ("cand", cand))}
    hurt, hurt_lo = _lower_median_gain(m["pgd"], m["trades"])
    gain, gain_lo = _lower_median_gain(m["cand"], m["trades"])
    ok = hurt_lo > 0 and gain_lo > 0
    smooth = {
        k: float(r.arrays()["smoothness"].mean())
        for k, r in (("pgd", pgd), ("trades", trades), ("cand", cand))
    }
    return Comparison(
        "holds" if ok else "fails",
        gain,
        None,
        "PGD-AT − TRADES > 0 and candidate − TRADES > 0 (median margins, 5% bootstrap lower bounds)",
        f"PGD-AT − TRADES {hurt:+.4f} (lower {hurt_lo:+.4f}); {cand.config['condition']} − TRADES "
        f"{gain:+.4f} (lower {gain_lo:+.4f}); mean KL: PGD-AT {smooth['pgd']:.3f}, TRADES "
        f"{smooth['trades']:.3f}, candidate {smooth['cand']:.3f}",
        len(runs),
    )


def large_eps_check(runs: Sequence[RunRecord]) -> Comparison:
    """The candidate's robust-accuracy gain over TRADES at the largest evaluated ε exceeds two binomial
    standard errors and is at least its gain at the training ε (the paper: BAT wins most at large ε)."""
    _, trades, cand = _split(runs)
    if trades is None or cand is None:
        return Comparison(
            "inconclusive", None, None, "", "needs TRADES and one candidate", len(runs)
        )
    a_b, a_t = cand.arrays(), trades.arrays()
    pb, pt = a_b["robust"].mean(0), a_t["robust"].mean(0)
    gain = pb - pt
    n = a_b["margin"].size  # points × members
    se = float(np.sqrt((pb[-1] * (1 - pb[-1]) + pt[-1] * (1 - pt[-1])) / n))
    j = 1  # the training ε is the grid's second radius (simulation 14)
    ok = gain[-1] > 2 * se and gain[-1] >= gain[j]
    grid = a_b["eps_grid"]
    return Comparison(
        "holds" if ok else "fails",
        float(gain[-1]),
        None,
        f"gain at the largest ε > 2 SE ({2 * se:.4f}) and >= gain at the training ε",
        f"{cand.config['condition']} − TRADES per ε "
        f"{dict(zip(np.round(grid, 3).tolist(), np.round(gain, 4).tolist(), strict=True))}",
        len(runs),
    )


CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="BAT-margin",
        paper=PAPER,
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
            ),
            Control(
                "β = 0",
                "BAT without its regulariser (clean training)",
                _conds("pgd_at", "trades-beta6", "bat-m4-beta0"),
            ),
        ),
        figure="fig14_margin_smoothness",
    ),
    Claim(
        id="BAT-large-eps",
        paper=PAPER,
        statement="BAT's robust-accuracy advantage over TRADES is largest at large ε.",
        source="[paper] abstract: especially for large perturbations",
        sim=SIM14,
        select=_conds("trades-beta6", "bat-m4-beta24"),
        check=large_eps_check,
        controls=(
            Control(
                "another TRADES seed",
                "TRADES with another inner-attack seed in place of BAT (the noise floor)",
                _conds("trades-beta6", "trades-beta6-seed1"),
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
