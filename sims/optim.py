"""Optimizers stated exactly, batched over ensemble members with per-member learning rate and decay.

With gradient ``g`` of the (mean) loss, learning rate ``η``, weight decay ``λ`` and momentum ``μ``, one
step does (torch's conventions, so results match ``torch.optim`` to float precision):

* coupled weight decay (default): ``g ← g + λ θ`` before the update;
  decoupled (``decoupled=True``): ``θ ← (1 − ηλ) θ`` before the update, which then uses the bare ``g``;
* ``sgd``:        ``θ ← θ − η g`` (full-batch GD when the trainer uses the whole data set);
* ``heavy_ball``: ``v ← μ v + g``, ``θ ← θ − η v``;
* ``nesterov``:   ``v ← μ v + g``, ``θ ← θ − η (g + μ v)``;
* ``adam``:       ``m ← β₁m + (1−β₁)g``, ``s ← β₂s + (1−β₂)g²``, ``θ ← θ − η m̂ / (√ŝ + ε)`` with bias
  corrections ``m̂ = m/(1−β₁ᵗ)``, ``ŝ = s/(1−β₂ᵗ)``.

So plain SGD with coupled decay gives ``P⊥W_t = (1 − ηλ)^t P⊥W_0`` on subspace data (PAPERS.md §1,
invariant 2), and the momentum variants a scalar linear recurrence (:mod:`theory.subspace`).
Adam is coordinate-wise, which is why it moves ``P⊥W`` unless ``P`` is axis-aligned (the negative control).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from sims.nets import PARAM_NAMES
from sims.validate import (
    AdvsimError,
    check_bool,
    check_choice,
    check_fits,
    check_float,
    check_floats,
    check_instance,
    fail,
)

__all__ = ["OPTIMIZERS", "Optimizer", "OptimizerConfig"]

OPTIMIZERS = ("sgd", "heavy_ball", "nesterov", "adam")


@dataclass(frozen=True)
class OptimizerConfig:
    """An optimizer and its hyperparameters (``lr`` and ``weight_decay`` may be per member).

    Attributes:
        name: one of :data:`OPTIMIZERS`.
        lr: learning rate ``η`` (> 0), scalar or one per member.
        weight_decay: ``λ`` (>= 0), scalar or one per member.
        momentum: ``μ`` in ``[0, 1)`` for ``heavy_ball`` and ``nesterov``.
        decoupled: decoupled (``θ ← (1−ηλ)θ``) instead of coupled (``g ← g + λθ``) decay.
        decay: which parameters are decayed (the authors' code decays all of them).
        betas: Adam's ``(β₁, β₂)``.
        eps: Adam's ``ε``.
    """

    name: str = "sgd"
    lr: float | tuple[float, ...] = 0.1
    weight_decay: float | tuple[float, ...] = 0.0
    momentum: float = 0.9
    decoupled: bool = False
    decay: tuple[str, ...] = PARAM_NAMES
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def __post_init__(self) -> None:
        check_choice("optimizer", self.name, OPTIMIZERS)
        check_floats("lr", _tuple(self.lr), 0.0, lo_open=True)
        check_floats("weight_decay", _tuple(self.weight_decay), 0.0)
        check_float("momentum", self.momentum, 0.0, 1.0, hi_open=True)
        check_bool("decoupled", self.decoupled)
        if not isinstance(self.betas, tuple | list) or len(self.betas) != 2:
            raise AdvsimError(f"betas must be a pair (beta1, beta2); got {self.betas!r}")
        check_float("betas[0]", self.betas[0], 0.0, 1.0, hi_open=True)
        check_float("betas[1]", self.betas[1], 0.0, 1.0, hi_open=True)
        check_float("eps", self.eps, 0.0, lo_open=True)
        if isinstance(self.decay, str) or not isinstance(self.decay, tuple | list):
            fail("decay", f"a tuple of parameter names from {PARAM_NAMES}", self.decay)
        for p in self.decay:
            check_choice("decay entry", p, PARAM_NAMES)

    def per_member(self, field: str, M: int) -> np.ndarray:
        """``lr`` or ``weight_decay`` as an array of one value per member."""
        arr = np.atleast_1d(np.asarray(getattr(self, field), dtype=np.float64))
        if arr.size == 1:
            return np.full(M, float(arr[0]))
        if arr.size != M:
            raise AdvsimError(f"{field} must be a scalar or have M={M} values; got {arr.size}")
        return arr


def _tuple(value: object) -> object:
    """A per-member list given as a list or array, as a tuple (what :func:`check_floats` takes)."""
    if isinstance(value, list | np.ndarray):
        return tuple(np.asarray(value).reshape(-1).tolist())
    return value


class Optimizer:
    """The state of one :class:`OptimizerConfig` over a set of ensemble parameters.

    ``step`` updates the parameter tensors in place. Members whose ``active`` flag is False are left
    untouched, state included, so a member that met its stop rule stays exactly where it stopped.

    Divergence. With ``check_finite=True`` (default) a step first computes every parameter's update,
    and a member whose new values are not all finite (NaN or ±inf in any parameter or, for Adam, its
    moments) is not updated at all: it keeps its last finite parameters and state, and ``step`` returns
    it in its mask. The test costs one sum per member and parameter per step (a NaN or inf makes the
    sum non-finite; only then are the entries tested one by one); the update of the finite members is
    the same, bit for bit.
    """

    def __init__(
        self, cfg: OptimizerConfig, params: dict[str, Tensor], *, check_finite: bool = True
    ) -> None:
        check_instance("cfg", cfg, OptimizerConfig, "an OptimizerConfig")
        if not isinstance(params, dict) or not params:
            fail("params", "a dict of at least one trainable parameter (W, b or a)", params)
        any_p = next(iter(params.values()))
        for k, p in params.items():
            check_instance(f"params[{k!r}]", p, Tensor, "a tensor")
            if not p.is_floating_point() or p.ndim < 1:
                fail(f"params[{k!r}]", "a real floating tensor (M, ...)", p)
            if p.dtype != any_p.dtype or p.device != any_p.device or p.shape[0] != any_p.shape[0]:
                fail(
                    f"params[{k!r}]", "of one dtype, device and ensemble size M with the others", p
                )
        self.cfg = cfg
        self.check_finite = check_bool("check_finite", check_finite)
        M = int(any_p.shape[0])
        self.M = M
        dt, dev = any_p.dtype, any_p.device
        for name in ("lr", "weight_decay"):
            check_fits(name, cfg.per_member(name, M), dt)
        self.lr = torch.as_tensor(cfg.per_member("lr", M), dtype=dt, device=dev)
        self.wd = torch.as_tensor(cfg.per_member("weight_decay", M), dtype=dt, device=dev)
        self.has_wd = bool(torch.any(self.wd > 0))
        self.t = torch.zeros(M, dtype=dt, device=dev)
        self.state: dict[str, dict[str, Tensor]] = {}
        for k, p in params.items():
            if cfg.name in ("heavy_ball", "nesterov"):
                self.state[k] = {"v": torch.zeros_like(p)}
            elif cfg.name == "adam":
                self.state[k] = {"m": torch.zeros_like(p), "s": torch.zeros_like(p)}
            else:
                self.state[k] = {}

    @staticmethod
    def _bc(x: Tensor, like: Tensor) -> Tensor:
        """Broadcast a per-member ``(M,)`` tensor against a parameter ``(M, ...)``."""
        return x.view((-1,) + (1,) * (like.ndim - 1))

    def step(
        self, params: dict[str, Tensor], grads: dict[str, Tensor], active: Tensor | None = None
    ) -> Tensor | None:
        """One update of every parameter in ``grads`` (in place).

        Returns ``None`` when every updated member stayed finite, else the ``(M,)`` bool mask of the
        members whose update was refused because it was not finite (see the class docstring).
        """
        cfg = self.cfg
        all_active = active is None or bool(active.all())
        if all_active:
            self.t += 1
        else:
            assert active is not None
            self.t += active.to(self.t.dtype)
        updates: dict[str, tuple[Tensor, dict[str, Tensor]]] = {}
        bad: Tensor | None = None
        total: Tensor | None = None
        for k, g in grads.items():
            p = params[k]
            lr = self._bc(self.lr, p)
            new_p = p
            if self.has_wd and k in cfg.decay:
                wd = self._bc(self.wd, p)
                if cfg.decoupled:
                    new_p = new_p - lr * wd * p
                else:
                    g = g + wd * p
            new_state: dict[str, Tensor] = {}
            if cfg.name == "sgd":
                new_p = new_p - lr * g
            elif cfg.name in ("heavy_ball", "nesterov"):
                v = cfg.momentum * self.state[k]["v"] + g
                new_state["v"] = v
                step = v if cfg.name == "heavy_ball" else g + cfg.momentum * v
                new_p = new_p - lr * step
            else:
                b1, b2 = cfg.betas
                mm = b1 * self.state[k]["m"] + (1 - b1) * g
                s = b2 * self.state[k]["s"] + (1 - b2) * g * g
                new_state["m"], new_state["s"] = mm, s
                t = self._bc(torch.clamp(self.t, min=1.0), p)
                m_hat = mm / (1 - b1**t)
                s_hat = s / (1 - b2**t)
                new_p = new_p - lr * m_hat / (torch.sqrt(s_hat) + cfg.eps)
            if self.check_finite:
                # a per-member sum is finite exactly when every entry is, unless the sum itself
                # overflows: one fast reduction here, the exact elementwise test only on suspicion
                sums = new_p.reshape(self.M, -1).sum(dim=1)
                if "s" in new_state:  # Adam's second moment can overflow before the parameters
                    sums = sums + new_state["s"].reshape(self.M, -1).sum(dim=1)
                total = sums if total is None else total + sums
            updates[k] = (new_p, new_state)
        if total is not None and not bool(torch.isfinite(total).all()):
            bad = torch.zeros(self.M, dtype=torch.bool, device=total.device)
            for upd, upd_state in updates.values():
                for x in (upd, upd_state.get("s")):
                    if x is not None:
                        bad |= ~torch.isfinite(x).reshape(self.M, -1).all(dim=1)
        if bad is not None and active is not None:
            bad &= active
        keep: Tensor | None = active
        if bad is not None and bool(bad.any()):
            self.t -= bad.to(self.t.dtype)  # a refused update is no step
            keep = ~bad if active is None else active & ~bad
            all_active = False
        else:
            bad = None
        for k, (new_p, new_state) in updates.items():
            p = params[k]
            if all_active:
                p.copy_(new_p)
                for name, val in new_state.items():
                    self.state[k][name] = val
            else:
                assert keep is not None
                mask = self._bc(keep, p)
                p.copy_(torch.where(mask, new_p, p))
                for name, val in new_state.items():
                    self.state[k][name] = torch.where(mask, val, self.state[k][name])
        return bad
