"""Training methods: from (ensemble, batch) to a per-member loss and its closed-form gradients.

A method decides *which points* the loss is evaluated at and *how* — clean points, adversarial points
from an attack, or bridges between them — while the trainer and optimizer stay the engine's
(:func:`sims.training.train` with ``TrainConfig(method=...)``). Every loss here is a function of the scalar
outputs ``f`` at a few sets of points, so its parameter gradient is ``Σ_k`` :meth:`param_grads
<sims.nets.TwoLayerEnsemble.param_grads>` ``(X_k, ∂L/∂f(X_k))`` — exact, and checked against autograd.

The scalar output is read as two logits ``[0, f]`` (PAPERS.md §3–4): cross-entropy is ``softplus(−y f)``
and the KL divergence is between ``Bernoulli(σ(f))`` distributions,
``KL(f ‖ f') = p(log p − log p') + (1−p)(log(1−p) − log(1−p'))`` with ``p = σ(f)``, whose derivatives are
``∂KL/∂f = p(1−p)(f − f')`` and ``∂KL/∂f' = p' − p``.

* :class:`Clean` — the loss at the clean points.
* :class:`PGDAT` — Madry et al.: the loss at PGD adversarial points.
* :class:`FastAT` — Wong, Rice & Kolter (ℓ∞) / Goodwin et al. (ℓ2): one step of ``α = 1.25 ε`` from a
  random start (ℓ2 start by name: ``"radius"``, direction × ``U[0, ε]``, or ``"uniform"`` in the ball).
* :class:`TRADES` — ``CE(f(x), y) + β·KL(p(x) ‖ p(x'))``, ``x'`` from ascent on the KL from
  ``x + 0.001·N(0, I)``.
* :class:`BAT` — bridged AT (Kim et al. 2021): δ from a CE or KL attack, bridges ``x_k = x + (k/m)δ``,
  ``CE(f(x), y) + β Σ_{k=1..m} KL(p(x_{k−1}) ‖ p(x_k))`` (or the mean over ``k``), gradients through both
  sides of every KL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from sims.attacks import PGD, check_rel_stepsize
from sims.losses import LOSSES, loss_derivative, loss_value
from sims.nets import TwoLayerEnsemble, check_inputs, check_loss_inputs
from sims.rng import row_normal
from sims.threat import L2_STARTS, L2Ball, LinfBall, Subspace, ThreatModel
from sims.validate import (
    AdvsimError,
    assume_valid,
    check_bool,
    check_choice,
    check_fits,
    check_float,
    check_instance,
    check_int,
    check_memory,
    check_tensor,
    checks_enabled,
    fail,
)

__all__ = [
    "BAT",
    "PGDAT",
    "TRADES",
    "Clean",
    "FastAT",
    "Method",
    "bernoulli_kl",
    "bernoulli_kl_grads",
    "bridge_points",
]


def _check_pair(f: Tensor, f2: Tensor) -> None:
    if checks_enabled():
        check_tensor("f", f, nonempty=False)
        check_tensor("f2", f2, nonempty=False, like=f)
        if f.shape != f2.shape:
            fail("f2", f"a tensor of f's shape {tuple(f.shape)}", f2)


def bernoulli_kl(f: Tensor, f2: Tensor) -> Tensor:
    """``KL(Bernoulli(σ(f)) ‖ Bernoulli(σ(f2)))`` elementwise, computed stably."""
    _check_pair(f, f2)
    p = torch.sigmoid(f)
    return p * (F.softplus(-f2) - F.softplus(-f)) + (1 - p) * (F.softplus(f2) - F.softplus(f))


def bernoulli_kl_grads(f: Tensor, f2: Tensor) -> tuple[Tensor, Tensor]:
    """``(∂KL/∂f, ∂KL/∂f2) = (p(1−p)(f − f2), σ(f2) − p)``."""
    _check_pair(f, f2)
    p = torch.sigmoid(f)
    return p * (1 - p) * (f - f2), torch.sigmoid(f2) - p


def bridge_points(X: Tensor, delta: Tensor, m: int) -> list[Tensor]:
    """``x_k = x + (k/m)·δ`` for ``k = 0..m`` (``x_0 = x`` and ``x_m = x + δ`` exactly)."""
    m = check_int("m", m, 1)
    if checks_enabled():
        check_tensor("X", X)
        check_tensor("delta", delta, like=X)
        if X.shape[-1] != delta.shape[-1] or X.shape[-2] != delta.shape[-2] or delta.ndim < X.ndim:
            fail("delta", f"a tensor (..., n, d) matching X {tuple(X.shape)}", delta)
    pts = [X + (k / m) * delta for k in range(m)]
    return [*pts, X + delta]


#: The random-start laws allowed per norm (``None`` picks the first, the norm's default).
STARTS = {"l2": L2_STARTS, "linf": ("uniform",)}


def _threat(
    norm: str,
    eps: float | tuple[float, ...],
    start: str | None = "uniform",
    restrict: Subspace | None = None,
) -> ThreatModel:
    """The ball of ``norm`` and radius ``eps`` (a tuple: one radius per member, as ``(M, 1)``);
    ``start=None`` is the norm's default start."""
    check_choice("norm", norm, ("l2", "linf"))
    law = (
        STARTS[norm][0]
        if start is None
        else check_choice(f"start (for norm {norm!r})", start, STARTS[norm])
    )
    if restrict is not None:
        check_instance("restrict", restrict, Subspace, "a Subspace or None")
    radius: float | np.ndarray = (
        np.asarray(eps, dtype=np.float64)[:, None] if isinstance(eps, tuple) else eps
    )
    if norm == "l2":
        return L2Ball(radius, start=law, restrict=restrict)
    return LinfBall(radius, start=law, restrict=restrict)


