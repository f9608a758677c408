"""Low-complexity baselines of feature purification: the network's linearisation at init (its NTK model).

Allen-Zhu & Li (2020; PAPERS.md §2) state that low-complexity models — linear classifiers and the
network's neural tangent kernel among them — cannot be robust at the radius where the adversarially
trained network is, whatever trains them. The linear classifier is :class:`sims.nets.LinearEnsemble`
(exact flip radii ``|f|/‖w‖_q``); the NTK model is :class:`LinearizedEnsemble` here:

``f_lin(x) = f₀(x) + ⟨∇_W f₀(x), Δ⟩ = f₀(x) + Σ_j a_j σ'(h⁰_j(x)) ⟨Δ_j, x⟩``,

the first-order Taylor expansion of the two-layer network in its first-layer weights around the
initialisation ``W₀`` (``h⁰_j(x) = w⁰_j·x + b_j``). It is linear in the trained parameters ``Δ``, so its
training loss is convex; its gradient in ``Δ`` is the network's weight gradient at ``W₀`` (the same
closed form, :meth:`sims.nets.TwoLayerEnsemble.param_grads`). Both train with :func:`sims.training.train`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from sims.losses import loss_derivative
from sims.nets import TwoLayerEnsemble, check_loss_inputs
from sims.validate import check_instance, check_tensor, checks_enabled, fail

__all__ = ["LinearizedEnsemble"]


@dataclass(eq=False)
class LinearizedEnsemble:
    """The NTK model ``f_lin = f₀ + ⟨∇_W f₀, Δ⟩`` of a ReLU-family ensemble at its initialisation.

    Attributes:
        base: the network at initialisation (ordinary or symmetric, ``act='relu'``).
        delta: the trained displacement ``Δ (M, m, d)`` of the first-layer weights (zero at the start).

    The input gradient is exact almost everywhere: for ReLU units ``σ'`` is piecewise constant, so
    ``∇_x f_lin(x) = ∇_x f₀(x) + Σ_j a_j σ'(h⁰_j(x)) Δ_j``.
    """

    base: TwoLayerEnsemble
    delta: Tensor

    def __post_init__(self) -> None:
        check_instance("base", self.base, TwoLayerEnsemble, "a TwoLayerEnsemble")
        check_tensor("delta", self.delta, like=self.base.W)
        if self.delta.dtype != self.base.dtype:
            fail("delta", f"of the base's dtype {self.base.dtype}", self.delta)
        if self.base.act != "relu":
            fail(
                "base.act",
                "'relu' (LinearizedEnsemble needs act='relu': its input gradient drops σ'')",
                self.base.act,
            )
        if tuple(self.delta.shape) != tuple(self.base.W.shape):
            fail("delta", f"the shape of W, {tuple(self.base.W.shape)}", self.delta, verb="have")
        if self.base.trainable != ("W",):
            self.base = replace(self.base, trainable=("W",))

    @classmethod
    def at_init(cls, base: TwoLayerEnsemble) -> LinearizedEnsemble:
        """The linearisation of ``base`` with ``Δ = 0`` (equal to ``base`` at every input)."""
        check_instance("base", base, TwoLayerEnsemble, "a TwoLayerEnsemble")
        return cls(base.clone(), torch.zeros_like(base.W))

    @property
    def M(self) -> int:
        """Ensemble size."""
        return self.base.M

    @property
    def d(self) -> int:
        """Input dimension."""
        return self.base.d

    @property
    def dtype(self) -> torch.dtype:
        """Parameter dtype."""
        return self.base.dtype

    @property
    def device(self) -> torch.device:
        """Parameter device."""
        return self.base.device

    @property
    def trainable(self) -> tuple[str, ...]:
        """Only ``Δ`` (called ``'W'``, as it displaces the first layer) trains."""
        return ("W",)

    def params(self) -> dict[str, Tensor]:
        """``{'W': Δ}`` (the tensor itself)."""
        return {"W": self.delta}

    def _gates(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """``a_j σ'(h⁰_j(x))`` ``(M, n, m)`` and ``⟨Δ_j, x⟩`` ``(M, n, m)``."""
        Xc = self.base._inputs(X)
        if checks_enabled():
            check_tensor("delta", self.delta, shapes=[tuple(self.base.W.shape)], like=self.base.W)
        gate = self.base._dsig(self.base.preact(Xc), 0, self.M) * self.base.a[:, None, :]
        if Xc.ndim == 2:
            proj = torch.matmul(Xc, self.delta.transpose(1, 2))
        else:
            proj = torch.bmm(Xc, self.delta.transpose(1, 2))
        return gate, proj

    def forward(self, X: Tensor) -> Tensor:
        """``f_lin(x)`` of every member at every point: ``(M, n)``."""
        gate, proj = self._gates(X)
        return self.base.forward(X) + (gate * proj).sum(-1)

    __call__ = forward

    def value_and_grad(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """``(f_lin(x), ∇_x f_lin(x))``: ``(M, n)``, ``(M, n, d)``."""
        gate, proj = self._gates(X)
        f0, g0 = self.base.value_and_grad(X)
        return f0 + (gate * proj).sum(-1), g0 + torch.bmm(gate, self.delta)

    def input_grad(self, X: Tensor) -> Tensor:
        """``∇_x f_lin(x)``: ``(M, n, d)``."""
        return self.value_and_grad(X)[1]

    def loss_grads(self, X: Tensor, y: Tensor, loss: str) -> tuple[Tensor, dict[str, Tensor]]:
        """Outputs and the gradient of the mean loss in ``Δ``: ``Σ_i (ℓ'_i/n) ∇_W f₀(x_i)``."""
        f = self.forward(X)
        if checks_enabled():
            check_loss_inputs(y, loss, int(X.shape[-2]), self.base.W)
        g = loss_derivative(loss, f, y.to(self.dtype)) / X.shape[-2]
        return f, {"W": self.base.param_grads(X, g)["W"]}

    def check_params(self) -> None:
        """Raise unless the base network and ``Δ`` are valid and finite (see
        :meth:`sims.nets.TwoLayerEnsemble.check_params`)."""
        self.base.check_params()
        check_tensor("delta", self.delta, shapes=[tuple(self.base.W.shape)], like=self.base.W)
