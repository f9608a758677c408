"""Attacks on scalar-output ensembles, batched over members and points.

Every attack takes a :class:`sims.nets.ScalarModel` (``M`` members), inputs ``X`` of shape ``(n, d)``
(shared by all members) or ``(M, n, d)``, labels ``y`` in {-1, +1} — ``(n,)``, or ``(M, n)`` where every
member has its own data — and, for the ε-ball attacks, a
:class:`sims.threat.ThreatModel`. A point is *correct* when ``y f(x) > 0`` and *adversarial* when
``y f(x + δ) <= 0``. Attacks use closed-form (or autograd-on-input-only) input gradients, so parameter
gradients are never computed, and they never modify ``X``.

* :class:`PGD` — projected steepest ascent (Madry et al. 2018) with random start, restarts and
  keep-best per point; :func:`FGSM` is one step of size ε from the clean point (FGM for ℓ2).
  Default loss: the logit margin ``−y f``, whose gradient never saturates; ``'ce'`` (cross-entropy of
  the two-logit view, ``softplus(−y f)``) saturates to exactly zero gradients in float32 on confident
  points (PAPERS.md §5).
* :class:`MinNorm` — a minimum-norm attack for margins: DeepFool steps to the boundary (Moosavi-Dezfooli
  et al. 2016), bisection along the ray, then FAB-style refinement (Croce & Hein 2020): project the
  clean point onto the boundary's tangent plane at the current boundary point; with restarts.
* :func:`robust_accuracy` — robust accuracy on an ε grid in one batched call; :func:`worst_case` — the
  per-point worst case over several attacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from sims.nets import Around, ScalarModel, TwoLayerEnsemble, check_inputs
from sims.rng import row_normal
from sims.threat import L2Ball, LinfBall, Subspace, ThreatModel, safe_normalize
from sims.validate import (
    AdvsimError,
    assume_valid,
    check_bool,
    check_choice,
    check_fits,
    check_float,
    check_instance,
    check_int,
    check_labels,
    check_memory,
    checks_enabled,
    fail,
)

__all__ = [
    "ATTACK_LOSSES",
    "FGM",
    "FGSM",
    "PGD",
    "AttackResult",
    "MinNorm",
    "MinNormResult",
    "RobustAccuracy",
    "robust_accuracy",
    "worst_case",
]

ATTACK_LOSSES = ("margin", "ce")


@dataclass
class AttackResult:
    """Perturbations found for every member and point.

    Attributes:
        delta: ``(M, n, d)`` perturbations (inside the threat model's ball).
        margin: ``y f(x + δ)``, ``(M, n)``.
        clean_margin: ``y f(x)``, ``(M, n)``.
        preact: the pre-activations ``h(x + δ)`` of a two-layer ensemble at the returned δ, ``(M, n, m)``,
            when asked for (``with_preact``; last-iterate PGD only): adversarial training reuses them
            for its loss instead of a second forward pass. ``None`` otherwise.
    """

    delta: Tensor
    margin: Tensor
    clean_margin: Tensor
    preact: Tensor | None = None

    @property
    def success(self) -> Tensor:
        """Adversarial (``y f(x + δ) <= 0``), ``(M, n)`` bool; includes points wrong to begin with."""
        return self.margin <= 0

    @property
    def robust(self) -> Tensor:
        """Correct and not flipped, ``(M, n)`` bool."""
        return (self.clean_margin > 0) & (self.margin > 0)


def check_rel_stepsize(name: str, value: float | tuple[float, ...] | None) -> None:
    """Raise unless ``value`` is ``None``, a positive number, or a non-empty tuple of them."""
    if value is None:
        return
    if isinstance(value, tuple):
        if not value:
            raise AdvsimError(f"{name} must be a positive number or one per member; got ()")
        for v in value:
            check_float(f"{name} entry", v, 0.0, lo_open=True)
        return
    check_float(name, value, 0.0, lo_open=True)


def check_model(name: str, model: object) -> None:
    """Raise unless ``model`` is a :class:`~sims.nets.ScalarModel` (``M``, ``d``, ``forward``,
    ``input_grad`` and ``value_and_grad``)."""
    if not isinstance(model, ScalarModel):
        fail(
            name,
            "a ScalarModel (M, d, forward, input_grad, value_and_grad), e.g. a TwoLayerEnsemble",
            model,
        )


def check_attack_call(
    model: ScalarModel, X: Tensor, y: Tensor, threat: ThreatModel | None, copies: int = 4
) -> None:
    """The entry checks of every attack: the model, ``X`` (finite real floating, ``(n, d)`` or
    ``(M, n, d)``, on the model's device), ``y`` (labels in {-1, +1}: ``(n,)``, or ``(M, n)`` where
    every member has its own data), the threat model and
    its radii (representable in ``X``'s dtype), and the memory the ``(M, n, d)`` working set takes
    (about ``copies`` arrays of that size)."""
    check_model("model", model)
    like = getattr(model, "W", None)
    like = getattr(model, "w", like)
    check_inputs("X", X, model.M, model.d, like if isinstance(like, Tensor) else None)
    check_instance("y", y, Tensor, "a torch tensor of labels in {-1, +1}")
    if y.device != X.device:
        fail("y", f"on X's device {X.device}", y)
    check_labels("y", y, int(X.shape[-2]), members=model.M)
    if threat is not None:
        check_instance("threat", threat, ThreatModel, "a ThreatModel (L2Ball or LinfBall)")
        threat.check_dim(model.d)
        check_fits("eps", threat.eps, X.dtype)
        if threat.bounds is not None:
            check_fits("bounds", threat.bounds, X.dtype)
    M, n, d = model.M, int(X.shape[-2]), model.d
    check_memory("M x n x d", (M, n, d), copies * M * n * d * X.element_size(), X.device)
    m = getattr(model, "m", None)
    if isinstance(m, int):  # a two-layer ensemble: h₀ and the step's (M, n, m) buffer, and h(x + δ)
        check_memory("M x n x m", (M, n, m), 3 * M * n * m * X.element_size(), X.device)


def _dtype(model: ScalarModel, X: Tensor) -> torch.dtype:
    """The dtype an attack works in: the model's where it has one (as its forward casts), else ``X``'s."""
    dt = getattr(model, "dtype", None)
    return dt if isinstance(dt, torch.dtype) else X.dtype


def _prepare(model: ScalarModel, X: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """``X`` expanded to ``(M, n, d)`` in the attack's dtype (:func:`_dtype`), and ``y`` in that
    dtype."""
    X = X.to(_dtype(model, X))
    Xe = X.detach().expand(model.M, *X.shape[-2:]) if X.ndim == 2 else X.detach()
    return Xe, y.to(device=X.device, dtype=X.dtype)


def _member_blocks(model: ScalarModel, X: Tensor) -> list[slice]:
    """Member slices whose ``(n, d)`` working sets (X + δ, δ, ∇f, the step) fit the engine's block
    budget: a cache heuristic — a two-layer ensemble's ``(n, m)`` pre-activation buffers come on top
    (:func:`check_attack_call` counts them in its memory check)."""
    from sims import nets

    if not hasattr(model, "select") or model.M == 1:
        return [slice(0, model.M)]
    per_member = X.shape[-2] * X.shape[-1] * X.element_size() * 4  # X+δ, δ, ∇f, direction
    size = max(1, nets.BLOCK_BYTES // max(1, per_member))
    return [slice(i, min(model.M, i + size)) for i in range(0, model.M, size)]


def _select(model: ScalarModel, block: slice) -> ScalarModel:
    sub: ScalarModel = model.select(block)  # type: ignore[attr-defined]
    return sub


def _threat_rows(threat: ThreatModel, block: slice) -> ThreatModel:
    """The threat model for a block of members (per-member radii are sliced)."""
    return threat.with_eps(threat.eps[block]) if threat.eps.ndim == 2 else threat


def _loss_sign(loss: str, f: Tensor | None, y: Tensor) -> Tensor:
    """Sign of ``∂(attack loss)/∂f``: ``−y`` for the margin ``−y f``; for CE ``softplus(−y f)`` the
    derivative is ``−y σ(−y f)``, whose sign is ``−y`` unless σ underflows to exactly 0 (saturation:
    then the gradient, and the step, is zero)."""
    if loss == "margin":
        return -y
    assert f is not None
    return torch.sign(-y * torch.sigmoid(-y * f))


@dataclass(frozen=True, kw_only=True)
class PGD:
    """Projected gradient descent on the attack loss inside the threat model's ball.

    Attributes:
        steps: number of steps (>= 1).
        rel_stepsize: step size as a multiple of ε (default ``2.5 / steps``), or a tuple of one per
            member (an ensemble whose members attack with different steps, e.g. fast AT's ``α``).
        random_start: start from the threat model's random start (else from δ = 0).
        restarts: independent restarts (>= 1); the best per point is kept.
        loss: ``'margin'`` (default) or ``'ce'``.
        schedule: ``'constant'`` step size, or ``'linear'`` decay from ``2·alpha`` to 0 over the steps
            (converges onto a local maximum, used by the minimum-norm search).
        keep_best: return the iterate with the lowest margin per point (default); else the last
            iterate of the last restart (the textbook PGD output).
        seed: seed of the random starts (keyed per row, see :mod:`sims.rng`).
    """

    steps: int = 50
    rel_stepsize: float | tuple[float, ...] | None = None
    random_start: bool = True
    restarts: int = 1
    loss: str = "margin"
    schedule: str = "constant"
    keep_best: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("steps", self.steps, 1)
        check_choice("schedule", self.schedule, ("constant", "linear"))
        check_int("restarts", self.restarts, 1)
        check_choice("loss", self.loss, ATTACK_LOSSES)
        check_rel_stepsize("rel_stepsize", self.rel_stepsize)
        check_bool("random_start", self.random_start)
        check_bool("keep_best", self.keep_best)
        check_int("seed", self.seed, 0)

    @property
    def alpha(self) -> float:
        """The step size as a multiple of ε (one for every member; see :meth:`member_alpha`)."""
        if isinstance(self.rel_stepsize, tuple):
            raise AdvsimError("rel_stepsize is per member here; use member_alpha(M)")
        return self.rel_stepsize if self.rel_stepsize is not None else 2.5 / self.steps

    def member_alpha(self, M: int) -> Tensor:
        """The step multiple of every member, ``(M,)`` (``rel_stepsize`` may give one per member)."""
        if not isinstance(self.rel_stepsize, tuple):
            return torch.full((M,), self.alpha, dtype=torch.float64)
        if len(self.rel_stepsize) != M:
            raise AdvsimError(
                f"rel_stepsize must give one value per member (M={M}); got {len(self.rel_stepsize)}"
            )
        return torch.tensor(self.rel_stepsize, dtype=torch.float64)

    @property
    def gradient_evaluations(self) -> int:
        """Input-gradient evaluations per point and member (the attack's cost)."""
        return self.steps * self.restarts

    def __call__(
        self,
        model: ScalarModel,
        X: Tensor,
        y: Tensor,
        threat: ThreatModel,
        *,
        with_preact: bool = False,
    ) -> AttackResult:
        """Attack every member at every point.

        Members are attacked in blocks small enough for their ``(n, d)`` working set to stay in cache
        (when the model can :meth:`select` members): each member's attack is independent of the
        others', so the result is the same whatever the blocking, up to the dtype's rounding (a batched
        product over another number of members may group its sums differently; tested). Every block
        writes its rows of the outputs, allocated once, and a :class:`~sims.nets.TwoLayerEnsemble`'s
        blocks share one set of step buffers. Such an ensemble is evaluated through
        :class:`sims.nets.Around` (two matrix products per step) and stepped by
        :meth:`sims.threat.ThreatModel.step` in place; ``with_preact`` also returns the pre-activations
        at the returned δ (:attr:`AttackResult.preact`; two-layer ensembles, ``keep_best=False``).
        """
        if checks_enabled():
            check_attack_call(model, X, y, threat, copies=4 + self.restarts)
            check_bool("with_preact", with_preact)
        with assume_valid():
            return self._blocks(model, X, y, threat, with_preact)

    def _blocks(
        self,
        model: ScalarModel,
        X: Tensor,
        y: Tensor,
        threat: ThreatModel,
        with_preact: bool = False,
    ) -> AttackResult:
        blocks = _member_blocks(model, X)
        alpha = self.member_alpha(model.M) if isinstance(self.rel_stepsize, tuple) else None
        units = None
        if self.random_start:  # keyed on the rows' content: computed once, sliced per block
            threat.check_dim(X.shape[-1])
            units = [
                threat.unit_start(X.detach(), self.seed, stream=r) for r in range(self.restarts)
            ]
        # every block writes into the outputs, and the two-layer buffers serve every block in turn
        out = _outputs(model, X, with_preact and not self.keep_best)
        space = _Workspace.of(model, X, max(b.stop - b.start for b in blocks))
        whole = len(blocks) == 1
        for b in blocks:
            self._attack(
                model if whole else _select(model, b),
                X if X.ndim == 2 or whole else X[b],
                y if y.ndim == 1 or whole else y[b],
                threat if whole else _threat_rows(threat, b),
                None if units is None else [u if u.ndim == 2 or whole else u[b] for u in units],
                None if alpha is None else alpha[b],
                out if whole else _rows(out, b),
                None if space is None else space.rows(b.stop - b.start),
            )
        return out

    def _attack(
        self,
        model: ScalarModel,
        X: Tensor,
        y: Tensor,
        threat: ThreatModel,
        units: list[Tensor] | None,
        alpha: Tensor | None,
        out: AttackResult,
        space: _Workspace | None,
    ) -> None:
        """Attack one block of members, writing into ``out`` (views of the whole result)."""
        Xe, y = _prepare(model, X, y)
        threat.check_dim(model.d)
        need_value = self.keep_best or self.loss != "margin"
        with torch.no_grad():
            at = _evaluator(model, X, space)
            G, work = at.buffers()
            clean = torch.mul(y, at.clean_value(work), out=out.clean_margin)
            best_margin = out.margin.copy_(clean)
            # δ = 0 is the first best iterate; the last iterate is stepped in the output itself
            best_delta = out.delta.zero_() if self.keep_best else out.delta
            eps = threat.eps_like(Xe)
            if alpha is None:
                step = self.alpha * eps
            else:  # one step multiple per member
                step = alpha.to(dtype=eps.dtype, device=eps.device)[:, None, None] * eps
            # the step of the margin loss is −y·step at every iteration (scaled by the schedule)
            base = (-y)[..., None] * step if self.loss == "margin" else None
            for r in range(self.restarts):
                if units is not None:
                    delta = threat.project(units[r].expand_as(Xe) * eps)
                else:
                    delta = torch.zeros_like(Xe)
                delta = threat.apply_bounds(Xe, delta)
                # a dense tensor that the steps below update in place
                delta = delta.contiguous() if self.keep_best else out.delta.copy_(delta)
                for t in range(self.steps):
                    f, G = at.value_and_grad(delta, need_value=need_value, out=G, work=work)
                    if self.keep_best:
                        assert f is not None
                        margin = y * f
                        better = margin < best_margin
                        torch.where(better, margin, best_margin, out=best_margin)
                        torch.where(better[..., None], delta, best_delta, out=best_delta)
                    # ascent direction of c·∇f (c the loss' scalar derivative) is sign(c)·dir(∇f)
                    coef = (
                        base if base is not None else _loss_sign(self.loss, f, y)[..., None] * step
                    )
                    if self.schedule == "linear":
                        coef = coef * (2.0 * (1 - t / self.steps))
                    delta = threat.step(delta, G, coef)
                    if threat.bounds is not None:
                        delta = threat.apply_bounds(Xe, delta).contiguous()
                f_last = at.value(delta, work=work, preact=out.preact)
                margin = y * f_last
                if not self.keep_best:
                    best_margin.copy_(margin)
                    if delta is not best_delta:
                        best_delta.copy_(delta)
                    continue
                better = margin < best_margin
                torch.where(better, margin, best_margin, out=best_margin)
                torch.where(better[..., None], delta, best_delta, out=best_delta)


@dataclass(frozen=True)
class _Workspace:
    """The buffers a two-layer ensemble's attack steps reuse, sized for the largest member block and
    shared by every block in turn (fresh buffers per block would be allocated and touched anew):
    the points ``[x + δ, 1]`` (where :class:`sims.nets.Around` augments them), the input gradient and
    the ``(n, m)`` pre-activations."""

    z: Tensor | None
    G: Tensor
    work: Tensor

    @staticmethod
    def of(model: ScalarModel, X: Tensor, members: int) -> _Workspace | None:
        """Buffers for blocks of up to ``members`` members of a two-layer ensemble, else ``None``."""
        if not isinstance(model, TwoLayerEnsemble):
            return None
        n, d, m = int(X.shape[-2]), model.d, model.m

        def empty(*shape: int) -> Tensor:
            return torch.empty(members, n, *shape, dtype=model.dtype, device=model.device)

        return _Workspace(empty(d + 1) if Around.augments(model) else None, empty(d), empty(m))

    def rows(self, members: int) -> _Workspace:
        """The first ``members`` members' share of every buffer (dense views)."""
        z = None if self.z is None else self.z[:members]
        return _Workspace(z, self.G[:members], self.work[:members])


def _outputs(model: ScalarModel, X: Tensor, preact: bool) -> AttackResult:
    """Uninitialised outputs of an attack on every member (each block writes its rows): δ in the
    attack's dtype; the margins ``y f`` in that dtype promoted with the model's output dtype — for a
    model without a ``dtype`` (e.g. an :class:`~sims.nets.AutogradModel`, whose function may compute
    in another dtype than ``X``'s) read from its output at one point; the pre-activations only where
    asked for and the model is a two-layer ensemble."""
    M, n, d = model.M, int(X.shape[-2]), int(X.shape[-1])
    dt = _dtype(model, X)
    f_dt = dt  # the margins y·f: y in the attack's dtype, f in the model's output dtype
    if not isinstance(getattr(model, "dtype", None), torch.dtype):
        f_dt = torch.promote_types(dt, model.forward(X.detach()[..., :1, :]).dtype)

    def empty(*shape: int, dtype: torch.dtype = dt) -> Tensor:
        return torch.empty(M, *shape, dtype=dtype, device=X.device)

    h = empty(n, model.m) if preact and isinstance(model, TwoLayerEnsemble) else None
    return AttackResult(
        delta=empty(n, d), margin=empty(n, dtype=f_dt), clean_margin=empty(n, dtype=f_dt), preact=h
    )


def _rows(out: AttackResult, block: slice) -> AttackResult:
    """A block of members' rows of every output (dense views)."""
    return AttackResult(
        delta=out.delta[block],
        margin=out.margin[block],
        clean_margin=out.clean_margin[block],
        preact=None if out.preact is None else out.preact[block],
    )


class _Perturbed:
    """Any :class:`~sims.nets.ScalarModel` at ``X + δ`` (one pass at the perturbed points per call);
    a :class:`~sims.nets.TwoLayerEnsemble` gets :class:`_Around` instead."""

    def __init__(self, model: ScalarModel, X: Tensor) -> None:
        self.model = model
        self.Xe = X.expand(model.M, *X.shape[-2:]) if X.ndim == 2 else X

    def clean_value(self, work: Tensor | None = None) -> Tensor:
        return self.model.forward(self.Xe)

    def buffers(self) -> tuple[Tensor | None, Tensor | None]:
        return None, None

    def value_and_grad(
        self,
        delta: Tensor,
        *,
        need_value: bool,
        out: Tensor | None = None,
        work: Tensor | None = None,
    ) -> tuple[Tensor | None, Tensor]:
        # copies: the attack's step may overwrite the gradient in place
        if need_value:
            f, G = self.model.value_and_grad(self.Xe + delta)
            return f, G.clone()
        return None, self.model.input_grad(self.Xe + delta).clone()

    def value(
        self, delta: Tensor, *, work: Tensor | None = None, preact: Tensor | None = None
    ) -> Tensor:
        """``f(x + δ)`` (the buffers serve :class:`_Around`; a plain model has none)."""
        return self.model.forward(self.Xe + delta)


class _Around(_Perturbed):
    """A :class:`~sims.nets.TwoLayerEnsemble` at ``X + δ`` through :class:`sims.nets.Around` (two
    matrix products per step into the workspace's buffers, or fresh ones without a workspace)."""

    def __init__(self, model: TwoLayerEnsemble, X: Tensor, space: _Workspace | None) -> None:
        super().__init__(model, X)
        self.ens = model
        self.space = space
        self.at = Around(model, X, z=None if space is None else space.z)

    def clean_value(self, work: Tensor | None = None) -> Tensor:
        return self.at.clean_value(work)

    def buffers(self) -> tuple[Tensor | None, Tensor | None]:
        if self.space is not None:
            return self.space.G, self.space.work
        e = self.ens
        n = self.at.n
        G = torch.empty(e.M, n, e.d, dtype=e.dtype, device=e.device)
        return G, torch.empty(e.M, n, e.m, dtype=e.dtype, device=e.device)

    def value_and_grad(
        self,
        delta: Tensor,
        *,
        need_value: bool,
        out: Tensor | None = None,
        work: Tensor | None = None,
    ) -> tuple[Tensor | None, Tensor]:
        return self.at.value_and_grad(delta, need_value=need_value, out=out, work=work)

    def value(
        self, delta: Tensor, *, work: Tensor | None = None, preact: Tensor | None = None
    ) -> Tensor:
        """``f(x + δ)``, its pre-activations left in ``preact`` if given, else formed in ``work``."""
        if preact is not None:
            return self.at.output(self.at.preact(delta, preact))
        return self.at.output_at(delta, work=work)


def _evaluator(model: ScalarModel, X: Tensor, space: _Workspace | None = None) -> _Perturbed:
    """The model at ``X + δ``: the fused two-layer form where the model is a two-layer ensemble."""
    if isinstance(model, TwoLayerEnsemble):
        return _Around(model, X, space)
    return _Perturbed(model, X)


def FGSM(
    *, loss: str = "margin", random_start: bool = False, rel_stepsize: float = 1.0, seed: int = 0
) -> PGD:
    """The fast gradient (sign) method: one step of ``rel_stepsize · ε`` (Goodfellow et al. 2015).

    With an :class:`~sims.threat.LinfBall` the step is ``ε·sign(∇)`` (FGSM); with an
    :class:`~sims.threat.L2Ball` it is ``ε·∇/‖∇‖`` (FGM).
    """
    return PGD(steps=1, rel_stepsize=rel_stepsize, random_start=random_start, loss=loss, seed=seed)


FGM = FGSM


@dataclass
class MinNormResult:
    """Smallest perturbations found that make each point adversarial.

    Attributes:
        dist: ``‖δ‖`` per member and point (0 for points already adversarial; ``inf`` where none was
            found), ``(M, n)``.
        delta: the perturbations (zero where none was found), ``(M, n, d)``.
    """

    dist: Tensor
    delta: Tensor


@dataclass(frozen=True, kw_only=True)
class MinNorm:
    """Minimum-norm attack on binary scalar-output models (ℓ2 or ℓ∞).

    Attributes:
        norm: ``'l2'`` or ``'linf'``.
        max_iter: DeepFool iterations per restart.
        overshoot: DeepFool's relative overshoot.
        refine_steps: FAB-style refinement steps per restart.
        restarts: restarts; restart 0 starts at the clean point, the others at random points at half
            the best distance found so far.
        bisection_steps: bisection steps along each candidate ray.
        search_steps: steps of the bisection over the radius with ``search_attack`` (0 turns it off).
        search_attack: the PGD attack run at each radius of that search.
        restrict: look for perturbations in this subspace only (e.g. ``Subspace.perp(U)``: the
            minimal off-subspace flip radius); every step uses the gradient projected onto it.
        max_dist: the radius search stops doubling beyond this; points with no adversarial
            perturbation found within it get ``inf``.
        seed: seed of the restarts' random points.

    Stages: DeepFool from the clean point and from random restarts, each refined; then a bisection over
    the radius ε per point (from the best distance so far, or doubling from a first-order estimate
    until PGD succeeds), running ``search_attack`` at each radius — PGD searches the whole ball and so
    escapes the local minima of the boundary-following stage; its final perturbation is refined again.
    Every returned δ is verified adversarial, so the distance is always an upper bound of the true one.
    """

    norm: str = "l2"
    max_iter: int = 50
    overshoot: float = 0.02
    refine_steps: int = 30
    restarts: int = 3
    bisection_steps: int = 30
    search_steps: int = 12
    search_attack: PGD = PGD(steps=50, restarts=10, schedule="linear")
    restrict: Subspace | None = None
    max_dist: float = float("inf")
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("norm", self.norm, ("l2", "linf"))
        if not (isinstance(self.max_dist, float) and self.max_dist == float("inf")):
            check_float("max_dist", self.max_dist, 0.0, lo_open=True)
        check_instance("search_attack", self.search_attack, PGD, "a PGD attack")
        if self.restrict is not None:
            check_instance("restrict", self.restrict, Subspace, "a Subspace or None")
        check_int("seed", self.seed, 0)
        if self.norm == "linf" and self.restrict is not None:
            LinfBall(1.0, restrict=self.restrict)  # validates: coordinate subspaces only
        check_int("max_iter", self.max_iter, 1)
        check_float("overshoot", self.overshoot, 0.0)
        check_int("refine_steps", self.refine_steps, 0)
        check_int("restarts", self.restarts, 1)
        check_int("bisection_steps", self.bisection_steps, 1)
        check_int("search_steps", self.search_steps, 0)

    def _norm(self, v: Tensor) -> Tensor:
        return v.norm(dim=-1) if self.norm == "l2" else v.abs().amax(dim=-1)

    def _vg(self, model: ScalarModel, Z: Tensor) -> tuple[Tensor, Tensor]:
        """``(f, ∇f)`` with the gradient projected onto the allowed subspace."""
        f, G = model.value_and_grad(Z)
        return f, G if self.restrict is None else self.restrict.project(G)

    def _to_plane(self, f: Tensor, G: Tensor) -> Tensor:
        """Smallest step ``r`` with ``f + G·r = 0`` in this norm."""
        if self.norm == "l2":
            den = (G * G).sum(-1)
            return -(f / torch.where(den > 0, den, torch.ones_like(den)))[..., None] * G
        den = G.abs().sum(-1)
        return -(f / torch.where(den > 0, den, torch.ones_like(den)))[..., None] * torch.sign(G)

    def _bisect(
        self, model: ScalarModel, Xe: Tensor, y: Tensor, delta: Tensor, ok: Tensor
    ) -> Tensor:
        """Shrink each adversarial ``δ`` (``ok``) along its ray to just past the boundary.

        Rays that are not adversarial (``~ok``) are returned unchanged, so their bracket starts closed
        (``lo = hi = 1``). The loop ends early once a step leaves every bracket as it was: a bracket
        that one step does not move is a fixed point (the next step evaluates the same midpoint), so
        the result is the one all ``bisection_steps`` give. A bracket around a boundary at ``t*`` along
        the ray closes after about ``p + log2(1/t*)`` halvings (``p`` = 24 in float32, 53 in float64).
        """
        hi = torch.ones(delta.shape[:-1], dtype=delta.dtype, device=delta.device)
        lo = torch.where(ok, torch.zeros_like(hi), hi)
        for _ in range(self.bisection_steps):
            mid = (lo + hi) / 2
            adv = y * model.forward(Xe + mid[..., None] * delta) <= 0
            new_hi = torch.where(adv, mid, hi)
            new_lo = torch.where(adv, lo, mid)
            if torch.equal(new_hi, hi) and torch.equal(new_lo, lo):
                break
            hi, lo = new_hi, new_lo
        return torch.where(ok[..., None], hi[..., None] * delta, delta)

    def __call__(self, model: ScalarModel, X: Tensor, y: Tensor) -> MinNormResult:
        """Find small adversarial perturbations for every member and point."""
        if checks_enabled():
            check_attack_call(model, X, y, None, copies=8 + self.search_attack.restarts)
            if self.restrict is not None and self.restrict.d != model.d:
                fail("restrict", f"a subspace of R^{model.d} (the model's d)", self.restrict.d)
        with assume_valid():
            return self._min_norm(model, X, y)

    def _min_norm(self, model: ScalarModel, X: Tensor, y: Tensor) -> MinNormResult:
        Xe, y = _prepare(model, X, y)
        inf = torch.tensor(float("inf"), dtype=Xe.dtype, device=Xe.device)
        with torch.no_grad():
            clean = y * model.forward(Xe)
            best = torch.where(clean <= 0, torch.zeros_like(clean), inf)
            best_delta = torch.zeros_like(Xe)
            for r in range(self.restarts):
                if r == 0:
                    delta = torch.zeros_like(Xe)
                else:
                    u = row_normal(X.detach(), model.d, self.seed, stream=r)
                    if self.restrict is not None:
                        u = self.restrict.project(u)
                    u = safe_normalize(u)
                    if self.norm == "linf":
                        u = torch.sign(u)
                    scale = torch.where(torch.isfinite(best), best / 2, torch.zeros_like(best))
                    delta = u.expand_as(Xe) * scale[..., None]
                found = torch.zeros_like(clean, dtype=torch.bool)
                for _ in range(self.max_iter):  # DeepFool
                    f, G = self._vg(model, Xe + delta)
                    found = y * f <= 0
                    if bool(found.all()):
                        break
                    step = self._to_plane(f, G) * (1 + self.overshoot)
                    delta = torch.where(found[..., None], delta, delta + step)
                # points misclassified already keep distance 0 whatever happens below: leaving them
                # out of the bisections lets those stop early (see _bisect)
                found = (y * model.forward(Xe + delta) <= 0) & (clean > 0)
                delta = self._bisect(model, Xe, y, delta, found)
                delta = self._refine(model, Xe, y, delta, found)
                dist = torch.where(found, self._norm(delta), inf)
                better = (dist < best) & (clean > 0)
                best = torch.where(better, dist, best)
                best_delta = torch.where(better[..., None], delta, best_delta)
            if self.search_steps > 0:
                best, best_delta = self._search(model, Xe, y, clean, best, best_delta)
            far = best > self.max_dist
            best = torch.where(far, inf, best)
            best_delta = torch.where(far[..., None], torch.zeros_like(best_delta), best_delta)
        return MinNormResult(dist=best, delta=best_delta)

    def _refine(
        self, model: ScalarModel, Xe: Tensor, y: Tensor, delta: Tensor, found: Tensor
    ) -> Tensor:
        """FAB-style steps: project x onto the tangent plane of the boundary at ``x + δ``."""
        for k in range(self.refine_steps):
            f, G = self._vg(model, Xe + delta)
            # plane through x+δ with normal G; project x onto it: f(x+δ) + G·(r − δ) = 0
            proj = self._to_plane(f - (G * delta).sum(-1), G)
            over = 1 + self.overshoot * (0.5**k)
            for cand in (proj * over, (proj * over + delta) / 2):
                adv = (y * model.forward(Xe + cand) <= 0) & found  # others are never taken
                cand = self._bisect(model, Xe, y, cand, adv)
                take = adv & (self._norm(cand) < self._norm(delta))
                delta = torch.where(take[..., None], cand, delta)
        return delta

    def _search(
        self,
        model: ScalarModel,
        Xe: Tensor,
        y: Tensor,
        clean: Tensor,
        best: Tensor,
        best_delta: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """Bisection over the radius with PGD; returns the improved ``(best, best_delta)``."""

        def ball(eps: Tensor) -> ThreatModel:
            cls = L2Ball if self.norm == "l2" else LinfBall
            return cls(eps, restrict=self.restrict)

        todo = clean > 0
        hi = best.clone()
        hi_delta = best_delta.clone()
        missing = todo & ~torch.isfinite(hi)
        if bool(missing.any()):  # no boundary point yet: grow a first-order estimate until PGD wins
            f, G = self._vg(model, Xe)
            gn = self._norm(G) if self.norm == "l2" else G.abs().sum(-1)
            r = torch.where(
                gn > 0, f.abs() / torch.where(gn > 0, gn, torch.ones_like(gn)), torch.ones_like(gn)
            )
            r = torch.where(torch.isfinite(r) & (r > 0), r, torch.ones_like(r))
            for _ in range(60):
                missing = missing & (r <= self.max_dist)
                if not bool(missing.any()):
                    break
                res = self.search_attack(model, Xe, y, ball(torch.where(missing, r, 0 * r)))
                won = missing & res.success
                hi = torch.where(won, r, hi)
                hi_delta = torch.where(won[..., None], res.delta, hi_delta)
                missing = missing & ~won
                r = r * 2
        lo = torch.zeros_like(hi)
        active = todo & torch.isfinite(hi)
        for _ in range(self.search_steps):
            mid = torch.where(active, (lo + hi) / 2, torch.zeros_like(hi))
            res = self.search_attack(model, Xe, y, ball(mid))
            won = active & res.success
            hi = torch.where(won, mid, hi)
            hi_delta = torch.where(won[..., None], res.delta, hi_delta)
            lo = torch.where(active & ~won, mid, lo)
        found = active & (y * model.forward(Xe + hi_delta) <= 0)
        cand = self._bisect(model, Xe, y, hi_delta, found)
        cand = self._refine(model, Xe, y, cand, found)
        dist = torch.where(found, self._norm(cand), torch.full_like(best, float("inf")))
        better = dist < best
        return (torch.where(better, dist, best), torch.where(better[..., None], cand, best_delta))


@dataclass
class RobustAccuracy:
    """Robust accuracy on an ε grid.

    Attributes:
        eps: the grid, ``(K,)``.
        success: adversarial at each ε, ``(M, K, n)`` (the worst case over the attacks).
        accuracy: robust accuracy, ``(M, K)``.
        clean_accuracy: ``(M,)``.
        min_dist: per-point minimal perturbation found by a :class:`MinNorm` attack (``None`` if not run),
            ``(M, n)``.
    """

    eps: np.ndarray
    success: Tensor
    accuracy: Tensor
    clean_accuracy: Tensor
    min_dist: Tensor | None = None


def worst_case(results: Sequence[AttackResult]) -> AttackResult:
    """Per member and point, the attack result with the lowest margin ``y f(x + δ)``."""
    if isinstance(results, AttackResult) or not isinstance(results, Sequence) or not results:
        fail("results", "a non-empty sequence of AttackResult", results)
    for i, r in enumerate(results):
        check_instance(f"results[{i}]", r, AttackResult, "an AttackResult")
        if r.margin.shape != results[0].margin.shape or r.delta.shape != results[0].delta.shape:
            fail(
                f"results[{i}]",
                f"a result of the same shape as results[0] (margin {tuple(results[0].margin.shape)})",
                r.margin,
            )
    out = results[0]
    delta, margin = out.delta.clone(), out.margin.clone()
    for r in results[1:]:
        better = r.margin < margin
        margin = torch.where(better, r.margin, margin)
        delta = torch.where(better[..., None], r.delta, delta)
    return AttackResult(delta=delta, margin=margin, clean_margin=out.clean_margin)


def robust_accuracy(
    model: ScalarModel,
    X: Tensor,
    y: Tensor,
    threat: ThreatModel,
    eps_grid: Sequence[float] | np.ndarray,
    attacks: Sequence[PGD] = (PGD(steps=50, restarts=2),),
    min_norm: MinNorm | None = None,
) -> RobustAccuracy:
    """Robust accuracy at every ε of ``eps_grid`` in one batched attack per attack type.

    The points are replicated once per ε with a per-point radius, so the whole grid is one call; the
    result is the worst case over ``attacks`` per point. ``threat`` supplies the norm, restriction and
    start; its own ε is ignored.
    """
    from sims.validate import check_array

    grid = check_array("eps_grid", eps_grid, finite=False, nonempty=False).reshape(-1)
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
        raise AdvsimError(
            f"eps_grid must be a non-empty list of finite values >= 0; got {list(grid)[:8]}"
        )
    if isinstance(attacks, PGD) or not isinstance(attacks, Sequence) or not attacks:
        fail("attacks", "a non-empty sequence of PGD attacks", attacks)
    for i, atk in enumerate(attacks):
        check_instance(f"attacks[{i}]", atk, PGD, "a PGD attack (PGD, FGSM or FGM)")
    if min_norm is not None:
        check_instance("min_norm", min_norm, MinNorm, "a MinNorm attack or None")
    check_instance("threat", threat, ThreatModel, "a ThreatModel (L2Ball or LinfBall)")
    K = grid.size
    check_attack_call(model, X, y, threat.with_eps(float(grid.max())), copies=4)
    n = X.shape[-2]
    check_memory(
        "eps_grid x M x n x d",
        (K, model.M, n, model.d),
        6 * K * model.M * n * model.d * X.element_size(),
        X.device,
    )
    Xk = torch.cat([X] * K, dim=-2)
    yk = torch.cat([y] * K, dim=-1)
    eps = torch.as_tensor(np.repeat(grid, n), dtype=torch.float64)
    tm = threat.with_eps(eps)
    res = worst_case([atk(model, Xk, yk, tm) for atk in attacks])
    success = res.success.reshape(model.M, K, n)
    clean_ok = res.clean_margin.reshape(model.M, K, n)[:, 0, :] > 0
    acc = (clean_ok[:, None, :] & ~success).to(torch.float64).mean(dim=-1)
    md = None if min_norm is None else min_norm(model, X, y).dist
    return RobustAccuracy(
        eps=grid,
        success=success,
        accuracy=acc,
        clean_accuracy=clean_ok.to(torch.float64).mean(dim=-1),
        min_dist=md,
    )
