"""The naive way a researcher would write the same computations: one ``nn.Module`` per network.

These are the baselines of ``python -m benchmarks``: a Python loop over models, each with its own
``torch.optim.SGD`` and autograd, and an ℓ2 PGD attack looped over models. They compute exactly what
advsim computes (checked before timing), only one network at a time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Net(nn.Module):
    """``x -> a·relu(W x + b)`` as a researcher would write it."""

    def __init__(self, d: int, m: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.hidden = nn.Linear(d, m, dtype=dtype)
        self.out = nn.Linear(m, 1, bias=False, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        """``(n, 1)`` outputs."""
        out: Tensor = self.out(torch.relu(self.hidden(x)))
        return out


def make_modules(W: Tensor, b: Tensor, a: Tensor) -> list[Net]:
    """One module per member, initialised from the stacked tensors."""
    mods = []
    M, m, d = W.shape
    for i in range(M):
        net = Net(d, m, W.dtype)
        with torch.no_grad():
            net.hidden.weight.copy_(W[i])
            net.hidden.bias.copy_(b[i])
            net.out.weight.copy_(a[i][None, :])
        mods.append(net)
    return mods


def train_loop(mods: list[Net], X: Tensor, y: Tensor, *, steps: int, lr: float) -> None:
    """Full-batch GD on the logistic loss, one model after another."""
    for net in mods:
        opt = torch.optim.SGD(net.parameters(), lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            loss = F.softplus(-y * net(X)[:, 0]).mean()
            loss.backward()
            opt.step()


def pgd_l2_loop(
    mods: list[Net],
    X: Tensor,
    y: Tensor,
    delta0: Tensor,
    *,
    eps: float,
    steps: int,
    alpha: float,
) -> Tensor:
    """ℓ2 PGD on the margin loss ``−y f`` from the given starts, one model after another."""
    out = []
    for i, net in enumerate(mods):
        delta = delta0[i].clone()
        for _ in range(steps):
            delta.requires_grad_(True)
            loss = (-y * net(X + delta)[:, 0]).sum()
            (g,) = torch.autograd.grad(loss, delta)
            g = g / g.norm(dim=1, keepdim=True).clamp_min(1e-30)
            delta = delta.detach() + alpha * g
            norm = delta.norm(dim=1, keepdim=True)
            delta = delta * torch.clamp(eps / norm.clamp_min(1e-30), max=1.0)
        out.append(delta.detach())
    return torch.stack(out)
