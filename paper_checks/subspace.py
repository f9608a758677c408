"""Claims of Melamed, Yehudai & Vardi (NeurIPS 2023) — off-subspace weights and gradients.

Every measured number is recomputed here from the arrays of the records with numpy alone (the
weights ``W0``, ``W`` and the generator's ``basis``), and every prediction comes from
:mod:`theory.subspace`; see shared/PAPERS.md §1 for which statements are the paper's and which derived.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from paper_checks.claims import Claim, Comparison, Control
from sims.records import RunRecord
from theory import subspace as th

__all__ = ["CLAIMS"]

PAPER = "Melamed, Yehudai & Vardi 2023"
SIM01 = "01_frozen_weights"

#: Float64 rounding over a few thousand updates stays far below this; any real drift is far above.
DRIFT_TOL = 1e-10
#: Relative tolerance of the exact weight-decay laws in float64.
DECAY_RTOL = 1e-9


def _perp(V: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``P⊥ v = v − U Uᵀ v`` on the last axis."""
    return np.asarray(V - (V @ U) @ U.T)


def _condition(*names: str) -> Callable[[RunRecord], bool]:
    return lambda r: r.config.get("condition") in names


def _role(role: str) -> Callable[[RunRecord], bool]:
    return lambda r: r.config.get("role") == role


def frozen_weights_check(runs: Sequence[RunRecord]) -> Comparison:
    """Invariant 1: ``max ‖P⊥(W_t − W_0)‖_F/‖P⊥W_0‖_F`` over runs, members and measured steps is 0.

    The final drift is recomputed from ``W``, ``W0`` and ``basis``; the recorded history ``drift`` covers
    the intermediate steps. Runs not in float64 make the comparison inconclusive (the tolerance is
    float64 rounding).
    """
    if any(r.config.get("dtype") != "float64" for r in runs):
        return Comparison(
            "inconclusive",
            None,
            0.0,
            f"<= {DRIFT_TOL:g}",
            "the exact check needs float64 runs",
            len(runs),
        )
    worst, where = 0.0, ""
    for r in runs:
        a = r.arrays()
        p0 = _perp(a["W0"], a["basis"])
        final = np.linalg.norm(_perp(a["W"] - a["W0"], a["basis"]).reshape(len(p0), -1), axis=1)
        final = final / np.linalg.norm(p0.reshape(len(p0), -1), axis=1)
        run_worst = max(float(final.max()), float(a["drift"].max()))
        if run_worst >= worst:
            worst, where = run_worst, r.key
    predicted = th.predicted_offsubspace_drift()
    ok = abs(worst - predicted) <= DRIFT_TOL
    return Comparison(
        "holds" if ok else "fails",
        worst,
        predicted,
        f"<= {DRIFT_TOL:g} (float64)",
        f"worst run {where}",
        len(runs),
    )


def decay_law_check(
    predict: Callable[[dict[str, Any], np.ndarray], np.ndarray | None], law: str
) -> Callable[[Sequence[RunRecord]], Comparison]:
    """A check that ``P⊥W_t = c_t P⊥W_0`` with ``c_t = predict(config, steps_taken)``, per member.

    Measured: the worst relative error ``‖P⊥W_t − c_t P⊥W_0‖_F / (c_t ‖P⊥W_0‖_F)`` over runs and members.
    """

    def check(runs: Sequence[RunRecord]) -> Comparison:
        worst, where, factors = 0.0, "", []
        for r in runs:
            a = r.arrays()
            c = predict(r.config, a["steps_taken"])
            if c is None:
                return Comparison(
                    "inconclusive",
                    None,
                    None,
                    f"rel <= {DECAY_RTOL:g}",
                    f"no {law} prediction for optimizer {r.config['optimizer']}",
                    len(runs),
                )
            c = np.asarray(c, dtype=float).reshape(-1)
            p0 = _perp(a["W0"], a["basis"]).reshape(len(c), -1)
            p = _perp(a["W"], a["basis"]).reshape(len(c), -1)
            err = np.linalg.norm(p - c[:, None] * p0, axis=1) / (
                np.abs(c) * np.linalg.norm(p0, axis=1)
            )
            measured_c = np.sum(p * p0, axis=1) / np.sum(p0 * p0, axis=1)
            factors.append((float(measured_c.mean()), float(c.mean())))
            if float(err.max()) >= worst:
                worst, where = float(err.max()), r.key
        ok = worst <= DECAY_RTOL
        pairs = "; ".join(f"{m:.6g} vs {p:.6g}" for m, p in factors[:4])
        return Comparison(
            "holds" if ok else "fails",
            worst,
            0.0,
            f"rel <= {DECAY_RTOL:g}",
            f"{law}; measured vs predicted factor: {pairs}; worst run {where}",
            len(runs),
        )

    return check


