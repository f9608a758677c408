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
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

from sims.errors import AdvsimError, check_choice, check_float, check_int
from sims.perf import tune_allocator

tune_allocator()

__all__ = [
    "ACTIVATIONS",
    "PARAM_NAMES",
    "AutogradModel",
    "LinearEnsemble",
    "ScalarModel",
    "TwoLayerEnsemble",
    "TwoLayerNet",
    "activation",
    "activation_grad",
    "init_ensemble",
    "weight_arrays",
]

PARAM_NAMES = ("W", "b", "a")
#: Default size of one member block's activations in :meth:`TwoLayerEnsemble.loss_grads`.
BLOCK_BYTES = 4 << 20
ACTIVATIONS = ("relu", "smooth_relu")
InitScheme = Literal["paper", "signs"]


def activation(h: Tensor, kind: str, width: float = 1.0) -> Tensor:
    """``σ(h)``: ReLU, or the smoothed ReLU of feature purification.

    The smoothed ReLU (Allen-Zhu & Li 2020, PAPERS.md §2) with width ``ϱ`` is 0 for ``h ≤ 0``,
    ``h²/(2ϱ)`` on ``(0, ϱ]`` and ``h − ϱ/2`` above: continuously differentiable, linear for large ``h``.
    """
    if kind == "relu":
        return torch.relu(h)
    r = torch.clamp(h, min=0.0)
    return torch.where(r <= width, r * r / (2 * width), r - width / 2)


