"""Simulations 08–10 (feature purification) end to end: records, verdicts with teeth, figures."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from figures.registry import all_figures, draw
from tests.pinned import QuickRuns, check_pinned, pinned_claim_ids, sim_number, tiered

SIM10 = importlib.import_module("sims.10_robust_window")


@pytest.fixture(scope="module")
def results(quick: QuickRuns) -> Path:
    """Simulations 08–10 are in :data:`tests.pinned.SLOW_SIMS`: every test that reads them is slow."""
    return quick("08", "09", "10")


#: Verdicts at quick scale (8 members), under the interval rule, pinned so that a change is noticed.
#: ``fails`` are findings (see the report): with the threshold a fixed share of the signal (half an
#: atom's, or of a neuron's largest response until that reaches one atom's), the width fixed and
#: training to a loss plateau, the mixture's slope in k is 1.75 (not +1), though the labels make most of
#: it (true − shuffled 1.12 [1.09, 1.15]); its d-slope (−0.81) appears with shuffled labels too (−0.99:
#: the control does not flip, inconclusive), and the labels add nothing to it (+0.18 [0.13, 0.22]). The
#: clean net's minimal flip radius follows the derived radius of the paper's network in k for ℓ2 (−1.00
#: vs −1.18); for ℓ∞ the interval straddles the band's edge (−1.40 vs −1.70), and in d neither is told
#: apart from the shuffled control. ℓ2 and FGM training purify less than 2×;
#: followed through training FGM-AT's fall is 0.61 [0.58, 0.64] of PGD-AT's and climbing back; the clean
#: net's minimal ℓ2 perturbations are not dense (share on supp(z) 0.55, above 0.5); FGM-AT falls 0.23
#: [0.17, 0.30] below PGD-AT by its training radius. The principle's share holds (0.996), but so does
#: its control — adversarial training from the same initialisation, its radius ramped up over the clean
#: training's steps, which trains (clean accuracy 0.988) and keeps 0.74 [0.70, 0.78] of the neurons at
#: cosine > 1/√2 with the clean-trained ones — so the claim is inconclusive; PUR-gap's gap (0.65
#: [0.56, 0.74]) is above its band, but its dense-code control's clean accuracy is 0.899 against
#: 1.000 (not valid): inconclusive.
VERDICTS = {
    "PUR-mix-k": "fails",
    "PUR-mix-k-labels": "holds",
    "PUR-mix-d": "inconclusive",
    "PUR-mix-d-labels": "fails",
    "PUR-radius-linf-k": "inconclusive",
    "PUR-radius-linf-d": "inconclusive",
    "PUR-radius-l2-k": "holds",
    "PUR-radius-l2-d": "inconclusive",
    "PUR-mix-align": "holds",
    "PUR-principle": "inconclusive",
    "PUR-purify": "holds",
    "PUR-purify-l2": "fails",
    "PUR-fgm": "fails",
    "PUR-fgm-path": "fails",
    "PUR-l2-path": "inconclusive",
    "PUR-perturbation": "fails",
    "PUR-gap": "inconclusive",
    "PUR-fgm-robust": "fails",
    "PUR-low-complexity": "holds",
}


def test_simulation_10_names_its_fgm_model_and_its_pgd_reference() -> None:
    """FGM-AT trains at one of PGD-AT's radii, and the names the records carry say which."""
    assert SIM10.FGM_FRAC in SIM10.AT_FRACS
    assert SIM10.PGD_MATCH == SIM10.pgd_name(SIM10.FGM_FRAC) == "pgd50"
    assert SIM10.FGM_MODEL == "fgm50"


def test_every_purification_claim_is_pinned() -> None:
    # the real-data claims (PUR-patch-*) are pinned in tests/test_real_data_sims.py
    assert pinned_claim_ids("PUR-") - pinned_claim_ids("PUR-patch-") == set(VERDICTS)


