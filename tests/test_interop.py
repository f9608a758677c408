"""A member of an ensemble is a plain ``torch.nn.Module``: foolbox 3 attacks it, and advsim's PGD at the
same budget is at least as strong (issue 18)."""

from __future__ import annotations

import foolbox as fb
import pytest
import torch
from foolbox.models.pytorch import PyTorchModel

import sims


class _Logits(torch.nn.Module):
    """Two logits ``(−f/2, f/2)`` from a scalar network: softmax gives ``σ(f)`` for class 1 (``y = +1``)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.net(x)
        return torch.stack([-f / 2, f / 2], dim=1)


@pytest.fixture(scope="module")
def trained() -> tuple[sims.TwoLayerEnsemble, torch.Tensor, torch.Tensor]:
    data = sims.make_subspace_data(n=600, d=50, k=5, seed=0)
    X, y = (torch.as_tensor(a, dtype=torch.float32) for a in (data.X, data.y))
    ens = sims.init_ensemble(50, 100, seeds=[0, 1])
    cfg = sims.TrainConfig(steps=300, optimizer=sims.OptimizerConfig(lr=0.2))
    sims.train(ens, X[:400], y[:400], cfg)
    return ens, X[400:], y[400:]


@pytest.mark.parametrize(
    ("norm", "eps"), [("l2", 0.1), ("l2", 0.3), ("linf", 0.02), ("linf", 0.06)]
)
def test_advsim_pgd_breaks_every_point_foolbox_breaks(
    trained: tuple[sims.TwoLayerEnsemble, torch.Tensor, torch.Tensor], norm: str, eps: float
) -> None:
    ens, X, y = trained
    for i in range(ens.M):
        net = ens.member(i)
        model = PyTorchModel(_Logits(net).eval(), bounds=(-1e3, 1e3))
        attack = fb.attacks.L2PGD(steps=50) if norm == "l2" else fb.attacks.LinfPGD(steps=50)
        _, _, fb_success = attack(model, X, (y > 0).long(), epsilons=eps)
        ball = sims.L2Ball(eps=eps) if norm == "l2" else sims.LinfBall(eps=eps)
        ours = sims.PGD(steps=50)(ens.select([i]), X, y, ball).success[0]
        # the exported member is the ensemble's member: same outputs
        with torch.no_grad():
            torch.testing.assert_close(net(X), ens.forward(X)[i])
        assert 0 < fb_success.float().mean() < 1, "radius must leave something to compare"
        only_foolbox = int((fb_success & ~ours).sum())
        assert ours.float().mean() >= fb_success.float().mean()
        assert only_foolbox <= 0.01 * len(y), f"foolbox broke {only_foolbox} points advsim did not"