@dataclass(frozen=True, kw_only=True)
class Method(ABC):
    """Base class: ``loss_grads(ens, X, y, step)`` gives the per-member loss ``(M,)`` and gradients.

    Attributes:
        loss: the pointwise training loss on labels (:data:`sims.losses.LOSSES`).
        seed: base seed of the method's randomness (varied per step).
    """

    loss: str = "logistic"
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("loss", self.loss, LOSSES)
        check_int("seed", self.seed, 0)

    @property
    def gradient_evaluations(self) -> int:
        """Input- or parameter-gradient passes per step (cost, for the fast-vs-PGD comparison)."""
        return 1

    def loss_grads(
        self, ens: TwoLayerEnsemble, X: Tensor, y: Tensor, step: int = 0
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The per-member loss ``(M,)`` and its gradients for the trainable parameters, at the
        method's points for ``X`` (``(n, d)`` or ``(M, n, d)``), labels ``y`` in {-1, +1} (``(n,)``, or
        ``(M, n)`` with per-member ``X``) and training step ``step`` (which varies the method's random
        seed, and sets the radius of a ramped :class:`PGDAT`)."""
        if checks_enabled():
            self.check_call(ens, X, y, step)
        with assume_valid():
            return self._loss_grads(ens, X, y, step)

    def check_call(self, ens: TwoLayerEnsemble, X: Tensor, y: Tensor, step: int = 0) -> None:
        """The entry checks of :meth:`loss_grads` (skipped inside :func:`sims.validate.assume_valid`,
        e.g. by :func:`sims.training.train`, which checks once before its loop)."""
        check_instance("ens", ens, TwoLayerEnsemble, "a TwoLayerEnsemble")
        check_inputs("X", X, ens.M, ens.d, ens.W)
        ens.check_params()
        check_loss_inputs(y, self.loss, int(X.shape[-2]), ens.W, ens.M if X.ndim == 3 else None)
        check_int("step", step, 0)
        eps = getattr(self, "eps", None)
        if eps is not None:
            check_fits("eps", eps, ens.dtype)
        # the method's perturbed copies of the (M, n, d) points (a few at a time)
        copies = 6 + int(getattr(self, "m", 0))
        n, d = int(X.shape[-2]), ens.d
        check_memory(
            "M x n x d", (ens.M, n, d), copies * ens.M * n * d * ens.W.element_size(), ens.device
        )
        # the attack's and the loss' (M, n, m) pre-activations (TRADES and BAT hold one per point)
        m, M = ens.m, ens.M
        held = 3 + int(getattr(self, "m", 0))
        check_memory("M x n x m", (M, n, m), held * M * n * m * ens.W.element_size(), ens.device)

    @abstractmethod
    def _loss_grads(
        self, ens: TwoLayerEnsemble, X: Tensor, y: Tensor, step: int
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """:meth:`loss_grads` after its checks."""

    def _pointwise(
        self, ens: TwoLayerEnsemble, Xp: Tensor, y: Tensor, h: Tensor | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        f, grads = ens.loss_grads(Xp, y, self.loss, h=h)
        return loss_value(self.loss, f, y).mean(dim=1), grads


@dataclass(frozen=True, kw_only=True)
class Clean(Method):
    """The training loss at the clean points."""

    def _loss_grads(
        self, ens: TwoLayerEnsemble, X: Tensor, y: Tensor, step: int
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """See :meth:`Method.loss_grads`."""
        return self._pointwise(ens, X, y)


@dataclass(frozen=True, kw_only=True)
class PGDAT(Method):
    """Adversarial training on PGD points (the attack's own settings: steps, step size, start,
    and an optional restriction of the perturbations to a subspace).

    ``steps=1, rel_stepsize=1, random_start=False`` is training on FGM points (FGSM for ℓ∞): the
    feature-purification paper's "adversarial training works even with FGM" (PAPERS.md §2).

    ``eps`` (and ``rel_stepsize``) may be tuples of one value per member: one ensemble then trains
    members at different radii (and steps), exactly as each would train alone — how a sweep batches
    the rows of an ``ε`` grid (:mod:`sims.simulation`).

    ``eps_ramp > 0`` grows the radius linearly over the first ``eps_ramp`` training steps: at step ``s``
    (from 0) the attack's radius is ``ε·min(1, (s + 1)/eps_ramp)`` (the step size, relative to the
    radius, follows it), and from step ``eps_ramp − 1`` on it is ``ε``, exactly as without a ramp. The
    ε warm-up of adversarial training from a random initialisation (the radius ramped up from near 0
    while the network is still untrained, as in Gowal et al. 2018, *On the effectiveness of interval bound
    propagation*); :meth:`threat` is the full radius, :meth:`threat_at` the step's."""

    norm: str = "linf"
    eps: float | tuple[float, ...] = 0.1
    steps: int = 10
    rel_stepsize: float | tuple[float, ...] | None = None
    start: str | None = "uniform"
    random_start: bool = True
    restrict: Subspace | None = None
    eps_ramp: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_bool("random_start", self.random_start)
        check_int("eps_ramp", self.eps_ramp, 0)
        if isinstance(self.eps, tuple):
            if not self.eps:
                raise AdvsimError("eps must be a number >= 0 or one per member; got ()")
            for e in self.eps:
                check_float("eps entry", e, 0.0)
        else:
            check_float("eps", self.eps, 0.0)
        check_int("steps", self.steps, 1)
        check_rel_stepsize("rel_stepsize", self.rel_stepsize)
        self.threat()

    def threat(self) -> ThreatModel:
        """The threat model of the inner attack (per-member radii as ``(M, 1)``)."""
        start = self.start
        if start is None and self.norm == "l2" and isinstance(self, FastAT):
            start = "radius"
        return _threat(self.norm, self.eps, start, self.restrict)

    def ramp_factor(self, step: int) -> float:
        """The share of ``eps`` the attack uses at training step ``step``: ``min(1, (step + 1)/eps_ramp)``,
        1 without a ramp."""
        check_int("step", step, 0)
        return 1.0 if self.eps_ramp == 0 else min(1.0, (step + 1) / self.eps_ramp)

    def threat_at(self, step: int) -> ThreatModel:
        """The threat model of the inner attack at training step ``step`` (the ramped radius)."""
        factor = self.ramp_factor(step)
        if factor == 1.0:
            return self.threat()
        eps = self.eps
        scaled = tuple(e * factor for e in eps) if isinstance(eps, tuple) else eps * factor
        return replace(self, eps=scaled, eps_ramp=0).threat()

    def check_members(self, M: int) -> None:
        """Raise unless every per-member setting has ``M`` values."""
        for name in ("eps", "rel_stepsize"):
            value = getattr(self, name)
            if isinstance(value, tuple) and len(value) != M:
                raise AdvsimError(
                    f"{name} must give one value per member (M={M}); got {len(value)}"
                )

    @property
    def gradient_evaluations(self) -> int:
        """``steps`` attack gradients plus the training gradient."""
        return self.steps + 1

    def attack(self) -> PGD:
        """The inner attack."""
        return PGD(
            steps=self.steps,
            rel_stepsize=self.rel_stepsize,
            random_start=self.random_start,
            keep_best=False,
            seed=self.seed,
        )

    def _loss_grads(
        self, ens: TwoLayerEnsemble, X: Tensor, y: Tensor, step: int
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """See :meth:`Method.loss_grads`."""
        self.check_members(ens.M)
        atk = replace(self.attack(), seed=self.seed + step)
        # the attack's last forward pass (pre-activations at x + δ) serves the training loss
        res = atk(ens, X, y, self.threat_at(step), with_preact=True)
        # x + δ formed over the attack's own δ (no second (M, n, d) array)
        return self._pointwise(ens, res.delta.add_(X), y, res.preact)


@dataclass(frozen=True, kw_only=True)
class FastAT(PGDAT):
    """FGSM with a random start: one step of ``alpha · ε`` (default 1.25) from the start, projected
    (``random_start=False``: plain FGSM/FGM with step ``alpha · ε`` from the clean point).

    ``start=None`` (default) is the norm's fast-AT start: ``"radius"`` (direction × ``U[0, ε]``) for
    ℓ2, ``"uniform"`` in the box for ℓ∞."""

    steps: int = 1
    alpha: float | tuple[float, ...] = 1.25
    start: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_rel_stepsize("alpha", self.alpha)
        if self.steps != 1:
            raise AdvsimError(f"steps must be 1 for FastAT (one FGSM step); got {self.steps}")

    def check_members(self, M: int) -> None:
        """Raise unless ``eps`` and ``alpha`` have ``M`` values where given per member."""
        super().check_members(M)
        if isinstance(self.alpha, tuple) and len(self.alpha) != M:
            raise AdvsimError(
                f"alpha must give one value per member (M={M}); got {len(self.alpha)}"
            )

    def attack(self) -> PGD:
        """One random-start step of ``alpha · ε``."""
        return PGD(
            steps=1,
            rel_stepsize=self.alpha,
            random_start=self.random_start,
            keep_best=False,
            seed=self.seed,
        )


def _kl_attack(
    ens: TwoLayerEnsemble,
    X: Tensor,
    threat: ThreatModel,
    steps: int,
    rel_stepsize: float,
    seed: int,
) -> Tensor:
    """TRADES' inner maximisation: ascent on ``KL(p(x) ‖ p(x'))`` over ``x'`` from ``x + 0.001·N``
    (the ensemble evaluated through :class:`sims.nets.Around`, stepped by
    :meth:`sims.threat.ThreatModel.step`, as PGD)."""
    Xe = X.expand(ens.M, *X.shape[-2:]) if X.ndim == 2 else X
    with torch.no_grad():
        at = ens.around(X)
        work = torch.empty(ens.M, Xe.shape[-2], ens.m, dtype=ens.dtype, device=ens.device)
        f_clean = at.clean_value(work)
        delta = threat.project(0.001 * row_normal(X, X.shape[-1], seed).expand_as(Xe)).contiguous()
        step = rel_stepsize * threat.eps_like(Xe)
        G = torch.empty_like(delta)
        for _ in range(steps):
            f2, G = at.value_and_grad(delta, out=G, work=work)
            assert f2 is not None
            _, g2 = bernoulli_kl_grads(f_clean, f2)
            delta = threat.step(delta, G.mul_(g2[..., None]), step)
    return delta


@dataclass(frozen=True, kw_only=True)
class TRADES(Method):
    """``CE(f(x), y) + β·KL(p(x) ‖ p(x'))`` (Zhang et al. 2019; PAPERS.md §4)."""

    norm: str = "linf"
    eps: float = 0.1
    beta: float = 6.0
    steps: int = 10
    rel_stepsize: float = 0.25

    def __post_init__(self) -> None:
        super().__post_init__()
        check_float("eps", self.eps, 0.0)
        check_float("beta", self.beta, 0.0)
        check_int("steps", self.steps, 1)
        check_float("rel_stepsize", self.rel_stepsize, 0.0, lo_open=True)
        _threat(self.norm, self.eps)

    @property
    def gradient_evaluations(self) -> int:
        """Attack steps plus the training gradient."""
        return self.steps + 1

    def perturbation(self, ens: TwoLayerEnsemble, X: Tensor, step: int = 0) -> Tensor:
        """The KL-maximising δ."""
        if checks_enabled():
            check_instance("ens", ens, TwoLayerEnsemble, "a TwoLayerEnsemble")
            check_inputs("X", X, ens.M, ens.d, ens.W)
            ens.check_params()
            check_int("step", step, 0)
        return _kl_attack(
            ens, X, _threat(self.norm, self.eps), self.steps, self.rel_stepsize, self.seed + step
        )

    def _loss_grads(
        self, ens: TwoLayerEnsemble, X: Tensor, y: Tensor, step: int
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """See :meth:`Method.loss_grads`."""
        delta = self.perturbation(ens, X, step)
        Xa = X[None] + delta if X.ndim == 2 else X + delta
        return bridged_loss_grads(ens, X, [Xa], y, self.loss, self.beta)


def bridged_loss_grads(
    ens: TwoLayerEnsemble, X: Tensor, bridge: list[Tensor], y: Tensor, loss: str, beta: float
) -> tuple[Tensor, dict[str, Tensor]]:
    """``ℓ(f(x), y) + β Σ_k KL(p(x_{k−1}) ‖ p(x_k))`` with ``x_0 = X`` and ``x_1.. = bridge``; exact grads.

    TRADES is the one-point bridge. Returns the per-member mean loss and the parameter gradients.
    """
    if checks_enabled():
        Clean(loss=loss).check_call(ens, X, y)
        check_float("beta", beta, 0.0)
        if isinstance(bridge, Tensor) or not isinstance(bridge, list):
            fail("bridge", "a list of point tensors (M, n, d)", bridge)
        for i, p in enumerate(bridge):
            check_inputs(f"bridge[{i}]", p, ens.M, ens.d, ens.W)
    n = X.shape[-2]
    pts = [X, *bridge]
    hs = [ens.preact(p) for p in pts]  # one forward per point, shared by the loss and its gradient
    fs = [ens.output(h) for h in hs]
    value = loss_value(loss, fs[0], y).mean(dim=1)
    dfs = [loss_derivative(loss, fs[0], y)] + [torch.zeros_like(f) for f in fs[1:]]
    for k in range(1, len(fs)):
        value = value + beta * bernoulli_kl(fs[k - 1], fs[k]).mean(dim=1)
        g_prev, g_next = bernoulli_kl_grads(fs[k - 1], fs[k])
        dfs[k - 1] = dfs[k - 1] + beta * g_prev
        dfs[k] = dfs[k] + beta * g_next
    grads: dict[str, Tensor] = {}
    for p, g, h in zip(pts, dfs, hs, strict=True):
        for name, val in ens.param_grads(p, g / n, h).items():
            grads[name] = grads[name] + val if name in grads else val
    return value, grads


@dataclass(frozen=True, kw_only=True)
class BAT(Method):
    """Bridged adversarial training (Kim et al. 2021; PAPERS.md §4).

    Attributes:
        m: number of bridge segments (``m = 1`` with the KL attack is TRADES).
        attack: ``"kl"`` (TRADES' inner maximisation) or ``"ce"`` (PGD on the cross-entropy).
        reduction: ``"sum"`` of the ``m`` KL terms (the authors' code) or ``"mean"``.
    """

    norm: str = "linf"
    eps: float = 0.1
    beta: float = 6.0
    m: int = 4
    attack: str = "kl"
    reduction: str = "sum"
    steps: int = 10
    rel_stepsize: float = 0.25

    def __post_init__(self) -> None:
        super().__post_init__()
        check_float("eps", self.eps, 0.0)
        check_float("beta", self.beta, 0.0)
        check_int("m", self.m, 1)
        check_int("steps", self.steps, 1)
        check_choice("attack", self.attack, ("kl", "ce"))
        check_choice("reduction", self.reduction, ("sum", "mean"))
        check_float("rel_stepsize", self.rel_stepsize, 0.0, lo_open=True)
        _threat(self.norm, self.eps)

    @property
    def gradient_evaluations(self) -> int:
        """Attack steps plus one training gradient per bridge point."""
        return self.steps + self.m + 1

    def perturbation(self, ens: TwoLayerEnsemble, X: Tensor, y: Tensor, step: int = 0) -> Tensor:
        """δ from the chosen attack."""
        if checks_enabled():
            self.check_call(ens, X, y, step)
        threat = _threat(self.norm, self.eps)
        if self.attack == "kl":
            return _kl_attack(ens, X, threat, self.steps, self.rel_stepsize, self.seed + step)
        pgd = PGD(
            steps=self.steps,
            rel_stepsize=self.rel_stepsize,
            loss="ce",
            keep_best=False,
            seed=self.seed + step,
        )
        return pgd(ens, X, y, threat).delta

    def _loss_grads(
        self, ens: TwoLayerEnsemble, X: Tensor, y: Tensor, step: int
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """See :meth:`Method.loss_grads`."""
        delta = self.perturbation(ens, X, y, step)
        Xe = X.expand(ens.M, *X.shape[-2:]) if X.ndim == 2 else X
        bridge = bridge_points(Xe, delta, self.m)[1:]
        beta = self.beta if self.reduction == "sum" else self.beta / self.m
        return bridged_loss_grads(ens, X, bridge, y, self.loss, beta)