@pytest.mark.parametrize("cid", tiered(VERDICTS))
def test_verdicts_and_every_negative_control_flips(quick: QuickRuns, cid: str) -> None:
    check_pinned(quick(sim_number(cid)), cid, VERDICTS[cid])


@pytest.mark.slow
def test_records_carry_the_ground_truth(results: Path) -> None:
    from sims.records import load_records

    for sim in ("08_mixture_scaling", "09_purification", "10_robust_window"):
        for r in load_records(results, sim):
            a = r.arrays()
            d = r.config["setup"]["d"]
            assert a["dictionary"].shape == (d, d)
            np.testing.assert_allclose(a["dictionary"].T @ a["dictionary"], np.eye(d), atol=1e-12)
            assert a["W_clean"].shape[-1] == d


@pytest.mark.slow
def test_purification_figures_draw(results: Path, tmp_path: Path) -> None:
    figs = [f for f in all_figures() if f.stem[3:5] in ("08", "09", "10")]
    assert len(figs) == 4  # 09 has two: the purification and its course
    for f in figs:
        assert draw(f, results, tmp_path) == "drawn"
        assert (tmp_path / f"{f.stem}.png").stat().st_size > 10_000


@pytest.mark.slow
def test_pgd_robust_accuracy_of_the_linear_baseline_is_exact(results: Path) -> None:
    """On a linear model ℓ∞ PGD reaches the exact minimal flip |f|/‖w‖₁ (PAPERS.md §5), so the
    recorded robust accuracy is the share of correct points whose exact radius exceeds ε."""
    from sims.records import load_records

    rows = [
        r for r in load_records(results, "10_robust_window") if "linear_flip_linf" in r.arrays()
    ]
    assert rows
    for r in rows:
        a = r.arrays()
        n = a["linear_flip_linf"].shape[1]
        w, c = a["linear_w"], a["linear_c"]
        correct = (a["y_test"][:n] * (a["X_test"][:n] @ w.T + c).T) > 0
        for j, eps in enumerate(a["linf_grid"]):
            exact = (correct & (a["linear_flip_linf"] > eps)).mean(axis=1)
            np.testing.assert_allclose(a["linear_linf_robust"][:, j], exact, atol=1.5 / n)


@pytest.mark.slow
def test_per_point_accuracies_add_up_to_the_recorded_ones(results: Path) -> None:
    """The per-point arrays the paired intervals resample are the recorded accuracies, point by point."""
    from sims.records import load_records

    for r in load_records(results, "10_robust_window"):
        a = r.arrays()
        assert a["clean_linf_robust_points"].shape[0] >= 8  # the power rule: >= 8 members
        for m in ("clean", "pgd25", "pgd50", "pgd75", "fgm50", "linear", "ntk"):
            if f"{m}_test_correct" not in a:
                continue
            np.testing.assert_allclose(a[f"{m}_test_correct"].mean(1), a[f"{m}_test_acc"])
            for norm in ("linf", "l2"):
                pts = a[f"{m}_{norm}_robust_points"]
                np.testing.assert_allclose(pts.mean(-1), a[f"{m}_{norm}_robust"])
                # robust points are clean-correct points
                assert not np.any(pts & ~a[f"{m}_test_correct"][:, None, : pts.shape[-1]])