def _plain_sgd_factor(cfg: dict[str, Any], t: np.ndarray) -> np.ndarray:
    return th.weight_decay_factor(cfg["lr"], cfg["weight_decay"], t)


def _momentum_factor(cfg: dict[str, Any], t: np.ndarray) -> np.ndarray | None:
    return th.decay_factor(
        cfg["optimizer"], eta=cfg["lr"], lam=cfg["weight_decay"], t=t, mu=cfg["momentum"]
    )


CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="MYV-frozen",
        paper=PAPER,
        statement=(
            "Gradient training (GD, SGD, heavy ball, Nesterov; any loss; trained or fixed biases "
            "and second layer) never moves the first-layer weights off the data subspace: "
            "P⊥W_t = P⊥W_0 exactly."
        ),
        source="[derived, exact] PAPERS.md §1 invariant 1 (the mechanism behind the paper's result)",
        sim=SIM01,
        select=_role("invariant"),
        check=frozen_weights_check,
        controls=(
            Control(
                "weight decay", "coupled L2 decay λ > 0 shrinks P⊥W", _condition("weight_decay")
            ),
            Control(
                "Adam, rotated basis",
                "coordinate-wise rescaling leaves span{x_i}",
                _condition("adam_rotated"),
            ),
            Control(
                "affine data",
                "points on an affine subspace: the offset enters span{x_i}",
                _condition("affine"),
            ),
        ),
        figure="fig01_frozen_weights",
    ),
    Claim(
        id="MYV-decay-sgd",
        paper=PAPER,
        statement=(
            "With coupled weight decay λ, plain (S)GD shrinks the off-subspace weights by "
            "exactly (1 − ηλ)^t: P⊥W_t = (1 − ηλ)^t P⊥W_0."
        ),
        source="[derived, exact] PAPERS.md §1 invariant 2; the paper states L2 regularisation helps",
        sim=SIM01,
        select=_condition("weight_decay"),
        check=decay_law_check(_plain_sgd_factor, "(1 − ηλ)^t"),
        controls=(
            Control(
                "momentum",
                "heavy ball with the same decay follows another law",
                _condition("heavy_ball_weight_decay"),
            ),
            Control(
                "affine data", "weight decay on affine data", _condition("weight_decay_affine")
            ),
        ),
        figure="fig01_frozen_weights",
    ),
    Claim(
        id="MYV-decay-momentum",
        paper=PAPER,
        statement=(
            "With momentum and coupled weight decay, P⊥W follows the scalar linear recurrence "
            "v_t = μv_{t−1} + λp_{t−1}, p_t = p_{t−1} − η v_t (Nesterov: − η(λp_{t−1} + μv_t))."
        ),
        source="[derived, exact] PAPERS.md §1 invariant 2",
        sim=SIM01,
        select=_condition("heavy_ball_weight_decay", "nesterov_weight_decay"),
        check=decay_law_check(_momentum_factor, "momentum recurrence"),
        controls=(
            Control(
                "affine data",
                "heavy ball with weight decay on affine data",
                _condition("heavy_ball_weight_decay_affine"),
            ),
        ),
        figure="fig01_frozen_weights",
    ),
    Claim(
        id="MYV-adam-axis",
        paper=PAPER,
        statement=(
            "Adam keeps P⊥W frozen when the subspace is spanned by coordinate axes (its "
            "off-subspace coordinates see exactly zero gradient)."
        ),
        source="[derived, exact] PAPERS.md §1 invariant 4",
        sim=SIM01,
        select=_condition("adam_axis_aligned"),
        check=frozen_weights_check,
        controls=(
            Control(
                "rotated basis",
                "the same Adam on a Haar-random subspace",
                _condition("adam_rotated"),
            ),
        ),
        figure="fig01_frozen_weights",
    ),
)


# --------------------------------------------------------------------------- simulation 02
SIM02 = "02_gradient_law"
RATIO_TOL = 0.1
KS_MIN_P = 0.01


