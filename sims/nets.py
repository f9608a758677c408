"""Ensembles of two-layer ReLU networks ``f(x) = Σ_j a_j σ(w_j·x + b_j)`` trained all at once.

Every parameter carries a leading ensemble axis ``M``: ``W (M, m, d)``, ``b (M, m)``, ``a (M, m)``.
Forward passes, input gradients and parameter gradients are batched matrix products over that axis.
Member ``i`` is initialised from its own seed, so it equals the same network built (and trained) alone.

The closed forms implemented here (PAPERS.md notation):

* output ``f(x) = Σ_j a_j σ(h_j)`` with ``h_j = w_j·x + b_j``;
* input gradient ``∇_x f(x) = Σ_j a_j σ'(h_j) w_j`` (PAPERS.md §1, "gradient law");
* parameter gradients of ``L = (1/n) Σ_i ℓ(f(x_i), y_i)`` with ``g_i = ∂ℓ/∂f / n``:
  ``∂L/∂a_j = Σ_i g_i σ(h_ij)``, ``∂L/∂w_j = Σ_i g_i a_j σ'(h_ij) x_i``, ``∂L/∂b_j = Σ_i g_i a_j σ'(h_ij)``.
  The second shows invariant 1 of PAPERS.md §1: ``∂L/∂w_j ∈ span{x_i}``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

from sims.perf import tune_allocator
from sims.validate import (
    AdvsimError,
    all_finite,
    check_choice,
    check_device,
    check_dtype,
    check_finite,
    check_fits,
    check_float,
    check_instance,
    check_int,
    check_labels,
    check_memory,
    check_seeds,
    check_tensor,
    checks_enabled,
    fail,
    itemsize,
)

tune_allocator()

__all__ = [
    "ACTIVATIONS",
    "PARAM_NAMES",
    "Around",
    "AutogradModel",
    "LinearEnsemble",
    "ScalarModel",
    "ThresholdRule",
    "TrainableModel",
    "TwoLayerEnsemble",
    "TwoLayerNet",
    "activation",
    "activation_grad",
    "init_ensemble",
    "symmetric_ensemble",
    "weight_arrays",
]

PARAM_NAMES = ("W", "b", "a")
#: Default size of one member block's activations in :meth:`TwoLayerEnsemble.loss_grads`.
BLOCK_BYTES = 8 << 20
ACTIVATIONS = ("relu", "smooth_relu")
InitScheme = Literal["paper", "signs"]


def _dt(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _names(name: str, value: object, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """A tuple of distinct names from ``allowed`` (a bare string is refused: ``"Wb"`` is not
    ``("W", "b")``)."""
    if isinstance(value, str) or not isinstance(value, tuple | list):
        fail(name, f"a tuple of names from {allowed}", value)
    for i, v in enumerate(value):
        check_choice(f"{name}[{i}]", v, allowed)
    if len(set(value)) != len(value):
        fail(name, "a tuple of distinct names", tuple(value))
    return tuple(value)


def _member_index(idx: object, M: int, device: torch.device) -> slice | Tensor:
    """Members ``idx`` (a slice, or integers in ``[-M, M)``) as a slice or a long tensor."""
    if isinstance(idx, slice):
        return idx
    try:
        ix = torch.as_tensor(idx, device=device)
    except (TypeError, ValueError, RuntimeError):
        fail("idx", "a slice or a sequence of member indices", idx)
    if ix.is_floating_point() or ix.is_complex() or ix.dtype == torch.bool or ix.ndim != 1:
        fail("idx", "a slice or a 1-D sequence of integer member indices", idx)
    if ix.numel() and (int(ix.min()) < -M or int(ix.max()) >= M):
        fail("idx", f"member indices in [-{M}, {M - 1}]", idx)
    return ix.to(torch.long)


def check_inputs(name: str, X: object, M: int, d: int, like: Tensor | None) -> None:
    """Raise unless ``X`` is a finite real floating tensor of shape ``(n, d)`` or ``(M, n, d)`` with
    ``n >= 1``, on ``like``'s device (the engine casts floating data to the model's dtype)."""
    check_tensor(name, X, shapes=[("n", d), (M, "n", d)], like=like, finite=False)
    assert isinstance(X, Tensor)
    if X.shape[-2] < 1:
        fail(name, f"shape (n, {d}) or ({M}, n, {d}) with n >= 1 points", X, verb="have")
    check_finite(name, X)


def check_loss_inputs(y: object, loss: str, n: int, like: Tensor, M: int | None = None) -> None:
    """Raise unless ``y`` holds labels in {-1, +1} of shape ``(n,)`` (or ``(M, n)`` when ``M`` is
    given: per-member inputs) on ``like``'s device, and ``loss`` is a loss of :mod:`sims.losses`."""
    from sims.losses import LOSSES

    check_choice("loss", loss, LOSSES)
    check_instance("y", y, Tensor, "a torch tensor of labels in {-1, +1}")
    assert isinstance(y, Tensor)
    shapes = [(n,)] if M is None else [(n,), (M, n)]
    if tuple(y.shape) not in shapes:
        fail(
            "y", "shape " + " or ".join(map(str, shapes)) + " (one label per point)", y, verb="have"
        )
    if y.device != like.device:
        fail("y", f"on the model's device {like.device}", y)
    check_labels("y", y)


def activation(h: Tensor, kind: str, width: float = 1.0, threshold: Tensor | None = None) -> Tensor:
    """``σ(h)``: ReLU, or the smoothed ReLU of feature purification; with a threshold, its odd form.

    The smoothed ReLU (Allen-Zhu & Li 2020, PAPERS.md §2) with width ``ϱ`` is 0 for ``h ≤ 0``,
    ``h²/(2ϱ)`` on ``(0, ϱ]`` and ``h − ϱ/2`` above: continuously differentiable, linear for large ``h``.
    With a ``threshold`` ``t ≥ 0`` (broadcast against ``h``) it returns the *symmetric* unit of the
    feature-purification network, ``φ_t(h) = σ(h − t) − σ(−h − t)``: odd in ``h`` and zero on ``|h| ≤ t``
    (for ReLU, soft thresholding).
    """
    if threshold is not None:
        if kind == "relu":
            # h − clamp(h, −t, t) equals relu(h − t) − relu(−h − t) bitwise, in one pass instead of five.
            return h - torch.clamp(h, min=-threshold, max=threshold)
        return _sigma(h - threshold, kind, width) - _sigma(-h - threshold, kind, width)
    return _sigma(h, kind, width)


def _sigma(h: Tensor, kind: str, width: float) -> Tensor:
    if kind == "relu":
        return torch.relu(h)
    r = torch.clamp(h, min=0.0)
    return torch.where(r <= width, r * r / (2 * width), r - width / 2)


def activation_grad(
    h: Tensor, kind: str, width: float = 1.0, threshold: Tensor | None = None
) -> Tensor:
    """``σ'(h)`` for :func:`activation` (``σ'(0) = 0`` for ReLU, as autograd uses); with a threshold,
    ``φ_t'(h) = σ'(h − t) + σ'(−h − t)``."""
    if threshold is not None:
        if kind == "relu":  # σ'(h − t) + σ'(−h − t) is the indicator of |h| > t (0 at the kinks)
            # as sign(relu(|h| − t)): float passes only (a comparison's bool tensor is slower here)
            return torch.sub(h.abs(), threshold).clamp_(min=0.0).sign_()
        return _sigma_grad(h - threshold, kind, width).add_(
            _sigma_grad(-h - threshold, kind, width)
        )
    return _sigma_grad(h, kind, width)