@pytest.mark.slow
def test_robustness_records_store_the_attacked_networks_and_the_feasible_grid(
    results: Path,
) -> None:
    """Simulation 10: every attacked network rebuilt from its recorded ``W, b, a, threshold`` gives the
    recorded clean accuracy; the grid runs from a sixteenth of the data's cap to the cap, the cap
    measured on the data equals the code law's (ℓ∞: ``k^{-1/2}/2``) for ±1/√k codes, and the training
    radii are the stated fractions of it."""
    import torch

    from sims.nets import TwoLayerEnsemble
    from sims.records import load_records
    from theory.purification import feasibility_cap

    rows = load_records(results, "10_robust_window")
    assert {r.config["condition"] for r in rows} == {"sparse", "dense"}
    for r in rows:
        a = r.arrays()
        setup = r.config["setup"]
        k, d = int(setup["k"]), int(setup["d"])
        assert r.metrics["linf_cap"] == pytest.approx(feasibility_cap(k, d, "linf"))
        assert float(a["linf_cap"]) == r.metrics["linf_cap"]
        assert [str(m) for m in a["at_models"]] == [SIM10.pgd_name(f) for f in SIM10.AT_FRACS]
        assert str(a["fgm_model"]) == SIM10.FGM_MODEL and str(a["fgm_reference"]) == SIM10.PGD_MATCH
        np.testing.assert_allclose(a["linf_grid"][-1], r.metrics["linf_cap"])
        np.testing.assert_allclose(a["linf_grid"] / a["linf_grid"][-1], SIM10.EVAL_FRACS)
        np.testing.assert_allclose(a["fgm_eps"], SIM10.FGM_FRAC * r.metrics["linf_cap"])
        n = a["clean_linf_robust_points"].shape[-1]
        X = torch.from_numpy(np.array(a["X_test"][:n])).float()
        y = torch.from_numpy(np.array(a["y_test"][:n])).float()
        for m in ("clean", *(str(x) for x in a["at_models"]), str(a["fgm_model"])):
            W, b, a_, th = (
                torch.from_numpy(np.array(a[f"{m}_{p}"])) for p in ("W", "b", "a", "threshold")
            )
            net = TwoLayerEnsemble(W=W, b=b, a=a_, threshold=th, trainable=("W",))
            acc = ((y * net.forward(X)) > 0).double().mean(dim=1).numpy()
            np.testing.assert_allclose(acc, a[f"{m}_test_correct"][:, :n].mean(axis=1))


@pytest.mark.slow
def test_paired_rows_share_data_init_or_training(results: Path) -> None:
    """Simulation 08's arms of a shape share data and initialisation and differ in the labels only;
    simulation 09's rows share one clean training per setup and record what their own would give."""
    from sims.records import load_records

    rows08 = {
        r.config["condition"]: r.arrays() for r in load_records(results, "08_mixture_scaling")
    }
    true, shuffled, again = (rows08[f"{arm}-d64-k4"] for arm in ("true", "shuffled", "reshuffled"))
    for other in (shuffled, again):
        np.testing.assert_array_equal(true["W0"], other["W0"])
        np.testing.assert_array_equal(true["X_test"], other["X_test"])
        assert not np.array_equal(true["W_clean"], other["W_clean"])
    assert not np.array_equal(shuffled["W_clean"], again["W_clean"])
    rows09 = {r.config["condition"]: r.arrays() for r in load_records(results, "09_purification")}
    main, init = rows09["sparse-pgd_linf"], rows09["from_init-pgd_linf"]
    np.testing.assert_array_equal(init["W_clean"], init["W0"])  # AT started from the initialisation
    np.testing.assert_array_equal(init["W_reference"], main["W_clean"])
    np.testing.assert_array_equal(main["W_reference"], main["W_clean"])
    for name, a in rows09.items():
        if name.startswith("sparse-"):
            np.testing.assert_array_equal(a["W_clean"], main["W_clean"])


@pytest.mark.slow
def test_principle_is_inconclusive_because_its_control_trains_and_holds_too(results: Path) -> None:
    """The principle's share holds; the claim stays inconclusive because adversarial training from the
    same initialisation (the control, radius ramped up over the clean training's steps) trains to the
    main runs' clean accuracy and keeps most neurons too: the cosine criterion cannot credit the clean
    start. At the full radius from the first step the control did not train (clean accuracy 0.18)."""
    res = check_pinned(results, "PUR-principle", "inconclusive")
    assert res.main.status == "holds"
    assert [ok for ok, _ in res.validity] == [True]
    assert [cmp.status for _, cmp in res.controls] == ["holds"]