def _law_inputs(r: RunRecord) -> tuple[np.ndarray, np.ndarray, int]:
    """Measured ``‖P⊥∇f‖``, predicted ``√(σ_w² ρ ℓ⊥)`` and ``ℓ⊥`` of a sim-02/03 run."""
    s = r.config["setup"]
    a = r.arrays()
    codim = int(s["d"] - s["k"])
    pred = th.predicted_offsubspace_grad_norm(a["rho"], s["first_scale"] ** 2 / s["d"], codim)
    return a["grad_off"], pred, codim


def gradient_law_check(runs: Sequence[RunRecord]) -> Comparison:
    """Per run: mean of measured/predicted within ±0.1, and ``‖P⊥∇f‖²/(σ_w²ρ)`` passes a KS test
    against ``χ²_{ℓ⊥}`` (one test point per member, so the samples are independent)."""
    from scipy import stats

    worst_dev, worst_ratio, min_p, where = -1.0, 1.0, 1.0, ""
    for r in runs:
        meas, pred, codim = _law_inputs(r)
        ratio = float(np.mean(meas / pred))
        z = (meas[:, 0] / pred[:, 0]) ** 2 * codim
        p = float(stats.kstest(z, "chi2", args=(codim,)).pvalue)
        min_p = min(min_p, p)
        if abs(ratio - 1) > worst_dev:
            worst_dev, worst_ratio, where = abs(ratio - 1), ratio, r.key
    ok = worst_dev <= RATIO_TOL and min_p >= KS_MIN_P
    return Comparison(
        "holds" if ok else "fails",
        worst_ratio,
        1.0,
        f"mean ratio 1 ± {RATIO_TOL:g}; KS p >= {KS_MIN_P:g}",
        f"ratio furthest from 1 in {where}; smallest KS p {min_p:.3g}",
        len(runs),
    )


def _law_regime(r: RunRecord) -> bool:
    s = r.config["setup"]
    return bool(r.config["role"] == "law" and s["d"] - s["k"] >= 100 and s["m"] >= 500)


# --------------------------------------------------------------------------- simulation 03
SIM03 = "03_init_scale"
SLOPE_TOL = 0.15
SPEARMAN_MAX = -0.9


def _beta(r: RunRecord) -> float:
    return float(r.config["setup"]["first_scale"])


def init_slope_check(runs: Sequence[RunRecord]) -> Comparison:
    """Log-log slope of the median ``‖P⊥∇f‖`` against β over the runs: predicted 1 ± 0.15."""
    betas = np.array([_beta(r) for r in runs])
    if len(set(betas.tolist())) < 3:
        return Comparison(
            "inconclusive",
            None,
            th.init_scale_slope(),
            f"1 ± {SLOPE_TOL:g}",
            "needs at least three init scales",
            len(runs),
        )
    med = np.array([np.median(r.arrays()["grad_off"]) for r in runs])
    slope = float(np.polyfit(np.log(betas), np.log(med), 1)[0])
    ok = abs(slope - th.init_scale_slope()) <= SLOPE_TOL
    return Comparison(
        "holds" if ok else "fails",
        slope,
        th.init_scale_slope(),
        f"slope 1 ± {SLOPE_TOL:g}",
        "median ‖P⊥∇f‖ per β: "
        + ", ".join(f"{b:g}: {m:.3g}" for b, m in sorted(zip(betas, med, strict=False))),
        len(runs),
    )


def flip_radius_check(runs: Sequence[RunRecord]) -> Comparison:
    """Spearman correlation of each member's median off-subspace flip radius with β: <= −0.9."""
    from scipy import stats

    xs, ys = [], []
    for r in runs:
        radius = r.arrays()["flip_radius"]
        med = np.nanmedian(radius, axis=1)  # inf (no flip within max_dist) ranks as the largest
        xs += [_beta(r)] * len(med)
        ys += med.tolist()
    if len(set(xs)) < 3:
        return Comparison(
            "inconclusive",
            None,
            None,
            f"Spearman <= {SPEARMAN_MAX:g}",
            "needs at least three init scales",
            len(runs),
        )
    rho = float(stats.spearmanr(xs, ys).statistic)
    return Comparison(
        "holds" if rho <= SPEARMAN_MAX else "fails",
        rho,
        -1.0,
        f"Spearman(radius, β) <= {SPEARMAN_MAX:g}",
        f"{len(ys)} members; reading: the radius grows as β shrinks",
        len(runs),
    )


