"""The benchmark harness compares like with like: its naive baselines compute advsim's numbers."""

from __future__ import annotations

import torch

from benchmarks import naive
from benchmarks.cases import check_train_identical
from sims.attacks import PGD
from sims.nets import init_ensemble
from sims.threat import L2Ball


def test_naive_training_loop_equals_advsim() -> None:
    assert check_train_identical(d=5, m=4, n=30) < 1e-9


def test_naive_pgd_loop_equals_advsim_textbook_pgd() -> None:
    ens = init_ensemble(6, 5, seeds=[0, 1], bias="normal", bias_std=0.2, dtype=torch.float64)
    X = torch.randn(15, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.sign(ens.forward(X)[0])
    threat = L2Ball(0.4)
    attack = PGD(steps=7, keep_best=False)
    ours = attack(ens, X, y, threat).delta
    start = threat.project(threat.random_start(X, seed=0).expand(2, *X.shape))
    ref = naive.pgd_l2_loop(
        naive.make_modules(ens.W, ens.b, ens.a),
        X,
        y,
        start,
        eps=0.4,
        steps=7,
        alpha=attack.alpha * 0.4,
    )
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