def activation_grad(h: Tensor, kind: str, width: float = 1.0) -> Tensor:
    """``σ'(h)`` for :func:`activation` (``σ'(0) = 0`` for ReLU, as autograd uses)."""
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
    """

    W: Tensor
    b: Tensor
    a: Tensor
    trainable: tuple[str, ...] = PARAM_NAMES
    act: str = "relu"
    act_width: float = 1.0

    def __post_init__(self) -> None:
        if self.W.ndim != 3:
            raise AdvsimError(f"W must have shape (M, m, d); got {tuple(self.W.shape)}")
        M, m, _ = self.W.shape
        if tuple(self.b.shape) != (M, m) or tuple(self.a.shape) != (M, m):
            raise AdvsimError(
                f"b and a must have shape (M, m) = ({M}, {m}); "
                f"got {tuple(self.b.shape)} and {tuple(self.a.shape)}"
            )
        for name in self.trainable:
            check_choice("trainable entry", name, PARAM_NAMES)
        check_choice("activation", self.act, ACTIVATIONS)

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
            self, W=self.W.detach().clone(), b=self.b.detach().clone(), a=self.a.detach().clone()
        )

    def select(self, idx: Sequence[int] | Tensor | slice) -> TwoLayerEnsemble:
        """The sub-ensemble of the given members (copies)."""
        if isinstance(idx, slice):
            return replace(
                self, W=self.W[idx].clone(), b=self.b[idx].clone(), a=self.a[idx].clone()
            )
        ix = torch.as_tensor(idx, dtype=torch.long, device=self.device)
        return replace(self, W=self.W[ix].clone(), b=self.b[ix].clone(), a=self.a[ix].clone())

    def to(
        self, device: str | torch.device | None = None, dtype: torch.dtype | None = None
    ) -> TwoLayerEnsemble:
        """A copy on another device and/or dtype."""
        return replace(
            self,
            W=self.W.to(device=device, dtype=dtype),
            b=self.b.to(device=device, dtype=dtype),
            a=self.a.to(device=device, dtype=dtype),
        )

    # ----------------------------------------------------------------- evaluation
    def _inputs(self, X: Tensor) -> Tensor:
        if X.device != self.device:
            raise AdvsimError(
                f"X is on device {X.device} but the ensemble on {self.device}; "
                "move one of them (X.to(device) or ensemble.to(device))"
            )
        if X.ndim == 2:
            if X.shape[1] != self.d:
                raise AdvsimError(f"X must have shape (n, d={self.d}); got {tuple(X.shape)}")
        elif X.ndim == 3:
            if X.shape[0] != self.M or X.shape[2] != self.d:
                raise AdvsimError(
                    f"X must have shape (n, d) or (M={self.M}, n, d={self.d}); got {tuple(X.shape)}"
                )
        else:
            raise AdvsimError(f"X must have shape (n, d) or (M, n, d); got {tuple(X.shape)}")
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
            s = activation(self._preact_block(X, i0, i1), self.act, self.act_width)
            out[i0:i1] = (s * self.a[i0:i1, None, :]).sum(-1)
        return out

    def output(self, h: Tensor) -> Tensor:
        """Outputs from pre-activations ``h (M, n, m)``: ``(M, n)``."""
        s = activation(h, self.act, self.act_width)
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
                f[i0:i1] = (activation(h, self.act, self.act_width) * ab).sum(-1)
            ds = activation_grad(h, self.act, self.act_width).mul_(ab)
            torch.bmm(ds, self.W[i0:i1], out=G[i0:i1])
        return f, G

    def active_weight(self, X: Tensor) -> Tensor:
        """``ρ(x) = Σ_j a_j² σ'(h_j(x))`` — for ReLU the sum of ``a_j²`` over active neurons: ``(M, n)``."""
        ds = activation_grad(self.preact(X), self.act, self.act_width)
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
        if h is None:
            h = self.preact(X)
        out: dict[str, Tensor] = {}
        if "a" in self.trainable:
            s = activation(h, self.act, self.act_width)
            out["a"] = torch.bmm(g[:, None, :], s)[:, 0, :]
        if "W" in self.trainable or "b" in self.trainable:
            G = activation_grad(h, self.act, self.act_width) * (g[:, :, None] * self.a[:, None, :])
            if "W" in self.trainable:
                if X.ndim == 2:
                    out["W"] = torch.matmul(G.transpose(1, 2), X)
                else:
                    out["W"] = torch.bmm(G.transpose(1, 2), X)
            if "b" in self.trainable:
                out["b"] = G.sum(dim=1)
        return out

    def block_members(self, n: int, block_bytes: int | None = None) -> int:
        """Members per block so that one block's ``(n, block·m)`` activations take ``block_bytes``.

        Small blocks keep the temporaries in cache and out of fresh page-faulting allocations; the
        default (:data:`BLOCK_BYTES`) was chosen with ``python -m benchmarks`` on a 2-core machine.
        """
        per_member = max(1, n * self.m * self.W.element_size())
        budget = BLOCK_BYTES if block_bytes is None else block_bytes
        return max(1, min(self.M, budget // per_member))

    def loss_grads(
        self, X: Tensor, y: Tensor, loss: str, *, block: int | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Outputs and closed-form gradients of the mean loss ``(1/n) Σ_i ℓ(f(x_i), y_i)`` per member.

        For inputs shared by all members (``X (n, d)``) the members are processed in blocks: one GEMM
        ``X W_blockᵀ`` gives every pre-activation of a block, one GEMM ``G_blockᵀ X`` every first-layer
        gradient — the same numbers as :meth:`param_grads`, whatever the block size (tested).

        Args:
            X: inputs ``(n, d)`` or per-member ``(M, n, d)``.
            y: labels ``(n,)`` (or ``(M, n)`` with per-member inputs).
            loss: a loss name of :mod:`sims.losses`.
            block: members per block (default: :meth:`block_members`).

        Returns:
            ``f (M, n)`` and the gradients of the trainable parameters.
        """
        from sims.losses import loss_derivative

        X = self._inputs(X)
        n = int(X.shape[-2])
        if X.ndim == 3:
            h = self.preact(X)
            f = self.output(h)
            return f, self.param_grads(X, loss_derivative(loss, f, y) / n, h)
        M, m, d = self.M, self.m, self.d
        nb_max = self.block_members(n) if block is None else check_int("block", block, 1)
        f = torch.empty(M, n, dtype=self.dtype, device=self.device)
        grads = {k: torch.empty_like(p) for k, p in self.params().items() if k in self.trainable}
        yv = y.to(self.dtype)[:, None]
        for i0 in range(0, M, nb_max):
            i1 = min(M, i0 + nb_max)
            nb = i1 - i0
            H = torch.addmm(self.b[i0:i1].reshape(-1), X, self.W[i0:i1].reshape(nb * m, d).T)
            H3 = H.view(n, nb, m)
            S3 = activation(H3, self.act, self.act_width)
            ab = self.a[i0:i1]
            fb = (S3 * ab).sum(-1)
            f[i0:i1] = fb.T
            gb = loss_derivative(loss, fb, yv) / n
            if "a" in grads:
                grads["a"][i0:i1] = (S3 * gb[:, :, None]).sum(0)
            if "W" in grads or "b" in grads:
                G3 = activation_grad(H3, self.act, self.act_width) * (gb[:, :, None] * ab)
                if "W" in grads:
                    torch.mm(G3.view(n, nb * m).T, X, out=grads["W"][i0:i1].view(nb * m, d))
                if "b" in grads:
                    grads["b"][i0:i1] = G3.sum(0)
        return f, grads

    # ----------------------------------------------------------------- export
    def member(self, i: int) -> TwoLayerNet:
        """Member ``i`` as an ordinary ``torch.nn.Module`` (a copy), for outside attack libraries."""
        i = check_int("member index", i, 0, self.M - 1)
        return TwoLayerNet(self.W[i], self.b[i], self.a[i], act=self.act, act_width=self.act_width)


class TwoLayerNet(nn.Module):
    """One two-layer network as an ``nn.Module``: ``forward(x) -> f(x)``, shape ``(n,)``."""

    def __init__(
        self, W: Tensor, b: Tensor, a: Tensor, *, act: str = "relu", act_width: float = 1.0
    ) -> None:
        super().__init__()
        self.hidden = nn.Linear(W.shape[1], W.shape[0], dtype=W.dtype, device=W.device)
        self.out = nn.Linear(W.shape[0], 1, bias=False, dtype=W.dtype, device=W.device)
        with torch.no_grad():
            self.hidden.weight.copy_(W)
            self.hidden.bias.copy_(b)
            self.out.weight.copy_(a[None, :])
        self.act = act
        self.act_width = act_width

    def forward(self, x: Tensor) -> Tensor:
        """``f(x)`` for ``x`` of shape ``(n, d)``: ``(n,)``."""
        h = activation(self.hidden(x), self.act, self.act_width)
        return torch.as_tensor(self.out(h)[..., 0])


def _per_member(name: str, value: float | Sequence[float], M: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
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
    if len(seeds) < 1:
        raise AdvsimError("seeds must hold at least one seed (one per member); got none")
    M = len(seeds)
    check_choice("scheme", scheme, ("paper", "signs"))
    check_choice("bias", bias, ("zero", "normal", "uniform"))
    bias_std = check_float("bias_std", bias_std, 0.0)
    beta_w = _per_member("first_scale", first_scale, M)
    beta_a = _per_member("second_scale", second_scale, M)
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

    def t(x: np.ndarray) -> Tensor:
        return torch.as_tensor(x, dtype=dtype, device=device)

    return TwoLayerEnsemble(
        W=t(W), b=t(b), a=t(a), trainable=tuple(trainable), act=act, act_width=act_width
    )


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

    def __post_init__(self) -> None:
        if self.w.ndim != 2 or tuple(self.c.shape) != (self.w.shape[0],):
            raise AdvsimError(
                f"w must be (M, d) and c (M,); got {tuple(self.w.shape)}, {tuple(self.c.shape)}"
            )

    @property
    def M(self) -> int:
        """Ensemble size."""
        return int(self.w.shape[0])

    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.w.shape[1])

    def forward(self, X: Tensor) -> Tensor:
        """``(M, n)`` outputs."""
        X = X.to(self.w.dtype)
        if X.ndim == 2:
            return torch.matmul(X, self.w.T).T + self.c[:, None]
        return torch.bmm(X, self.w[:, :, None])[..., 0] + self.c[:, None]

    __call__ = forward

    def input_grad(self, X: Tensor) -> Tensor:
        """``∇_x f = w`` at every point: ``(M, n, d)``."""
        n = X.shape[-2]
        return self.w[:, None, :].expand(self.M, n, self.d).clone()

    def value_and_grad(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """``(f, ∇_x f)``."""
        return self.forward(X), self.input_grad(X)

    def select(self, idx: Sequence[int] | Tensor | slice) -> LinearEnsemble:
        """The sub-ensemble of the given members (copies)."""
        if isinstance(idx, slice):
            return LinearEnsemble(self.w[idx].clone(), self.c[idx].clone())
        ix = torch.as_tensor(idx, dtype=torch.long, device=self.w.device)
        return LinearEnsemble(self.w[ix].clone(), self.c[ix].clone())

    def flip_radius(self, X: Tensor, q: float) -> Tensor:
        """The exact minimal flip radius ``|f(x)| / ‖w‖_q``: ``(M, n)``."""
        return torch.div(
            self.forward(X).abs(), torch.linalg.vector_norm(self.w, ord=q, dim=1)[:, None]
        )


class AutogradModel:
    """A :class:`ScalarModel` from any differentiable ``fn: (M, n, d) -> (M, n)`` via autograd.

    ``input_grad`` differentiates only with respect to the input: parameters captured by ``fn`` should
    not require gradients (use :meth:`from_modules`, which turns them off and restores them).
    """

    def __init__(self, fn: Callable[[Tensor], Tensor], M: int, d: int) -> None:
        self._fn = fn
        self._M = M
        self._d = d

    @property
    def M(self) -> int:
        """Ensemble size."""
        return self._M

    @property
    def d(self) -> int:
        """Input dimension."""
        return self._d

    def _expand(self, X: Tensor) -> Tensor:
        return X.expand(self._M, *X.shape) if X.ndim == 2 else X

    def forward(self, X: Tensor) -> Tensor:
        """``(M, n)`` outputs."""
        with torch.no_grad():
            return self._fn(self._expand(X))

    __call__ = forward

    def input_grad(self, X: Tensor) -> Tensor:
        """``∇_x f`` by autograd (``X`` is not modified): ``(M, n, d)``."""
        return self.value_and_grad(X)[1]

    def value_and_grad(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """``(f, ∇_x f)`` from one forward and one backward pass."""
        Xg = self._expand(X).detach().clone().requires_grad_(True)
        with torch.enable_grad():
            f = self._fn(Xg)
            (g,) = torch.autograd.grad(f.sum(), Xg)
        return f.detach(), g

    @classmethod
    def from_modules(cls, modules: Sequence[nn.Module], d: int) -> AutogradModel:
        """Wrap ``M`` modules mapping ``(n, d) -> (n,)``; each runs in eval mode with parameter
        gradients off during a call, and its mode and ``requires_grad`` flags are restored after."""
        mods = list(modules)

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