CLAIMS = (
    *CLAIMS,
    Claim(
        id="MYV-gradlaw",
        paper=PAPER,
        statement=(
            "Trained to 100% training accuracy, the network keeps off-subspace input "
            "gradients of the predicted size: ‖P⊥∇f(x)‖² = σ_w² ρ(x) χ²_{ℓ⊥}, ρ(x) the sum "
            "of a_j² over active neurons — order one, not vanishing with d."
        ),
        source=(
            "[paper] large gradients orthogonal to the subspace (abstract); [derived] the exact "
            "law, PAPERS.md §1"
        ),
        sim=SIM02,
        select=_law_regime,
        check=gradient_law_check,
        controls=(
            Control(
                "data off the subspace",
                "isotropic noise in P⊥ (‖P⊥x‖ ≈ 1)",
                _condition("off_subspace_noise"),
            ),
            Control(
                "Adam, rotated basis",
                "coordinate-wise updates move P⊥W",
                _condition("adam_rotated"),
            ),
        ),
        figure="fig02_gradient_law",
    ),
    Claim(
        id="MYV-init-slope",
        paper=PAPER,
        statement=(
            "The off-subspace gradient scales linearly with the first-layer init scale β "
            "(log-log slope 1)."
        ),
        source="[paper] smaller init makes the network more robust off the subspace; [derived] slope 1",
        sim=SIM03,
        select=_role("law"),
        check=init_slope_check,
        controls=(
            Control(
                "Adam, rotated basis", "updates of fixed size, independent of β", _role("control")
            ),
        ),
        figure="fig03_init_scale",
    ),
    Claim(
        id="MYV-init-radius",
        paper=PAPER,
        statement=(
            "The minimal off-subspace ℓ2 perturbation that flips a test point grows as the "
            "init scale β shrinks (Spearman correlation with β <= −0.9)."
        ),
        source="[paper] abstract; the issue's reading 'rank-correlated with 1/β' tested as ρ(radius, β) <= −0.9",
        sim=SIM03,
        select=_role("law"),
        check=flip_radius_check,
        controls=(
            Control("Adam, rotated basis", "the same grid trained by Adam", _role("control")),
        ),
        figure="fig03_init_scale",
    ),
)


# --------------------------------------------------------------------------- simulation 04
SIM04 = "04_weight_decay"
WD_RTOL = 1e-9


def frozen_sum_norm(a: dict[str, np.ndarray]) -> np.ndarray:
    """``‖Σ_{j active at x} a_j P⊥w_j(0)‖`` at a run's test points, from its arrays: ``(M, n)``."""
    return th.frozen_offsubspace_grad_norm(a["X_test"], a["W"], a["b"], a["a"], a["W0"], a["basis"])


def weight_decay_gradient_check(runs: Sequence[RunRecord]) -> Comparison:
    """``‖P⊥∇f(x)‖ = (1 − ηλ)^t ‖Σ_{j active} a_j P⊥w_j(0)‖`` at every test point (float64, rel 1e-9)."""
    worst, where, factors = 0.0, "", []
    for r in runs:
        a = r.arrays()
        s = r.config["setup"]
        factor = th.weight_decay_factor(s["lr"], s["weight_decay"], a["steps_taken"])[:, None]
        base = frozen_sum_norm(a)
        err = np.abs(a["grad_off"] - factor * base) / np.maximum(factor * base, 1e-300)
        factors.append(
            (s["weight_decay"], float(np.median(a["grad_off"] / base)), float(np.median(factor)))
        )
        if float(err.max()) >= worst:
            worst, where = float(err.max()), r.key
    ok = worst <= WD_RTOL
    shown = "; ".join(f"λ={lam:g}: {m:.6g} vs {p:.6g}" for lam, m, p in factors[:5])
    return Comparison(
        "holds" if ok else "fails",
        worst,
        0.0,
        f"rel <= {WD_RTOL:g} (float64)",
        f"measured vs predicted factor {shown}; worst run {where}",
        len(runs),
    )