def _sigma_grad(h: Tensor, kind: str, width: float) -> Tensor:
    if kind == "relu":
        return torch.sign(h).clamp_(min=0.0)  # 4x faster than (h > 0).to(dtype) on this CPU
    return torch.clamp(h, min=0.0, max=width) / width


@dataclass(eq=False)
class TwoLayerEnsemble:
    """``M`` two-layer networks of width ``m`` on ``R^d``, stored as stacked tensors.

    Attributes:
        W: first-layer weights ``(M, m, d)``.
        b: first-layer biases ``(M, m)``.
        a: second-layer weights ``(M, m)``.
        trainable: which of ``'W'``, ``'b'``, ``'a'`` are trained.
        act: ``'relu'`` or ``'smooth_relu'``.
        act_width: the smoothing width ``ϱ`` of ``'smooth_relu'``.
        threshold: ``None`` for the ordinary network; a non-negative ``(M, m)`` tensor for the
            *symmetric* network of feature purification (Allen-Zhu & Li 2020, PAPERS.md §2),
            ``f(x) = Σ_j a_j [σ(w_j·x + b_j − t_j) − σ(−w_j·x − b_j − t_j)]``: with ``b = 0`` and
            ``a = 1`` (see :func:`symmetric_ensemble`) it is odd, ``f(−x) = −f(x)``. Every closed form
            below holds with ``σ`` replaced by the odd unit ``φ_t`` of :func:`activation`; the threshold
            is not trained (a schedule may move it, :class:`ThresholdRule`).
    """

    W: Tensor
    b: Tensor
    a: Tensor
    trainable: tuple[str, ...] = PARAM_NAMES
    act: str = "relu"
    act_width: float = 1.0
    threshold: Tensor | None = None

    def __post_init__(self) -> None:
        check_tensor("W", self.W, shapes=[("M", "m", "d")], finite=False)
        M, m, _ = self.W.shape
        check_tensor("b", self.b, shapes=[(M, m)], like=self.W, finite=False)
        check_tensor("a", self.a, shapes=[(M, m)], like=self.W, finite=False)
        object.__setattr__(self, "trainable", _names("trainable", self.trainable, PARAM_NAMES))
        check_choice("activation", self.act, ACTIVATIONS)
        check_float("act_width", self.act_width, 0.0, lo_open=True, dtype=self.W.dtype)
        if self.threshold is not None:
            check_tensor("threshold", self.threshold, shapes=[(M, m)], like=self.W, finite=False)
        self.check_params()

    def check_params(self) -> None:
        """Raise unless ``W``, ``b``, ``a`` (and the threshold) share one real floating dtype and one
        device and hold finite values (a threshold ``>= 0``). Public methods call it on entry (not
        inside :func:`sims.validate.assume_valid`), since the tensors may be changed in place."""
        W = self.W
        for name, t in (("b", self.b), ("a", self.a), ("threshold", self.threshold)):
            if t is not None and (t.dtype != W.dtype or t.device != W.device):
                fail(
                    name,
                    f"of W's dtype and device ({_dt(W.dtype)} on {W.device}); convert all "
                    "parameters with .to()",
                    t,
                )
        for name, t in self.params().items():
            check_finite(name, t)
        thr = self.threshold
        if thr is not None and (not all_finite(thr) or bool((thr < 0).any())):
            fail("threshold", "finite values >= 0", self.threshold, verb="hold")

    def _sig(self, h: Tensor, i0: int, i1: int, *, layout: str = "nm") -> Tensor:
        """``σ`` (or ``φ_t``) of pre-activations of members ``i0:i1``, laid out ``(nb, n, m)``
        (``layout="nm"``) or ``(nb, m, n)`` (``"mn"``)."""
        return activation(h, self.act, self.act_width, self._thr(i0, i1, layout))

    def _dsig(self, h: Tensor, i0: int, i1: int, *, layout: str = "nm") -> Tensor:
        """``σ'`` (or ``φ_t'``), laid out as in :meth:`_sig`."""
        return activation_grad(h, self.act, self.act_width, self._thr(i0, i1, layout))

    def _thr(self, i0: int, i1: int, layout: str) -> Tensor | None:
        if self.threshold is None:
            return None
        t = self.threshold[i0:i1].to(self.dtype)
        return t[:, :, None] if layout == "mn" else t[:, None, :]

    # ----------------------------------------------------------------- shape helpers
    @property
    def M(self) -> int:
        """Ensemble size."""
        return int(self.W.shape[0])

    @property
    def m(self) -> int:
        """Width (hidden neurons per member)."""
        return int(self.W.shape[1])

    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.W.shape[2])

    @property
    def dtype(self) -> torch.dtype:
        """Parameter dtype."""
        return self.W.dtype

    @property
    def device(self) -> torch.device:
        """Parameter device."""
        return self.W.device

    def params(self) -> dict[str, Tensor]:
        """The parameters by name (the tensors themselves, not copies)."""
        return {"W": self.W, "b": self.b, "a": self.a}

    def clone(self) -> TwoLayerEnsemble:
        """A deep copy (fresh tensors, no autograd history)."""
        return replace(
            self,
            W=self.W.detach().clone(),
            b=self.b.detach().clone(),
            a=self.a.detach().clone(),
            threshold=None if self.threshold is None else self.threshold.detach().clone(),
        )

    def select(self, idx: Sequence[int] | Tensor | slice) -> TwoLayerEnsemble:
        """The sub-ensemble of the given members (copies)."""
        ix = _member_index(idx, self.M, self.device)
        thr = None if self.threshold is None else self.threshold[ix].clone()
        return replace(
            self, W=self.W[ix].clone(), b=self.b[ix].clone(), a=self.a[ix].clone(), threshold=thr
        )

    def to(
        self, device: str | torch.device | None = None, dtype: torch.dtype | None = None
    ) -> TwoLayerEnsemble:
        """A copy on another device and/or dtype."""
        if device is not None:
            check_device("device", device)
        if dtype is not None:
            check_dtype("dtype", dtype)
            for name, t in self.params().items():
                check_fits(name, float(t.abs().max()) if t.numel() else 0.0, dtype)
        return replace(
            self,
            W=self.W.to(device=device, dtype=dtype),
            b=self.b.to(device=device, dtype=dtype),
            a=self.a.to(device=device, dtype=dtype),
            threshold=None
            if self.threshold is None
            else self.threshold.to(device=device, dtype=dtype),
        )

    # ----------------------------------------------------------------- evaluation
    def _inputs(self, X: Tensor) -> Tensor:
        """``X`` cast to the parameters' dtype, after the entry checks (skipped inside
        :func:`sims.validate.assume_valid`): a finite real floating tensor ``(n, d)`` or ``(M, n, d)``
        with ``n >= 1`` on the ensemble's device, and valid parameters."""
        if checks_enabled():
            check_inputs("X", X, self.M, self.d, self.W)
            self.check_params()
        return X.to(self.dtype)

    def preact(self, X: Tensor) -> Tensor:
        """Pre-activations ``h = W x + b``: ``(M, n, m)`` for ``X`` of shape ``(n, d)`` or ``(M, n, d)``."""
        X = self._inputs(X)
        if X.ndim == 2:
            return torch.matmul(X, self.W.transpose(1, 2)) + self.b[:, None, :]
        return torch.baddbmm(self.b[:, None, :], X, self.W.transpose(1, 2))

    def _preact_block(self, X: Tensor, i0: int, i1: int) -> Tensor:
        """Pre-activations of members ``i0:i1`` as ``(nb, n, m)`` (a strided view for shared X)."""
        nb, m, d = i1 - i0, self.m, self.d
        if X.ndim == 2:
            H = torch.addmm(self.b[i0:i1].reshape(-1), X, self.W[i0:i1].reshape(nb * m, d).T)
            return H.view(X.shape[0], nb, m).transpose(0, 1)
        return torch.baddbmm(self.b[i0:i1, None, :], X[i0:i1], self.W[i0:i1].transpose(1, 2))

    def _block_starts(self, n: int) -> range:
        return range(0, self.M, self.block_members(n))

    def forward(self, X: Tensor) -> Tensor:
        """Outputs ``f(x)`` of every member at every point: ``(M, n)`` (computed in member blocks)."""
        X = self._inputs(X)
        n = int(X.shape[-2])
        out = torch.empty(self.M, n, dtype=self.dtype, device=self.device)
        step = self.block_members(n)
        for i0 in self._block_starts(n):
            i1 = min(self.M, i0 + step)
            s = self._sig(self._preact_block(X, i0, i1), i0, i1)
            out[i0:i1] = (s * self.a[i0:i1, None, :]).sum(-1)
        return out

    def output(self, h: Tensor) -> Tensor:
        """Outputs from pre-activations ``h (M, n, m)``: ``(M, n)``."""
        if checks_enabled():
            check_tensor("h", h, shapes=[(self.M, "n", self.m)], like=self.W)
            self.check_params()
        s = self._sig(h, 0, self.M)
        return torch.bmm(s, self.a[:, :, None])[..., 0]

    __call__ = forward

    def input_grad(self, X: Tensor) -> Tensor:
        """Closed-form input gradients ``∇_x f(x) = Σ_j a_j σ'(h_j) w_j``: ``(M, n, d)``."""
        return self._value_and_grad(X, need_value=False)[1]

    def value_and_grad(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """``(f(x), ∇_x f(x))`` with one shared pre-activation pass per member block:
        ``(M, n)``, ``(M, n, d)``."""
        f, G = self._value_and_grad(X, need_value=True)
        assert f is not None
        return f, G

    def _value_and_grad(self, X: Tensor, *, need_value: bool) -> tuple[Tensor | None, Tensor]:
        X = self._inputs(X)
        n = int(X.shape[-2])
        f = torch.empty(self.M, n, dtype=self.dtype, device=self.device) if need_value else None
        G = torch.empty(self.M, n, self.d, dtype=self.dtype, device=self.device)
        step = self.block_members(n)
        for i0 in self._block_starts(n):
            i1 = min(self.M, i0 + step)
            h = self._preact_block(X, i0, i1)
            ab = self.a[i0:i1, None, :]
            if f is not None:
                f[i0:i1] = (self._sig(h, i0, i1) * ab).sum(-1)
            ds = self._dsig(h, i0, i1).mul_(ab)
            torch.bmm(ds, self.W[i0:i1], out=G[i0:i1])
        return f, G

    def around(self, X: Tensor) -> Around:
        """The ensemble at ``X + δ`` for any ``δ``, from one pre-activation pass at ``X`` (see
        :class:`Around`): what attacks use, so each of their steps costs two matrix products."""
        return Around(self, X)

    def active_weight(self, X: Tensor) -> Tensor:
        """``ρ(x) = Σ_j a_j² σ'(h_j(x))`` — for ReLU the sum of ``a_j²`` over active neurons: ``(M, n)``."""
        ds = self._dsig(self.preact(X), 0, self.M)
        return torch.bmm(ds, (self.a * self.a)[:, :, None])[..., 0]

    def param_grads(self, X: Tensor, g: Tensor, h: Tensor | None = None) -> dict[str, Tensor]:
        """Closed-form gradients of ``Σ_i g_i f(x_i)`` w.r.t. ``W``, ``b``, ``a`` (see module docstring).

        Args:
            X: inputs ``(n, d)`` or ``(M, n, d)``.
            g: per-member, per-point output weights ``(M, n)`` — for a loss, ``∂ℓ/∂f`` divided by n.
            h: the pre-activations at ``X`` if already computed (saves one matrix product).

        Returns:
            Gradients for the *trainable* parameters only, shaped like the parameters.
        """
        X = self._inputs(X)
        if checks_enabled():
            n = X.shape[-2]
            check_tensor("g", g, shapes=[(self.M, n)], like=self.W)
            if h is not None:
                check_tensor("h", h, shapes=[(self.M, n, self.m)], like=self.W)
        g = g.to(self.dtype)
        if h is None:
            h = self.preact(X)
        out: dict[str, Tensor] = {}
        if "a" in self.trainable:
            s = self._sig(h, 0, self.M)
            out["a"] = torch.bmm(g[:, None, :], s)[:, 0, :]
        if "W" in self.trainable or "b" in self.trainable:
            G = self._dsig(h, 0, self.M) * (g[:, :, None] * self.a[:, None, :])
            if "W" in self.trainable:
                if X.ndim == 2:
                    out["W"] = torch.matmul(G.transpose(1, 2), X)
                else:
                    out["W"] = torch.bmm(G.transpose(1, 2), X)
            if "b" in self.trainable:
                out["b"] = G.sum(dim=1)
        return out

    def block_members(self, n: int, block_bytes: int | None = None) -> int:
        """Members per block so that one block's ``n × block·m`` activations take ``block_bytes``.

        Small blocks keep the temporaries in cache and out of fresh page-faulting allocations; the
        default (:data:`BLOCK_BYTES`, 8 MiB) was chosen with ``python -m benchmarks`` on a 2-core
        machine: at the large shape (n = 1000, m = 256) blocks of 4–8 members ran at 79–80% of the
        matmul peak, 1 member at 67%, all 64 at 51%.
        """
        per_member = max(1, n * self.m * self.W.element_size())
        budget = BLOCK_BYTES if block_bytes is None else block_bytes
        return max(1, min(self.M, budget // per_member))

    def loss_grads(
        self,
        X: Tensor,
        y: Tensor,
        loss: str,
        *,
        block: int | None = None,
        h: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Outputs and closed-form gradients of the mean loss ``(1/n) Σ_i ℓ(f(x_i), y_i)`` per member.

        For inputs shared by all members (``X (n, d)``) the members are processed in blocks, laid out
        members first: one GEMM ``W_block Xᵀ`` gives every pre-activation of a block as ``(nb·m, n)``,
        the sums over neurons (outputs) and over points (``∂/∂a``, ``∂/∂b``) then run along contiguous
        memory, and one GEMM ``G_block X`` gives every first-layer gradient — the same numbers as
        :meth:`param_grads`, whatever the block size (tested). For ReLU, ``σ`` is applied in place and
        ``σ'(h) = sign(σ(h))``, saving a pass over the block. Measured with ``python -m benchmarks``:
        2.1× faster than the points-first layout at the small shape, 1.3× at the large one. Per-member
        inputs (an attack's points) go through member blocks too, points first.

        Args:
            X: inputs ``(n, d)`` or per-member ``(M, n, d)``.
            y: labels ``(n,)`` (or ``(M, n)`` with per-member inputs).
            loss: a loss name of :mod:`sims.losses`.
            block: members per block (default: :meth:`block_members`).
            h: the pre-activations at per-member ``X (M, n, d)`` if already computed (an attack's last
                forward pass, :attr:`sims.attacks.AttackResult.preact`): saves one matrix product.

        Returns:
            ``f (M, n)`` and the gradients of the trainable parameters.
        """
        from sims.losses import loss_derivative

        X = self._inputs(X)
        n = int(X.shape[-2])
        if checks_enabled():
            check_loss_inputs(y, loss, n, self.W, self.M if X.ndim == 3 else None)
            if block is not None:
                check_int("block", block, 1)
            if h is not None:
                if X.ndim != 3:
                    fail("h", "None for inputs shared by all members (X of shape (n, d))", h)
                check_tensor("h", h, shapes=[(self.M, n, self.m)], like=self.W)
        y = y.to(self.dtype)
        nb_max = self.block_members(n) if block is None else check_int("block", block, 1)
        if X.ndim == 3:
            return self._member_loss_grads(X, y, loss, h, nb_max)
        M, m, d = self.M, self.m, self.d
        f = torch.empty(M, n, dtype=self.dtype, device=self.device)
        grads = {k: torch.empty_like(p) for k, p in self.params().items() if k in self.trainable}
        need_g = "W" in grads or "b" in grads
        plain_relu = self.act == "relu" and self.threshold is None
        yv = y.to(self.dtype)[None, :]
        Xt = X.T
        for i0 in range(0, M, nb_max):
            i1 = min(M, i0 + nb_max)
            nb = i1 - i0
            # members first: H (nb·m, n) = W_block X^T + b, so that the reductions over neurons and
            # points and the gradient GEMM G X all run over contiguous memory
            H = torch.addmm(self.b[i0:i1].reshape(-1, 1), self.W[i0:i1].reshape(nb * m, d), Xt)
            H3 = H.view(nb, m, n)
            if plain_relu:  # σ(h) in place; σ'(h) = sign(σ(h)) (0 at h = 0, as autograd)
                S3 = H3.clamp_(min=0.0)
                D3 = torch.sign(S3) if need_g else None
            else:
                S3 = self._sig(H3, i0, i1, layout="mn")
                D3 = self._dsig(H3, i0, i1, layout="mn") if need_g else None
            ab = self.a[i0:i1, :, None]
            fb = (S3 * ab).sum(1)
            f[i0:i1] = fb
            gb = (loss_derivative(loss, fb, yv) / n)[:, None, :]
            if "a" in grads:
                torch.sum(S3 * gb, dim=2, out=grads["a"][i0:i1])
            if D3 is not None:
                G3 = D3.mul_(ab).mul_(gb)
                if "W" in grads:
                    torch.mm(G3.view(nb * m, n), X, out=grads["W"][i0:i1].view(nb * m, d))
                if "b" in grads:
                    torch.sum(G3, dim=2, out=grads["b"][i0:i1])
        return f, grads

    def _member_loss_grads(
        self, X: Tensor, y: Tensor, loss: str, h: Tensor | None, nb_max: int
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """:meth:`loss_grads` for per-member inputs ``X (M, n, d)``, ``nb_max`` members at a time: the
        output, the loss derivative and the three gradients of one block before the next, so the
        block's ``(nb, n, m)`` temporaries stay within the block budget instead of spanning every
        member — the numbers of :meth:`output` and :meth:`param_grads`, block by block. ``h`` (e.g.
        an attack's pre-activations) is read, never written."""
        from sims.losses import loss_derivative

        n = int(X.shape[-2])
        f = torch.empty(self.M, n, dtype=self.dtype, device=self.device)
        grads = {k: torch.empty_like(p) for k, p in self.params().items() if k in self.trainable}
        for i0 in range(0, self.M, nb_max):
            i1 = min(self.M, i0 + nb_max)
            Xb, ab = X[i0:i1], self.a[i0:i1]
            hb = self._preact_block(X, i0, i1) if h is None else h[i0:i1]
            s = self._sig(hb, i0, i1)
            fb = torch.bmm(s, ab[:, :, None])[..., 0]
            f[i0:i1] = fb
            g = loss_derivative(loss, fb, y if y.ndim == 1 else y[i0:i1]) / n
            if "a" in grads:
                grads["a"][i0:i1] = torch.bmm(g[:, None, :], s)[:, 0, :]
            if "W" in grads or "b" in grads:
                G = self._dsig(hb, i0, i1).mul_(g[:, :, None] * ab[:, None, :])
                if "W" in grads:
                    torch.bmm(G.transpose(1, 2), Xb, out=grads["W"][i0:i1])
                if "b" in grads:
                    torch.sum(G, dim=1, out=grads["b"][i0:i1])
        return f, grads

    # ----------------------------------------------------------------- export
    def member(self, i: int) -> TwoLayerNet:
        """Member ``i`` as an ordinary ``torch.nn.Module`` (a copy), for outside attack libraries."""
        i = check_int("member index", i, 0, self.M - 1)
        thr = None if self.threshold is None else self.threshold[i]
        return TwoLayerNet(
            self.W[i], self.b[i], self.a[i], act=self.act, act_width=self.act_width, threshold=thr
        )


class Around:
    """A :class:`TwoLayerEnsemble` evaluated at ``X + δ`` for a fixed ``X`` and any perturbation ``δ``.

    The first layer is linear, so ``h(x + δ) = (Wx + b) + Wδ``: the pre-activations at the clean points,
    ``h₀ = Wx + b``, are computed once (one GEMM over every member for inputs shared by all members) and
    every evaluation at a perturbed point costs one batched product ``δ Wᵀ`` added onto them. A step of
    an attack is then exactly two matrix products, ``h = h₀ + δWᵀ`` and the input gradient
    ``∇_x f = σ'(h) (a ⊙ W)`` (the gradient law, PAPERS.md §1, with the rows ``a_j w_j`` formed once),
    with the activation, its derivative and the output computed in place on ``h``.

    Where the inputs are narrower than the layer (``d + 1 < m``) the perturbed points ``[x + δ, 1]`` go
    through one product with ``[W, b]`` instead; the clean points are then ``[x, 1]`` (``δ = None``),
    and ``h₀`` is formed only if :attr:`h0` is read.

    The numbers equal those of :meth:`TwoLayerEnsemble.value_and_grad` at ``X + δ`` up to the dtype's
    rounding (the sum is grouped differently), not bit for bit (``tests/test_attack_golden.py``).

    Args:
        ens: the ensemble (its parameters are read, never changed; what a step needs of them is formed
            at construction, so change neither them nor ``X`` while the object is in use).
        X: the clean points, ``(n, d)`` shared by all members or ``(M, n, d)``.
        z: optional ``(M, n, d + 1)`` buffer for the points ``[x + δ, 1]`` where ``d + 1 < m`` (an
            attack over member blocks passes one buffer to every block); allocated if not given.
    """

    def __init__(self, ens: TwoLayerEnsemble, X: Tensor, *, z: Tensor | None = None) -> None:
        check_instance("ens", ens, TwoLayerEnsemble, "a TwoLayerEnsemble")
        X = ens._inputs(X)
        self.ens = ens
        self.n = int(X.shape[-2])
        M, d = ens.M, ens.d
        self.X = X
        self._h0: Tensor | None = None
        self._augmented = Around.augments(ens)
        if self._augmented:
            self._Wb = torch.cat([ens.W, ens.b[:, :, None]], dim=2).transpose(1, 2)  # (M, d+1, m)
            if z is None:
                z = torch.empty(M, self.n, d + 1, dtype=ens.dtype, device=ens.device)
            else:
                self._check_buffer("z", z, d + 1)
            z[..., d] = 1.0
            self._z = z
            self._zx = z[..., :d]  # where x + δ goes
        else:
            self._h0 = self._form_h0()
        self._plain = ens.act == "relu" and ens.threshold is None
        # the symmetric network of feature purification with ReLU: φ_t(h) = h − clamp(h, −t, t)
        self._t = None
        if ens.act == "relu" and ens.threshold is not None:
            self._t = ens.threshold[:, None, :].to(ens.dtype)  # (M, 1, m)
        self._a = ens.a[:, :, None]  # (M, m, 1): the output as a matrix-vector product
        # rows a_j w_j: ∇_x f = σ'(h) (a ⊙ W) saves a pass over the (M, n, m) activations per step
        self._aW = ens.W * self._a

    @staticmethod
    def augments(ens: TwoLayerEnsemble) -> bool:
        """Whether the ensemble's perturbed points go through ``[W, b]`` as ``[x + δ, 1]`` (``d + 1 < m``:
        a pass over the ``(n, d + 1)`` points is cheaper than one over ``h₀``)."""
        return ens.d + 1 < ens.m

    @property
    def h0(self) -> Tensor:
        """The pre-activations at the clean points, ``Wx + b``: ``(M, n, m)`` (where ``d + 1 < m``
        formed when first read). Do not modify it: every step where ``d + 1 >= m`` starts from it."""
        if self._h0 is None:
            self._h0 = self._form_h0()
        return self._h0

    def _form_h0(self) -> Tensor:
        e, X = self.ens, self.X
        if X.ndim == 2:  # one GEMM (n, d) x (d, M·m) for every member at once
            H = torch.addmm(e.b.reshape(-1), X, e.W.reshape(e.M * e.m, e.d).T)
            return H.view(self.n, e.M, e.m).transpose(0, 1).contiguous()
        return torch.baddbmm(e.b[:, None, :], X, e.W.transpose(1, 2))

    def _check(self, delta: Tensor) -> None:
        if checks_enabled():
            e = self.ens
            check_tensor("delta", delta, shapes=[(e.M, self.n, e.d)], like=e.W)

    def _check_buffer(self, name: str, buf: Tensor | None, width: int) -> None:
        """A buffer to write into: ``(M, n, width)``, dense, of the parameters' dtype and device (its
        contents are overwritten, so they need not be finite)."""
        if buf is None or not checks_enabled():
            return
        e = self.ens
        check_tensor(name, buf, shapes=[(e.M, self.n, width)], like=e.W, finite=False)
        if buf.dtype != e.dtype or not buf.is_contiguous():
            fail(name, f"a dense (contiguous) tensor of dtype {e.dtype}", buf)

    def preact(self, delta: Tensor | None, out: Tensor | None = None) -> Tensor:
        """``h(x + δ) = h₀ + δ Wᵀ`` for ``δ (M, n, d)`` (or ``[x + δ, 1] [W, b]ᵀ`` where ``d + 1 < m``):
        ``(M, n, m)`` (into ``out`` if given); ``δ = None`` is the clean points."""
        self._check_buffer("out", out, self.ens.m)
        if delta is not None:
            self._check(delta)
        if self._augmented:
            z = self._z
            if delta is None:
                self._zx.copy_(self.X)
            else:
                torch.add(self.X, delta, out=self._zx)
            return torch.bmm(z, self._Wb) if out is None else torch.bmm(z, self._Wb, out=out)
        if delta is None:  # a copy: h₀ itself must stay as it is
            return self.h0.clone() if out is None else out.copy_(self.h0)
        if out is None:
            return torch.baddbmm(self.h0, delta, self.ens.W.transpose(1, 2))
        return torch.baddbmm(self.h0, delta, self.ens.W.transpose(1, 2), out=out)

    def clean_value(self, work: Tensor | None = None) -> Tensor:
        """``f(x)`` at the clean points, ``(M, n)``; ``work`` (``(M, n, m)``, overwritten) spares an
        allocation for the activations."""
        return self.output_at(None, work=work)

    def output(self, h: Tensor, *, inplace: bool = False) -> Tensor:
        """``f = Σ_j a_j σ(h_j)`` from pre-activations ``h (M, n, m)``: ``(M, n)``. ``h`` is kept unless
        ``inplace`` (then a plain ReLU is applied on it, sparing a buffer)."""
        e = self.ens
        if inplace and self._plain:
            return torch.bmm(h.clamp_(min=0.0), self._a)[..., 0]
        return torch.bmm(e._sig(h, 0, e.M), self._a)[..., 0]

    def value(self, delta: Tensor) -> tuple[Tensor, Tensor]:
        """``(f(x + δ), h(x + δ))``: ``(M, n)`` and the pre-activations ``(M, n, m)``."""
        h = self.preact(delta)
        return self.output(h), h

    def output_at(self, delta: Tensor | None, *, work: Tensor | None = None) -> Tensor:
        """``f(x + δ)`` alone, ``(M, n)`` (``δ = None``: the clean points), its pre-activations formed in
        ``work`` (``(M, n, m)``, overwritten) if given."""
        if delta is None and work is None and not self._augmented:  # h₀ itself must stay as it is
            return self.output(self.h0)
        return self.output(self.preact(delta, work), inplace=True)

    def value_and_grad(
        self,
        delta: Tensor,
        *,
        need_value: bool = True,
        out: Tensor | None = None,
        work: Tensor | None = None,
    ) -> tuple[Tensor | None, Tensor]:
        """``(f(x + δ), ∇_x f(x + δ))``: ``(M, n)`` (``None`` unless ``need_value``) and ``(M, n, d)``.

        ``out`` receives the gradient and ``work`` (``(M, n, m)``) the pre-activations, which are
        overwritten by ``a ⊙ σ'(h)``: an attack passes the same two buffers at every step.
        """
        e = self.ens
        H = self.preact(delta, work)
        f = None
        # σ'(h) as the indicator written over h in place (one pass, ``gt_``): 1 where h > 0 — or |h| > t —
        # else 0 (0 at the kink, as autograd)
        if self._plain:
            if need_value:  # σ(h) = relu(h) in place; relu(h) > 0 exactly where h > 0
                f = torch.bmm(H.clamp_(min=0.0), self._a)[..., 0]
            D = H.gt_(0.0)
        elif self._t is not None:  # φ_t(h) = h − clamp(h, −t, t); φ_t'(h) = 1 where |h| > t
            t = self._t
            if need_value:
                C = torch.clamp(H, min=-t, max=t)
                f = torch.bmm(torch.sub(H, C, out=C), self._a)[..., 0]
            D = H.abs_().gt_(t)
        else:
            if need_value:
                f = torch.bmm(e._sig(H, 0, e.M), self._a)[..., 0]
            D = e._dsig(H, 0, e.M)
        if out is None:
            return f, torch.bmm(D, self._aW)
        return f, torch.bmm(D, self._aW, out=out)


class TwoLayerNet(nn.Module):
    """One two-layer network as an ``nn.Module``: ``forward(x) -> f(x)``, shape ``(n,)``."""

    def __init__(
        self,
        W: Tensor,
        b: Tensor,
        a: Tensor,
        *,
        act: str = "relu",
        act_width: float = 1.0,
        threshold: Tensor | None = None,
    ) -> None:
        check_tensor("W", W, shapes=[("m", "d")])
        m = int(W.shape[0])
        check_tensor("b", b, shapes=[(m,)], like=W)
        check_tensor("a", a, shapes=[(m,)], like=W)
        check_choice("activation", act, ACTIVATIONS)
        check_float("act_width", act_width, 0.0, lo_open=True)
        if threshold is not None:
            check_tensor("threshold", threshold, shapes=[(m,)], like=W)
        super().__init__()
        self.hidden = nn.Linear(W.shape[1], W.shape[0], dtype=W.dtype, device=W.device)
        self.out = nn.Linear(W.shape[0], 1, bias=False, dtype=W.dtype, device=W.device)
        with torch.no_grad():
            self.hidden.weight.copy_(W)
            self.hidden.bias.copy_(b)
            self.out.weight.copy_(a[None, :])
        self.act = act
        self.act_width = act_width
        self.threshold: Tensor | None
        self.register_buffer("threshold", None if threshold is None else threshold.clone())

    def forward(self, x: Tensor) -> Tensor:
        """``f(x)`` for ``x`` of shape ``(n, d)``: ``(n,)``."""
        h = activation(self.hidden(x), self.act, self.act_width, self.threshold)
        return torch.as_tensor(self.out(h)[..., 0])


def _per_member(name: str, value: float | Sequence[float], M: int) -> np.ndarray:
    if isinstance(value, bool | str):
        fail(name, "a number > 0 or one per member", value)
    try:
        arr = np.asarray(value).reshape(-1)
    except (TypeError, ValueError):
        fail(name, "a number > 0 or one per member", value)
    if arr.dtype.kind not in "iuf":
        fail(name, "a number > 0 or one per member (real, not complex or text)", value)
    arr = arr.astype(np.float64)
    if arr.size == 1:
        arr = np.full(M, float(arr[0]))
    if arr.size != M:
        raise AdvsimError(
            f"{name} must be a scalar or have one value per member (M={M}); got {arr.size} values"
        )
    for v in arr:
        check_float(name, float(v), 0.0, lo_open=True)
    return arr


def init_ensemble(
    d: int,
    m: int,
    *,
    seeds: Sequence[int],
    scheme: InitScheme = "paper",
    first_scale: float | Sequence[float] = 1.0,
    second_scale: float | Sequence[float] = 1.0,
    bias: Literal["zero", "normal", "uniform"] = "zero",
    bias_std: float = 0.0,
    trainable: Sequence[str] = PARAM_NAMES,
    act: str = "relu",
    act_width: float = 1.0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> TwoLayerEnsemble:
    """Initialise one network per seed; member ``i`` depends on ``seeds[i]`` alone.

    Schemes (PAPERS.md §1):
        ``'paper'``: the authors' code, ``w_j ~ N(0, I/d)``, ``a_j ~ N(0, 1/m)``; "small init" divides both
            by a factor, i.e. ``first_scale = second_scale = 1/factor``.
        ``'signs'``: ``w_j ~ N(0, I/d)``, ``a_j = ±1/√m`` with independent fair signs (the setting of the
            gradient law ``‖P⊥∇f‖ ≈ √(ℓ⊥/(2d))``), usually with ``'a'`` not trained.

    ``first_scale`` (the init scale β of PAPERS.md §1) multiplies ``W``; ``second_scale`` multiplies ``a``;
    either may be one value per member. Biases are zero, ``N(0, bias_std²)``, or ``U[−bias_std, bias_std]``
    (``bias_std = 1/√d`` is torch's ``nn.Linear`` default). Values are drawn in
    float64 on the CPU from ``torch.Generator().manual_seed(seed)`` and then cast, so the same seed
    gives the same network on every device and in every ensemble.
    """
    d = check_int("d", d, 1)
    m = check_int("m", m, 1)
    seeds = check_seeds("seeds", seeds)
    M = len(seeds)
    check_choice("scheme", scheme, ("paper", "signs"))
    check_choice("bias", bias, ("zero", "normal", "uniform"))
    trainable = _names("trainable", trainable, PARAM_NAMES)
    check_choice("activation", act, ACTIVATIONS)
    check_dtype("dtype", dtype)
    dev = check_device("device", device)
    bias_std = check_float("bias_std", bias_std, 0.0, dtype=dtype)
    beta_w = _per_member("first_scale", first_scale, M)
    beta_a = _per_member("second_scale", second_scale, M)
    # float64 draws (W, a, b) plus the cast copies
    check_memory("M x m x d", (M, m, d), M * m * (d + 2) * (8 + itemsize(dtype)), dev)
    W = np.empty((M, m, d))
    b = np.zeros((M, m))
    a = np.empty((M, m))
    for i, s in enumerate(seeds):
        gen = torch.Generator().manual_seed(check_int("seed", s, 0))
        W[i] = torch.randn(m, d, generator=gen, dtype=torch.float64).numpy() / np.sqrt(d)
        if scheme == "paper":
            a[i] = torch.randn(m, generator=gen, dtype=torch.float64).numpy() / np.sqrt(m)
        else:
            signs = torch.randint(0, 2, (m,), generator=gen).numpy() * 2.0 - 1.0
            a[i] = signs / np.sqrt(m)
        if bias == "normal":
            b[i] = torch.randn(m, generator=gen, dtype=torch.float64).numpy() * bias_std
        elif bias == "uniform":
            u = torch.rand(m, generator=gen, dtype=torch.float64).numpy()
            b[i] = (2 * u - 1) * bias_std
    W *= beta_w[:, None, None]
    a *= beta_a[:, None]
    for name, arr in (("first_scale", W), ("second_scale", a), ("bias_std", b)):
        check_fits(name, np.abs(arr).max(initial=0.0), dtype)

    def t(x: np.ndarray) -> Tensor:
        return torch.as_tensor(x, dtype=dtype, device=dev)

    return TwoLayerEnsemble(
        W=t(W), b=t(b), a=t(a), trainable=tuple(trainable), act=act, act_width=act_width
    )


def symmetric_ensemble(
    d: int,
    m: int,
    *,
    seeds: Sequence[int],
    init_scale: float | Sequence[float] = 1.0,
    threshold: float = 0.0,
    act: str = "relu",
    act_width: float = 1.0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> TwoLayerEnsemble:
    """The feature-purification network (Allen-Zhu & Li 2020, PAPERS.md §2), one per seed.

    ``f(x) = Σ_i [σ(⟨w_i, x⟩ − t_i) − σ(−⟨w_i, x⟩ − t_i)]``: second layer fixed to 1, no bias, only
    ``W`` trained, so ``f(−x) = −f(x)`` exactly. ``w_i ~ N(0, init_scale² I/d)`` from the member's seed
    (the same draws as :func:`init_ensemble`), threshold ``t_i = threshold`` (move it during training
    with :class:`ThresholdRule`).
    """
    check_float(
        "threshold", threshold, 0.0, dtype=dtype if isinstance(dtype, torch.dtype) else None
    )
    seeds = check_seeds("seeds", seeds)
    _per_member("init_scale", init_scale, len(seeds))
    base = init_ensemble(
        d,
        m,
        seeds=seeds,
        first_scale=init_scale,
        act=act,
        act_width=act_width,
        dtype=dtype,
        device=device,
    )
    return replace(
        base,
        b=torch.zeros_like(base.b),
        a=torch.ones_like(base.a),
        trainable=("W",),
        threshold=torch.full_like(base.b, threshold),
    )


@dataclass(frozen=True)
class ThresholdRule:
    """How the threshold ``t_i`` of a symmetric network moves during training (not trained itself).

    The paper schedules its threshold rather than learning it; its exact schedule is only recalled
    (PAPERS.md §2), so three readings are offered:

    * ``'constant'``: ``t_i = value``;
    * ``'relative'``: ``t_i = max(floor, value · ‖w_i‖₂)`` — a neuron fires on inputs whose component
      along its own direction exceeds ``value`` (scale-free; with ``value = c/√k`` a neuron aligned with
      one dictionary atom fires when that atom is in the code with magnitude ``> c/√k``);
    * ``'peak'``: ``t_i = max(floor, value · max_n |⟨w_i, x_n⟩|)`` over the training inputs — a share
      of the neuron's own largest response, i.e. of its signal level as it stands — and, with ``cap``,
      at most ``cap · ‖w_i‖₂`` (the ``'relative'`` threshold it must not exceed; the floor applies
      last). With ``cap = value/√k`` on codes of magnitude ``1/√k`` this is the ``'relative'`` share
      of one atom's signal once a neuron's largest response reaches that atom's ``‖w_i‖/√k`` (a
      neuron on an atom — or, for ``k ≳ √d``, a dense one along the average input), and below it
      before: at a random initialisation ``value`` times the largest of ``n`` Gaussian responses
      (``≈ value·√(2 ln n)·‖w_i‖/√d``), so the threshold starts within reach of the neurons whatever
      ``d/k`` is — a schedule that rises with the neuron's own signal rather than with a step count.

    The rule is applied before every training step (and once more at the end); ``'peak'`` needs the
    training inputs ``X``.
    """

    kind: str = "relative"
    value: float = 0.0
    floor: float = 0.0
    cap: float | None = None

    def __post_init__(self) -> None:
        check_choice("threshold kind", self.kind, ("constant", "relative", "peak"))
        check_float("threshold value", self.value, 0.0)
        check_float("threshold floor", self.floor, 0.0)
        if self.cap is not None:
            if self.kind != "peak":
                fail(
                    "threshold cap",
                    f"None unless the kind is 'peak' (kind is {self.kind!r})",
                    self.cap,
                )
            check_float("threshold cap", self.cap, 0.0)

    def __call__(self, ens: TwoLayerEnsemble, X: Tensor | None = None) -> Tensor:
        """The thresholds ``(M, m)`` for the ensemble's current weights (and, for ``'peak'``, the
        training inputs ``X``: ``(n, d)`` shared or ``(M, n, d)`` per member)."""
        check_instance("ens", ens, TwoLayerEnsemble, "a TwoLayerEnsemble")
        if self.kind == "constant":
            return torch.full_like(ens.W[..., 0], self.value)
        if self.kind == "relative":
            return torch.clamp(self.value * torch.linalg.vector_norm(ens.W, dim=-1), min=self.floor)
        check_tensor("X", X, shapes=[("n", ens.d), (ens.M, "n", ens.d)], like=ens.W)
        assert X is not None
        X = X.to(ens.W.dtype)
        peak = torch.zeros_like(ens.W[..., 0])
        n = X.shape[-2]
        for lo in range(0, n, _PEAK_ROWS):
            chunk = X[..., lo : lo + _PEAK_ROWS, :]
            H = (
                torch.matmul(chunk, ens.W.transpose(-1, -2))
                if chunk.dim() == 3
                else torch.matmul(ens.W, chunk.T).transpose(-1, -2)
            )
            peak = torch.maximum(peak, H.abs_().amax(dim=-2))
        t = self.value * peak
        if self.cap is not None:
            t = torch.minimum(t, self.cap * torch.linalg.vector_norm(ens.W, dim=-1))
        return torch.clamp(t, min=self.floor)


#: Rows of the training inputs per pass of the ``'peak'`` threshold rule (bounds its working set).
_PEAK_ROWS = 4096


class TrainableModel(Protocol):
    """What :func:`sims.training.train` needs: a :class:`ScalarModel` with named parameters and
    closed-form gradients of the mean loss (:class:`TwoLayerEnsemble`, :class:`LinearEnsemble`, and the
    linearised network of :mod:`sims.baselines`)."""

    @property
    def M(self) -> int: ...

    @property
    def d(self) -> int: ...

    @property
    def dtype(self) -> torch.dtype: ...

    @property
    def device(self) -> torch.device: ...

    @property
    def trainable(self) -> tuple[str, ...]: ...

    def params(self) -> dict[str, Tensor]: ...

    def forward(self, X: Tensor) -> Tensor: ...

    def loss_grads(self, X: Tensor, y: Tensor, loss: str) -> tuple[Tensor, dict[str, Tensor]]: ...


@runtime_checkable
class ScalarModel(Protocol):
    """What attacks and measurements need of a model: ``M`` members with scalar outputs on ``R^d``.

    ``forward(X)`` takes ``(n, d)`` or ``(M, n, d)`` inputs and returns ``(M, n)``; ``input_grad(X)``
    returns ``∇_x f`` as ``(M, n, d)``; ``value_and_grad(X)`` returns both. :class:`TwoLayerEnsemble` and :class:`LinearEnsemble` implement it
    in closed form; :class:`AutogradModel` wraps any differentiable function.
    """

    @property
    def M(self) -> int: ...

    @property
    def d(self) -> int: ...

    def forward(self, X: Tensor) -> Tensor: ...

    def input_grad(self, X: Tensor) -> Tensor: ...

    def value_and_grad(self, X: Tensor) -> tuple[Tensor, Tensor]: ...


@dataclass(eq=False)
class LinearEnsemble:
    """``M`` linear models ``f(x) = w·x + c``: ``w (M, d)``, ``c (M,)``.

    The exact minimal perturbation that flips ``f`` in a norm with dual norm ``q`` has size
    ``|f(x)| / ‖w‖_q`` (Hölder; PAPERS.md §5) — the ground truth for the attack conformance suite, and the
    low-complexity baseline of feature purification (PAPERS.md §2).
    """

    w: Tensor
    c: Tensor
    trainable: tuple[str, ...] = ("w", "c")

    def __post_init__(self) -> None:
        check_tensor("w", self.w, shapes=[("M", "d")])
        check_tensor("c", self.c, shapes=[(self.w.shape[0],)], like=self.w, finite=False)
        object.__setattr__(self, "trainable", _names("trainable", self.trainable, ("w", "c")))
        self.check_params()

    def check_params(self) -> None:
        """Raise unless ``w`` and ``c`` share one dtype and device and are finite."""
        if self.c.dtype != self.w.dtype or self.c.device != self.w.device:
            fail("c", f"of w's dtype and device ({_dt(self.w.dtype)} on {self.w.device})", self.c)
        check_finite("w", self.w)
        check_finite("c", self.c)

    @classmethod
    def zeros(
        cls,
        M: int,
        d: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ) -> LinearEnsemble:
        """``M`` zero models (logistic regression's usual start; the loss is convex)."""
        M, d = check_int("M", M, 1), check_int("d", d, 1)
        check_dtype("dtype", dtype)
        dev = check_device("device", device)
        check_memory("M x d", (M, d), M * (d + 1) * itemsize(dtype), dev)
        return cls(
            torch.zeros(M, d, dtype=dtype, device=device),
            torch.zeros(M, dtype=dtype, device=device),
        )

    @property
    def dtype(self) -> torch.dtype:
        """Parameter dtype."""
        return self.w.dtype

    @property
    def device(self) -> torch.device:
        """Parameter device."""
        return self.w.device

    def params(self) -> dict[str, Tensor]:
        """The parameters by name (the tensors themselves)."""
        return {"w": self.w, "c": self.c}

    def loss_grads(self, X: Tensor, y: Tensor, loss: str) -> tuple[Tensor, dict[str, Tensor]]:
        """Outputs and the gradients of the mean loss: ``∂L/∂w = (1/n) Σ_i ℓ'_i x_i``, ``∂L/∂c = (1/n) Σ_i ℓ'_i``."""
        from sims.losses import loss_derivative

        f = self.forward(X)
        if checks_enabled():
            check_loss_inputs(y, loss, int(X.shape[-2]), self.w)
        g = loss_derivative(loss, f, y.to(self.dtype)) / X.shape[-2]
        gw = torch.matmul(g, X.to(self.dtype)) if X.ndim == 2 else torch.bmm(g[:, None, :], X)[:, 0]
        out = {"w": gw, "c": g.sum(-1)}
        return f, {k: v for k, v in out.items() if k in self.trainable}

    @property
    def M(self) -> int:
        """Ensemble size."""
        return int(self.w.shape[0])

    def _inputs(self, X: Tensor) -> Tensor:
        """``X`` cast to the parameters' dtype, after the entry checks of :class:`TwoLayerEnsemble`."""
        if checks_enabled():
            check_inputs("X", X, self.M, self.d, self.w)
            self.check_params()
        return X.to(self.w.dtype)

    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.w.shape[1])

    def forward(self, X: Tensor) -> Tensor:
        """``(M, n)`` outputs."""
        X = self._inputs(X)
        if X.ndim == 2:
            return torch.matmul(X, self.w.T).T + self.c[:, None]
        return torch.bmm(X, self.w[:, :, None])[..., 0] + self.c[:, None]

    __call__ = forward

    def input_grad(self, X: Tensor) -> Tensor:
        """``∇_x f = w`` at every point: ``(M, n, d)``."""
        n = self._inputs(X).shape[-2]
        return self.w[:, None, :].expand(self.M, n, self.d).clone()

    def value_and_grad(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """``(f, ∇_x f)``."""
        return self.forward(X), self.input_grad(X)

    def select(self, idx: Sequence[int] | Tensor | slice) -> LinearEnsemble:
        """The sub-ensemble of the given members (copies)."""
        ix = _member_index(idx, self.M, self.w.device)
        return LinearEnsemble(self.w[ix].clone(), self.c[ix].clone(), self.trainable)

    def flip_radius(self, X: Tensor, q: float) -> Tensor:
        """The exact minimal flip radius ``|f(x)| / ‖w‖_q``: ``(M, n)``."""
        check_float("q", q, 1.0) if q != float("inf") else None
        return torch.div(
            self.forward(X).abs(), torch.linalg.vector_norm(self.w, ord=q, dim=1)[:, None]
        )


class AutogradModel:
    """A :class:`ScalarModel` from any differentiable ``fn: (M, n, d) -> (M, n)`` via autograd.

    ``input_grad`` differentiates only with respect to the input: parameters captured by ``fn`` should
    not require gradients (use :meth:`from_modules`, which turns them off and restores them).
    """

    def __init__(self, fn: Callable[[Tensor], Tensor], M: int, d: int) -> None:
        if not callable(fn):
            fail("fn", "a callable (M, n, d) -> (M, n)", fn)
        self._fn = fn
        self._M = check_int("M", M, 1)
        self._d = check_int("d", d, 1)

    @property
    def M(self) -> int:
        """Ensemble size."""
        return self._M

    @property
    def d(self) -> int:
        """Input dimension."""
        return self._d

    def _expand(self, X: Tensor) -> Tensor:
        if checks_enabled():
            check_inputs("X", X, self._M, self._d, None)
        return X.expand(self._M, *X.shape) if X.ndim == 2 else X

    def _output(self, f: Any, X: Tensor) -> Tensor:
        if checks_enabled():
            want = (self._M, int(X.shape[-2]))
            if not isinstance(f, Tensor) or tuple(f.shape) != want:
                fail("fn's output", f"a tensor of shape {want} (M, n)", f)
        out: Tensor = f
        return out

    def forward(self, X: Tensor) -> Tensor:
        """``(M, n)`` outputs."""
        Xe = self._expand(X)
        with torch.no_grad():
            return self._output(self._fn(Xe), Xe)

    __call__ = forward

    def input_grad(self, X: Tensor) -> Tensor:
        """``∇_x f`` by autograd (``X`` is not modified): ``(M, n, d)``."""
        return self.value_and_grad(X)[1]

    def value_and_grad(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """``(f, ∇_x f)`` from one forward and one backward pass."""
        Xg = self._expand(X).detach().clone().requires_grad_(True)
        with torch.enable_grad():
            f = self._output(self._fn(Xg), Xg)
            (g,) = torch.autograd.grad(f.sum(), Xg)
        return f.detach(), g

    @classmethod
    def from_modules(cls, modules: Sequence[nn.Module], d: int) -> AutogradModel:
        """Wrap ``M`` modules mapping ``(n, d) -> (n,)``; each runs in eval mode with parameter
        gradients off during a call, and its mode and ``requires_grad`` flags are restored after."""
        mods = list(modules)
        if not mods:
            fail("modules", "a non-empty sequence of nn.Module", modules)
        for i, mod in enumerate(mods):
            check_instance(f"modules[{i}]", mod, nn.Module, "a torch.nn.Module")

        def fn(X: Tensor) -> Tensor:
            outs = []
            for i, mod in enumerate(mods):
                was_training = mod.training
                flags = [p.requires_grad for p in mod.parameters()]
                mod.eval()
                for p in mod.parameters():
                    p.requires_grad_(False)
                try:
                    outs.append(mod(X[i]).reshape(-1))
                finally:
                    mod.train(was_training)
                    for p, flag in zip(mod.parameters(), flags, strict=True):
                        p.requires_grad_(flag)
            return torch.stack(outs)

        return cls(fn, len(mods), d)


def weight_arrays(ens: TwoLayerEnsemble, ens0: TwoLayerEnsemble) -> dict[str, np.ndarray]:
    """The record arrays of a trained ensemble: ``W0``, ``W``, ``b0``, ``b``, ``a0``, ``a`` (numpy)."""
    out = {}
    for name, e in (("0", ens0), ("", ens)):
        for k, v in e.params().items():
            out[f"{k}{name}"] = v.detach().cpu().numpy()
    return out