def radius_grows_with_decay_check(runs: Sequence[RunRecord]) -> Comparison:
    """Paired design: member ``i`` has the same seed at every λ, so for each member the Spearman
    correlation of its median off-subspace flip radius with λ; the median over members must be >= 0.9.
    (The pooled correlation over all members, which mixes seed-to-seed spread into the ranks, is
    reported in the detail.)"""
    from scipy import stats

    lams = sorted({float(r.config["setup"]["weight_decay"]) for r in runs})
    if len(lams) < 3:
        return Comparison(
            "inconclusive",
            None,
            1.0,
            "median per-member Spearman(radius, λ) >= 0.9",
            "needs at least three decay values",
            len(runs),
        )
    by_lam = {
        float(r.config["setup"]["weight_decay"]): np.nanmedian(r.arrays()["flip_radius"], axis=1)
        for r in runs
    }
    table = np.stack([by_lam[lam] for lam in lams])  # (L, M)
    per_member = [
        float(stats.spearmanr(lams, table[:, i]).statistic) for i in range(table.shape[1])
    ]
    med = float(np.median(per_member))
    pooled = float(stats.spearmanr(np.repeat(lams, table.shape[1]), table.ravel()).statistic)
    return Comparison(
        "holds" if med >= 0.9 else "fails",
        med,
        1.0,
        "median per-member Spearman(radius, λ) >= 0.9",
        f"{table.shape[1]} members × {len(lams)} λ; per member "
        f"{', '.join(f'{v:.2f}' for v in per_member)}; pooled {pooled:.3f}",
        len(runs),
    )


def _variant(*names: str) -> Callable[[RunRecord], bool]:
    return lambda r: r.config.get("role") == "law" and r.config.get("variant") in names


CLAIMS = (
    *CLAIMS,
    Claim(
        id="MYV-wd-gradient",
        paper=PAPER,
        statement=(
            "With coupled weight decay λ and GD, the off-subspace gradient at every point is "
            "exactly (1 − ηλ)^t times the sum of a_j P⊥w_j(0) over the neurons active there — "
            "also when all parameters are decayed and the second layer trains, and P⊥W → 0 "
            "on long runs."
        ),
        source="[paper] L2 regularisation helps off the subspace; [derived, exact] PAPERS.md §1",
        sim=SIM04,
        select=_role("law"),
        check=weight_decay_gradient_check,
        controls=(
            Control(
                "heavy-ball momentum",
                "the same decay under momentum follows another law",
                _condition("heavy_ball"),
            ),
            Control("Adam", "Adam with coupled decay", _condition("adam")),
        ),
        figure="fig04_weight_decay",
    ),
    Claim(
        id="MYV-wd-radius",
        paper=PAPER,
        statement="The minimal off-subspace flip radius grows with the weight decay λ.",
        source="[paper] abstract; measured with the P⊥-restricted minimum-norm attack",
        sim=SIM04,
        select=_variant("first_layer"),
        check=radius_grows_with_decay_check,
        controls=(
            Control(
                "decay skips W",
                "λ on the biases only: P⊥W untouched",
                lambda r: str(r.config.get("condition", "")).startswith("no-W-decay"),
            ),
        ),
        figure="fig04_weight_decay",
    ),
)


# --------------------------------------------------------------------------- simulation 05
SIM05 = "05_universal_direction"
COS_TOL = 0.1
FLIP_MIN = 0.9
FLIP_AT = 3.0


def universal_cosine_check(runs: Sequence[RunRecord]) -> Comparison:
    """Mean |cos(P⊥∇f(x), g_univ) − √(ρ(x)/Σ_j a_j²)| over test points and members <= 0.1, per run."""
    worst, where, shown = -1.0, "", []
    for r in runs:
        a = r.arrays()
        pred = th.universal_direction_cosine(a["rho"] / (a["a"] ** 2).sum(1)[:, None], 1.0)
        dev = float(np.mean(np.abs(a["cos_univ"] - pred)))
        shown.append(
            f"{r.config['condition']}: {np.median(a['cos_univ']):.3f} vs {np.median(pred):.3f}"
        )
        if dev > worst:
            worst, where = dev, r.key
    return Comparison(
        "holds" if worst <= COS_TOL else "fails",
        worst,
        0.0,
        f"mean |cos − pred| <= {COS_TOL:g}",
        f"worst run {where}; median cosine measured vs predicted: " + "; ".join(shown),
        len(runs),
    )


def universal_flip_check(runs: Sequence[RunRecord]) -> Comparison:
    """Fraction of each class flipped by its one perturbation ``−y·r·ĝ_univ`` at ``r <= 3×`` the
    member's median first-order radius: the smallest over members and classes must be >= 0.9."""
    worst = 1.0
    for r in runs:
        a = r.arrays()
        cols = a["multiples"] <= FLIP_AT
        best = a["flip_frac"][:, cols, :].max(axis=1)  # (M, 2): the best radius up to 3 r*
        worst = min(worst, float(best.min()))
    return Comparison(
        "holds" if worst >= FLIP_MIN else "fails",
        worst,
        1.0,
        f">= {FLIP_MIN:g} of each class at <= {FLIP_AT:g}× median r*",
        "smallest class fraction over members",
        len(runs),
    )


CLAIMS = (
    *CLAIMS,
    Claim(
        id="MYV-univ-cos",
        paper=PAPER,
        statement=(
            "Every point's off-subspace gradient shares one direction g_univ = Σ_j a_j P⊥w_j(0), "
            "with cosine √(ρ(x)/Σ_j a_j²)."
        ),
        source="[paper] a universal perturbation exists; [derived] the cosine, PAPERS.md §1",
        sim=SIM05,
        select=_role("law"),
        check=universal_cosine_check,
        controls=(
            Control(
                "Adam, rotated basis",
                "P⊥W moves: the initial direction goes stale",
                _condition("adam_rotated"),
            ),
            Control(
                "data off the subspace", "isotropic noise in P⊥", _condition("off_subspace_noise")
            ),
        ),
        figure="fig05_universal_direction",
    ),
    Claim(
        id="MYV-univ-flip",
        paper=PAPER,
        statement=(
            "One perturbation per class along −y·g_univ flips at least 90% of that class at a "
            "norm of at most 3× the median first-order flip radius |f|/‖P⊥∇f‖."
        ),
        source="[paper] universal perturbation; [derived] the numbers, PAPERS.md §1",
        sim=SIM05,
        select=_role("law"),
        check=universal_flip_check,
        controls=(
            Control("Adam, rotated basis", "the same sweep after Adam", _condition("adam_rotated")),
            Control(
                "data off the subspace", "isotropic noise in P⊥", _condition("off_subspace_noise")
            ),
        ),
        figure="fig05_universal_direction",
    ),
)


# --------------------------------------------------------------------------- simulation 06
SIM06 = "06_paper_figures"
AFFINE_MIN_DRIFT = 1e-6


def _fitted_distances(r: RunRecord) -> np.ndarray:
    """Off-subspace boundary distances (both ways) of the members that reached the authors' stopping
    margin; no boundary within ``t_max`` counts as ``t_max``."""
    a = r.arrays()
    fitted = a["train_margin"] > r.config["stop_margin"]
    d = a["dist_off"][fitted]
    return np.asarray(np.where(np.isfinite(d), d, r.config["t_max"]))


def larger_distance_check(runs: Sequence[RunRecord]) -> Comparison:
    """Median off-subspace boundary distance of small-init and of regularised networks over the vanilla
    one's (fitted members only): both ratios must exceed 1."""
    by = {r.config["condition"]: r for r in runs}
    if not {"vanilla", "small_init", "regularised"} <= set(by):
        return Comparison(
            "inconclusive",
            None,
            None,
            "both ratios > 1",
            "needs vanilla, small_init and regularised runs",
            len(runs),
        )
    med = {}
    for cond, r in by.items():
        d = _fitted_distances(r)
        if d.shape[0] < 3:
            return Comparison(
                "inconclusive",
                None,
                None,
                "both ratios > 1",
                f"{cond}: only {d.shape[0]} members reached the margin",
                len(runs),
            )
        med[cond] = float(np.median(d))
    ratios = {c: med[c] / med["vanilla"] for c in ("small_init", "regularised")}
    worst = min(ratios.values())
    return Comparison(
        "holds" if worst > 1 else "fails",
        worst,
        None,
        "both ratios > 1",
        f"median distance vanilla {med['vanilla']:.3g}, small init "
        f"{med['small_init']:.3g} (×{ratios['small_init']:.2f}), regularised "
        f"{med['regularised']:.3g} (×{ratios['regularised']:.2f})",
        len(runs),
    )


def affine_moves_check(runs: Sequence[RunRecord]) -> Comparison:
    """Smallest first-layer off-subspace drift over the runs' members exceeds 1e-6 (the invariant
    does not hold)."""
    least = min(float(np.min(r.arrays()["drift"])) for r in runs)
    return Comparison(
        "holds" if least > AFFINE_MIN_DRIFT else "fails",
        least,
        None,
        f"drift > {AFFINE_MIN_DRIFT:g}",
        "smallest drift over members",
        len(runs),
    )


def _sim06(
    dataset: str, role: str, conditions: tuple[str, ...] | None = None
) -> Callable[[RunRecord], bool]:
    return lambda r: (
        r.config.get("dataset") == dataset
        and r.config.get("role") == role
        and (conditions is None or r.config.get("condition") in conditions)
    )


CLAIMS = (
    *CLAIMS,
    Claim(
        id="MYV-fig2-distance",
        paper=PAPER,
        statement=(
            "On the authors' diagonal-line data (their Fig. 2), small-init and regularised "
            "networks have a larger median distance to the decision boundary orthogonally to the "
            "line than vanilla networks."
        ),
        source=(
            "[paper] Fig. 2 (qualitative); reading tested: small init = both layers ÷3 (quick) or "
            "÷6 (paper scale), regularised = SGD weight decay 3e-3, members that reached margin 0.3"
        ),
        sim=SIM06,
        select=_sim06("line", "paper"),
        check=larger_distance_check,
        controls=(
            Control(
                "data off the line",
                "the seven points jittered off the line by 0.3·N(0, 1)",
                _sim06("line", "control"),
            ),
        ),
        figure="fig06_paper_figures",
    ),
    Claim(
        id="MYV-fig3-affine",
        paper=PAPER,
        statement=(
            "On the authors' checkerboard (their Fig. 3), whose plane is affine (height 0.5), "
            "the frozen-weights invariant does not hold: training moves the first layer off "
            "the data plane — one reason for the paper's 'smaller robustness effect'."
        ),
        source="[paper] Fig. 3 'smaller effect'; [derived] invariant 1 needs a linear subspace",
        sim=SIM06,
        select=_sim06("checkerboard", "paper"),
        check=affine_moves_check,
        controls=(
            Control(
                "linear data",
                "the diagonal line (a linear subspace), vanilla and small init",
                _sim06("line", "paper", ("vanilla", "small_init")),
            ),
        ),
        figure="fig06_paper_figures",
    ),
)


# --------------------------------------------------------------------------- simulation 07
SIM07 = "07_adversarial_training_subspace"
AT_RATIO_MAX = 0.9


def at_below_law_check(runs: Sequence[RunRecord]) -> Comparison:
    """Per run, the mean of measured ``‖P⊥∇f‖`` over the frozen-weights law ``√(σ_w² ρ ℓ⊥)`` is at
    most 0.9: the off-subspace gradient fell below what frozen off-subspace weights would give (the
    normalisation by ρ removes the effect of a changed activation pattern)."""
    worst, shown = 0.0, []
    for r in runs:
        meas, pred, _ = _law_inputs(r)
        ratio = float(np.mean(meas / pred))
        drift = float(np.mean(r.arrays()["drift"]))
        shown.append(f"{r.config['condition']}: ratio {ratio:.3f}, drift {drift:.3g}")
        worst = max(worst, ratio)
    return Comparison(
        "holds" if worst <= AT_RATIO_MAX else "fails",
        worst,
        None,
        f"mean ratio <= {AT_RATIO_MAX:g}",
        "; ".join(shown),
        len(runs),
    )


def _at(subspace: str) -> Callable[[RunRecord], bool]:
    return lambda r: (
        r.config["setup"]["at_eps"] > 0 and r.config["setup"].get("at_subspace", "all") == subspace
    )


CLAIMS = (
    *CLAIMS,
    Claim(
        id="AT-offsubspace",
        paper="PAPERS.md §1 (simulated, not claimed by Melamed et al.)",
        statement=(
            "ℓ2 PGD adversarial training on subspace data moves the first layer off the "
            "subspace and lowers the off-subspace input gradient below the frozen-weights law "
            "(mean measured/law ≤ 0.9)."
        ),
        source="[derived/simulated] PAPERS.md §1: 'adversarial training also lowers ‖P⊥∇f‖'",
        sim=SIM07,
        select=_at("all"),
        check=at_below_law_check,
        controls=(
            Control(
                "AT on the subspace only",
                "perturbations restricted to P keep P⊥W frozen",
                _at("on"),
            ),
        ),
        figure=None,
    ),
)
