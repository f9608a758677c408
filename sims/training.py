"""The training loop: every member of an ensemble trained at once, with per-member stop rules.

One step computes the outputs of all members on their batch, the loss derivative ``∂ℓ/∂f``, the
closed-form parameter gradients of :meth:`sims.nets.TwoLayerEnsemble.param_grads` and one
:class:`sims.optim.Optimizer` update. Full-batch training (``batch_size=None``) is gradient descent;
minibatches are drawn per member from that member's own seed, so member ``i`` of an ensemble follows
exactly the trajectory it would follow trained alone.

Stop rules follow the authors' code for Melamed et al. (PAPERS.md §1): a member stops once
``min_i y_i f(x_i) > stop_margin`` (or its training accuracy reaches ``stop_accuracy``); it is then frozen
while the others go on.

Divergence is data: a member whose update would make a parameter non-finite (a learning rate too
large, say) keeps its last finite parameters, is stopped and flagged (:attr:`TrainResult.diverged`,
:attr:`TrainResult.diverged_step`), and the others go on; a member whose final loss is not finite is
flagged too. Inside :func:`divergence_log` every call's flags are collected, which is how
:mod:`sims.simulation` writes them into each run's record.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from sims.losses import LOSSES, loss_value
from sims.methods import Method
from sims.nets import ThresholdRule, TrainableModel, TwoLayerEnsemble
from sims.optim import Optimizer, OptimizerConfig
from sims.validate import (
    AdvsimError,
    assume_valid,
    check_bool,
    check_choice,
    check_float,
    check_instance,
    check_int,
    check_labels,
    check_memory,
    check_seeds,
    check_tensor,
    fail,
)

__all__ = [
    "LR_SCHEDULES",
    "Measure",
    "TrainConfig",
    "TrainResult",
    "cyclic_factor",
    "divergence_log",
    "guard_replay",
    "train",
]

#: Learning-rate schedules of :class:`TrainConfig`.
LR_SCHEDULES = ("constant", "cyclic")

Measure = Callable[[Any], Mapping[str, Tensor]]

_DIVERGENCE_LOG: ContextVar[list[np.ndarray] | None] = ContextVar(
    "advsim_divergence_log", default=None
)


@contextlib.contextmanager
def divergence_log() -> Iterator[list[np.ndarray]]:
    """Collect the ``diverged`` flags ``(M,)`` of every :func:`train` call inside the block, in
    call order (nested blocks each get every call made inside them)."""
    log: list[np.ndarray] = []
    outer = _DIVERGENCE_LOG.get()
    token = _DIVERGENCE_LOG.set(log)
    try:
        yield log
    finally:
        _DIVERGENCE_LOG.reset(token)
        if outer is not None:
            outer.extend(log)


@dataclass(frozen=True)
class OverfitGuard:
    """The catastrophic-overfitting guard of fast adversarial training (Wong, Rice & Kolter 2020;
    PAPERS.md §3): every ``every`` steps (the authors check every epoch: ``n / batch_size`` steps, one
    step in full-batch training) run PGD on a fixed training batch; a member whose robust accuracy fell by more than ``drop`` since the
    previous check is stopped and gets back the weights of that previous check. The event is recorded
    (:attr:`TrainResult.guard_step`). The check attacks at the method's full radius, also while a
    ramped method (:attr:`sims.methods.PGDAT.eps_ramp`) trains at a smaller one: a radius that grows
    would lower the robust accuracy by itself.

    Attributes:
        every: steps between checks (>= 1).
        drop: the largest tolerated fall of robust accuracy between two checks (default 0.2).
        n_points: size of the fixed batch (the first ``n_points`` training points).
        attack_steps: PGD steps of the check (default 5, as the authors').
    """

    every: int = 1
    drop: float = 0.2
    n_points: int = 128
    attack_steps: int = 5

    def __post_init__(self) -> None:
        check_int("every", self.every, 1)
        check_float("drop", self.drop, 0.0)
        check_int("n_points", self.n_points, 1)
        check_int("attack_steps", self.attack_steps, 1)


@dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Attributes:
        steps: maximum number of updates (>= 0).
        optimizer: the optimizer and its hyperparameters.
        loss: one of :data:`sims.losses.LOSSES`.
        batch_size: minibatch size (``None``: full batch, i.e. gradient descent).
        stop_margin: stop a member once ``min_i y_i f(x_i)`` exceeds this (``None``: never).
        stop_accuracy: stop a member once its training accuracy reaches this (``None``: never).
        check_every: evaluate the margin and accuracy stop rules every this many steps (>= 1).
        stop_plateau: stop a member once its training loss has plateaued: every ``plateau_window``
            steps, the mean of the loss over the window just ended (steps ``[kw, (k+1)w)``) is at most
            this amount (in the loss's units: nats for the logistic loss) below the mean over the
            window before, and the member stops at step ``(k+1)w`` (``None``: never; the first
            comparison is at step ``2w``, and a window ending at ``steps`` is not compared). An absolute
            amount, because a loss falling toward 0 on separable data keeps falling by a steady
            fraction. The loss is the one each step's gradient comes from (the method's loss, on the
            step's minibatch), so the rule costs no extra pass.
        plateau_window: the window of ``stop_plateau`` in steps (>= 1).
        plateau_below: arm the plateau rule only for a window whose mean loss is below this (nats;
            ``None``: always armed) — the flat start of training from a small initialisation (the
            loss still at ``log 2``) is a saddle, not a plateau.
        method: a training method of :mod:`sims.methods` (adversarial training, TRADES, BAT);
            ``None`` trains on the clean loss ``loss``. With ``batch_size`` a method sees each member's
            own minibatch (``(M, b, d)``), as a per-member data set.
        lr_schedule: ``'constant'``, or ``'cyclic'``: the learning rate rises linearly from 0 to
            ``optimizer.lr`` at 2/5 of the run and falls back to 0 at its end (the cyclic schedule of
            Wong, Rice & Kolter's fast adversarial training code: :func:`cyclic_factor`).
        threshold_rule: for symmetric networks (``ens.threshold`` set), how the threshold moves; applied
            before every step and once at the end (a ``'peak'`` rule reads the whole training set
            ``X``, also under minibatches).
        guard: the catastrophic-overfitting guard (needs an adversarial ``method``).
    """

    steps: int
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    loss: str = "logistic"
    batch_size: int | None = None
    stop_margin: float | None = None
    stop_accuracy: float | None = None
    check_every: int = 1
    stop_plateau: float | None = None
    plateau_window: int = 50
    plateau_below: float | None = None
    method: Method | None = None
    threshold_rule: ThresholdRule | None = None
    guard: OverfitGuard | None = None
    lr_schedule: str = "constant"

    def __post_init__(self) -> None:
        check_int("steps", self.steps, 0)
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_choice("loss", self.loss, LOSSES)
        check_instance("optimizer", self.optimizer, OptimizerConfig, "an OptimizerConfig")
        if self.method is not None:
            check_instance(
                "method", self.method, Method, "a training method of sims.methods or None"
            )
        if self.threshold_rule is not None:
            check_instance(
                "threshold_rule", self.threshold_rule, ThresholdRule, "a ThresholdRule or None"
            )
        if self.guard is not None:
            check_instance("guard", self.guard, OverfitGuard, "an OverfitGuard or None")
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, 1)
        if self.stop_margin is not None:
            check_float("stop_margin", self.stop_margin)
        if self.stop_accuracy is not None:
            check_float("stop_accuracy", self.stop_accuracy, 0.0, 1.0)
        check_int("check_every", self.check_every, 1)
        if self.stop_plateau is not None:
            check_float("stop_plateau", self.stop_plateau, 0.0)
        check_int("plateau_window", self.plateau_window, 1)
        if self.plateau_below is not None:
            check_float("plateau_below", self.plateau_below, 0.0, lo_open=True)
        if self.guard is not None and not hasattr(self.method, "threat"):
            fail(
                "guard",
                "None unless the method is adversarial (guard needs an adversarial training method "
                "with a threat model: PGDAT or FastAT)",
                f"a guard with method={type(self.method).__name__ if self.method else None}",
                raw=True,
            )


@dataclass
class TrainResult:
    """What a training run returns (the ensemble itself is updated in place).

    Attributes:
        steps_taken: updates applied to each member, ``(M,)``.
        stopped: whether each member met a stop rule, ``(M,)``.
        measure_steps: the steps at which ``history`` was measured.
        history: each measured quantity stacked over ``measure_steps``: ``(T, M, ...)``.
        final_loss: mean training loss of each member at the end, ``(M,)``.
        seconds: wall time of the loop.
        guard_step: the step at which the overfitting guard stopped each member (its weights — and
            ``steps_taken`` — are those of the previous check), −1 where it never fired; ``None``
            without a guard.
        guard_acc: the guard's robust accuracy at each check ``(C, M)`` (check 0 before training;
            checks every ``guard.every`` steps and at the last step). A ``measure`` taken at the step
            of a check sees the weights before a restore.
        guard_checks: the steps of those checks ``(C,)``.
        stop_step: the loop step at which each member was stopped (a stop rule, the guard or
            divergence), −1 where it never was, ``(M,)``.
        diverged: whether each member diverged, ``(M,)`` bool: an update would have made a parameter
            non-finite (the member then keeps its last finite parameters and stops), or its final
            loss is not finite. Diverged members are not ``stopped``.
        diverged_step: the step whose update was refused, ``cfg.steps`` where only the final loss was
            not finite, −1 where the member did not diverge, ``(M,)``.
    """

    steps_taken: np.ndarray
    stopped: np.ndarray
    measure_steps: list[int]
    history: dict[str, np.ndarray]
    final_loss: np.ndarray
    seconds: float
    guard_step: np.ndarray | None = None
    guard_acc: np.ndarray | None = None
    guard_checks: np.ndarray | None = None
    stop_step: np.ndarray | None = None
    diverged: np.ndarray | None = None
    diverged_step: np.ndarray | None = None

    def select(self, rows: slice) -> TrainResult:
        """The result of a contiguous subset of members (one row of a grouped sweep), as that subset
        trained alone would report it (the guard's trajectory cut by :meth:`guard_trajectory`;
        ``seconds`` is the whole loop's)."""
        return TrainResult(
            steps_taken=self.steps_taken[rows],
            stopped=self.stopped[rows],
            measure_steps=list(self.measure_steps),
            history={k: v[:, rows] for k, v in self.history.items()},
            final_loss=self.final_loss[rows],
            seconds=self.seconds,
            guard_step=None if self.guard_step is None else self.guard_step[rows],
            guard_acc=None if self.guard_acc is None else self.guard_trajectory(rows),
            guard_checks=None
            if self.guard_checks is None
            else self.guard_checks[: len(self.guard_trajectory(rows))],
            stop_step=None if self.stop_step is None else self.stop_step[rows],
            diverged=None if self.diverged is None else self.diverged[rows],
            diverged_step=None if self.diverged_step is None else self.diverged_step[rows],
        )

    def guard_trajectory(self, rows: slice | Sequence[int]) -> np.ndarray:
        """The guard's accuracies ``(C', len(rows))`` of a subset of members — e.g. one row of a
        grouped sweep (:mod:`sims.simulation`) — exactly as that subset trained alone would record
        them: training alone ends at the check where the subset's last member is stopped, so later
        checks (run only because other members went on) are cut off."""
        if self.guard_acc is None or self.guard_step is None or self.guard_checks is None:
            fail(
                "result",
                "from a run with the overfitting guard (guard_trajectory needs one)",
                "a result without guard data",
                raw=True,
            )
        acc = self.guard_acc[:, rows]
        stop = np.asarray(self.stop_step)[rows]
        if stop.size == 0 or bool(np.any(stop < 0)):
            return acc
        # alone, the loop would have ended at the step where the last of these members stopped
        # (after that step's check, if it had one)
        return acc[: int(np.searchsorted(self.guard_checks, int(np.max(stop)), side="right"))]


def train(
    ens: TrainableModel,
    X: Tensor,
    y: Tensor,
    cfg: TrainConfig,
    *,
    seeds: Sequence[int] | None = None,
    measure: Measure | None = None,
    measure_at: Iterable[int] = (),
    progress: bool = False,
    desc: str = "train",
) -> TrainResult:
    """Train every member of ``ens`` in place on ``(X, y)``.

    Arguments are checked once, before the loop (bad input raises :class:`~sims.errors.AdvsimError`);
    the loop itself runs without per-step input scans. A member that diverges is stopped with its last
    finite parameters and flagged (:attr:`TrainResult.diverged`).

    Args:
        ens: the ensemble (its trainable parameters are updated in place).
        X: inputs ``(n, d)``, finite, of a real floating dtype (cast to the ensemble's dtype and moved
            to its device), or ``(M, n, d)``: one data set per member (full batch only); y: labels
            ``(n,)`` in {-1, +1}, or ``(M, n)`` with per-member data.
        cfg: the training configuration.
        seeds: one seed per member for the minibatch order (required when ``batch_size`` is set).
        measure: called on the ensemble at each step of ``measure_at`` (0 = before training); returns
            named tensors with a leading member axis.
        measure_at: steps (0..``cfg.steps``) at which to call ``measure``.
        progress: show a progress bar (tqdm; silent when not a terminal).
        desc: the progress bar's label.
    """
    _check_model(ens)
    check_instance("cfg", cfg, TrainConfig, "a TrainConfig")
    check_tensor("X", X, shapes=[("n", ens.d), (ens.M, "n", ens.d)], finite=False, nonempty=False)
    n = int(X.shape[-2])
    if n < 1:
        raise AdvsimError("X must hold at least one point (n >= 1); got 0 points")
    check_instance("y", y, Tensor, "a torch tensor of labels in {-1, +1}")
    check_labels("y", y, n, members=ens.M if X.ndim == 3 else None)
    if X.ndim == 3 and cfg.batch_size is not None and cfg.batch_size < n:
        fail(
            "batch_size",
            "None (full batch) when every member has its own data (X of shape (M, n, d))",
            cfg.batch_size,
        )
    X = X.to(device=ens.device, dtype=ens.dtype)
    y = y.to(device=ens.device, dtype=ens.dtype)
    check_tensor("X", X)  # finite, also after the cast to the ensemble's dtype
    check_params = getattr(ens, "check_params", None)
    if callable(check_params):
        check_params()
    if measure is not None and not callable(measure):
        fail("measure", "a callable (ensemble -> named tensors) or None", measure)
    check_bool("progress", progress)
    if not isinstance(desc, str):
        fail("desc", "a string", desc)
    if isinstance(measure_at, str | bytes) or not isinstance(measure_at, Iterable):
        fail("measure_at", "an iterable of steps (integers)", measure_at)
    check_memory("M x n", (ens.M, n), 8 * ens.M * n * X.element_size(), ens.device)
    sym: TwoLayerEnsemble | None = None
    if cfg.threshold_rule is not None:
        if not isinstance(ens, TwoLayerEnsemble) or ens.threshold is None:
            fail(
                "threshold_rule",
                "None for a network without thresholds (threshold_rule needs a symmetric network, "
                "ens.threshold set)",
                cfg.threshold_rule,
            )
        sym = ens
    net: TwoLayerEnsemble | None = None
    if cfg.method is not None:
        if not isinstance(ens, TwoLayerEnsemble):
            fail(
                "ens", "a TwoLayerEnsemble when cfg.method is set (training methods need one)", ens
            )
        net = ens
        cfg.method.check_call(net, X, y, 0)
        check_members = getattr(cfg.method, "check_members", None)
        if callable(check_members):
            check_members(net.M)
    M = ens.M
    batch = cfg.batch_size
    if batch is not None and batch >= n:
        batch = None
    gens: list[torch.Generator] = []
    if batch is not None:
        if (
            seeds is None
            or isinstance(seeds, str)
            or not isinstance(seeds, Sequence | np.ndarray)
            or len(seeds) != M
        ):
            raise AdvsimError(
                f"seeds must give one seed per member (M={M}) for minibatch training; got {seeds!r}"
            )
        seeds = check_seeds("seeds", seeds)
        gens = [torch.Generator().manual_seed(int(s) + 7_919) for s in seeds]
    steps_wanted = sorted({check_int("measure_at step", t, 0, cfg.steps) for t in measure_at})
    history: dict[str, list[np.ndarray]] = {}

    def record() -> None:
        assert measure is not None
        for key, val in measure(ens).items():
            history.setdefault(key, []).append(val.detach().cpu().numpy())

    params = {k: v for k, v in ens.params().items() if k in ens.trainable}
    opt = Optimizer(cfg.optimizer, params)
    cyclic = cfg.lr_schedule == "cyclic"
    base_lr = opt.lr.clone()
    active = torch.ones(M, dtype=torch.bool, device=ens.device)
    steps_taken = torch.zeros(M, dtype=torch.long, device=ens.device)
    check_stop = cfg.stop_margin is not None or cfg.stop_accuracy is not None
    plateau = cfg.stop_plateau is not None
    tol = 0.0 if cfg.stop_plateau is None else cfg.stop_plateau
    window_sum = torch.zeros(M, dtype=ens.dtype, device=ens.device)
    prev_window: Tensor | None = None
    perms: Tensor | None = None
    n_batches = 0 if batch is None else -(-n // batch)
    next_measure = 0
    guard = cfg.guard
    guard_step = torch.full((M,), -1, dtype=torch.long, device=ens.device)
    guard_accs: list[Tensor] = []
    guard_checks: list[int] = []
    stop_step = torch.full((M,), -1, dtype=torch.long, device=ens.device)
    diverged = torch.zeros(M, dtype=torch.bool, device=ens.device)
    diverged_step = torch.full((M,), -1, dtype=torch.long, device=ens.device)
    snapshot_step = torch.zeros(M, dtype=torch.long, device=ens.device)
    snapshot: dict[str, Tensor] = {}
    t0 = time.perf_counter()
    bar = tqdm(total=cfg.steps, desc=desc, disable=not progress, leave=False)
    with torch.no_grad(), assume_valid():
        for step in range(cfg.steps + 1):
            if cfg.threshold_rule is not None and sym is not None:
                sym.threshold = cfg.threshold_rule(sym, X)
            if next_measure < len(steps_wanted) and steps_wanted[next_measure] == step:
                if measure is not None:
                    record()
                next_measure += 1
            if (
                guard is not None
                and net is not None
                and (step % guard.every == 0 or step == cfg.steps)
            ):
                acc = _guard_accuracy(net, X, y, cfg, guard, step)
                # as the authors, the first check after training began is compared with 0, not with
                # the untrained net (whose robust accuracy may be high by chance)
                if len(guard_accs) >= 2:
                    fell = active & (guard_accs[-1] - acc > guard.drop)
                    if bool(fell.any()):
                        for k, p in params.items():
                            p[fell] = snapshot[k][fell]
                        active &= ~fell
                        guard_step[fell] = step
                        stop_step[fell] = step
                        steps_taken[fell] = snapshot_step[fell]
                        acc = torch.where(fell, guard_accs[-1], acc)
                        if sym is not None and cfg.threshold_rule is not None:
                            sym.threshold = cfg.threshold_rule(sym, X)
                guard_accs.append(acc)
                guard_checks.append(step)
                for k, p in params.items():
                    snapshot[k] = torch.where(_bcast(active, p), p, snapshot.get(k, p)).clone()
                snapshot_step = torch.where(active, steps_taken, snapshot_step)
                if not bool(active.any()):
                    break
            if step == cfg.steps:
                break
            f_full: Tensor | None = None
            grads: dict[str, Tensor] | None = None
            value: Tensor | None = None
            if cfg.method is not None and net is not None and batch is None:
                value, grads = cfg.method.loss_grads(net, X, y, step)
            elif batch is None:  # full batch: the stop rule reuses the outputs of the gradient pass
                f_full, grads = ens.loss_grads(X, y, cfg.loss)
                if plateau:
                    value = loss_value(cfg.loss, f_full, y).mean(dim=1)
            if check_stop and step % cfg.check_every == 0:
                if f_full is None:
                    f_full = ens.forward(X)
                margins = y * f_full
                done = torch.zeros(M, dtype=torch.bool, device=ens.device)
                if cfg.stop_margin is not None:
                    done |= margins.min(dim=1).values > cfg.stop_margin
                if cfg.stop_accuracy is not None:
                    done |= (margins > 0).to(X.dtype).mean(dim=1) >= cfg.stop_accuracy
                stop_step[active & done] = step
                active &= ~done
                if not bool(active.any()):
                    break
            if grads is None:
                j = step % n_batches
                if j == 0:
                    perms = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(X.device)
                assert perms is not None and batch is not None
                idx = perms[:, j * batch : (j + 1) * batch]
                if cfg.method is not None and net is not None:
                    value, grads = cfg.method.loss_grads(net, X[idx], y[idx], step)
                else:
                    f_batch, grads = ens.loss_grads(X[idx], y[idx], cfg.loss)
                    if plateau:
                        value = loss_value(cfg.loss, f_batch, y[idx]).mean(dim=1)
            if plateau:
                assert value is not None
                if step > 0 and step % cfg.plateau_window == 0:
                    mean_loss = window_sum / cfg.plateau_window
                    if prev_window is not None:
                        flat = active & (prev_window - mean_loss <= tol)
                        if cfg.plateau_below is not None:
                            flat &= mean_loss < cfg.plateau_below
                        stop_step[flat] = step
                        active &= ~flat
                    prev_window, window_sum = mean_loss, torch.zeros_like(window_sum)
                    if not bool(active.any()):
                        break
                window_sum += value
            if cyclic:
                opt.lr = base_lr * cyclic_factor(step, cfg.steps)
            bad = opt.step(params, grads, None if bool(active.all()) else active)
            if bad is not None:  # divergence: those members keep their last finite parameters
                diverged |= bad
                diverged_step[bad] = step
                stop_step[bad] = step
                active &= ~bad
            steps_taken += active.to(torch.long)
            bar.update(1)
            if bad is not None and not bool(active.any()):
                break
        bar.close()
        # members are frozen once stopped, so later measurements equal the last state
        while measure is not None and next_measure < len(steps_wanted):
            record()
            next_measure += 1
        final_loss = loss_value(cfg.loss, ens.forward(X), y).mean(dim=1)
        lost = ~torch.isfinite(final_loss) & ~diverged
        if bool(lost.any()):
            diverged |= lost
            diverged_step[lost] = cfg.steps
    seconds = time.perf_counter() - t0
    log = _DIVERGENCE_LOG.get()
    if log is not None:
        log.append(diverged.cpu().numpy())
    return TrainResult(
        steps_taken=steps_taken.cpu().numpy(),
        stopped=(~active & ~diverged).cpu().numpy(),
        measure_steps=steps_wanted,
        history={k: np.stack(v) for k, v in history.items()},
        final_loss=final_loss.cpu().numpy(),
        seconds=seconds,
        guard_step=None if guard is None else guard_step.cpu().numpy(),
        guard_acc=None if guard is None else torch.stack(guard_accs).cpu().numpy(),
        guard_checks=None if guard is None else np.asarray(guard_checks, dtype=np.int64),
        stop_step=stop_step.cpu().numpy(),
        diverged=diverged.cpu().numpy(),
        diverged_step=diverged_step.cpu().numpy(),
    )


#: Where the cyclic schedule peaks, as a share of the run (Wong, Rice & Kolter's code: 2/5).
CYCLIC_PEAK = 0.4


def cyclic_factor(step: int, steps: int) -> float:
    """The multiplier of the learning rate at step ``step`` (0-based) of ``steps`` under
    ``lr_schedule='cyclic'``: piecewise linear in ``u = (step + 1)/steps`` from 0 at ``u = 0`` to 1 at
    ``u =`` :data:`CYCLIC_PEAK` and back to 0 at ``u = 1`` (Wong, Rice & Kolter's cyclic schedule),
    floored at ``1/steps`` so that no step is skipped."""
    steps = check_int("steps", steps, 1)
    step = check_int("step", step, 0, steps - 1)
    u = (step + 1) / steps
    tri = u / CYCLIC_PEAK if u <= CYCLIC_PEAK else (1.0 - u) / (1.0 - CYCLIC_PEAK)
    return max(tri, 1.0 / steps)


def guard_replay(guard_acc: np.ndarray, drop: float) -> np.ndarray:
    """Where the overfitting guard of :func:`train` would stop each member, read from the guard's
    accuracies of a run in which it never acted (``drop`` out of reach): ``(M,)`` check indices, −1
    where it would not fire.

    The guard compares each check ``c >= 2`` with the previous one and, on a fall of more than
    ``drop``, stops the member with the weights of check ``c − 1``. Members train independently, so a
    guarded run is the unguarded one cut there (tested against :func:`train` with the guard): the
    guarded member's final weights — and whatever was measured on them — are those of check
    ``fired − 1``.

    Args:
        guard_acc: the guard's robust accuracy at each check ``(C, M)``
            (:attr:`TrainResult.guard_acc` of a run with an unreachable ``drop``).
        drop: the guard's tolerated fall (>= 0).
    """
    acc = np.asarray(guard_acc, dtype=np.float64)
    if acc.ndim != 2:
        fail("guard_acc", "an array (checks, members)", guard_acc, verb="be")
    drop = check_float("drop", drop, 0.0)
    fell = np.zeros(acc.shape, dtype=bool)
    fell[2:] = acc[1:-1] - acc[2:] > drop
    return np.where(fell.any(axis=0), fell.argmax(axis=0), -1)


def _check_model(ens: object) -> None:
    """Raise unless ``ens`` has what :func:`train` needs (:class:`~sims.nets.TrainableModel`)."""
    needed = ("M", "d", "dtype", "device", "trainable", "params", "forward", "loss_grads")
    if not all(hasattr(ens, a) for a in needed):
        fail(
            "ens",
            "a trainable model (TwoLayerEnsemble, LinearEnsemble or LinearizedEnsemble)",
            ens,
        )
    params = {k: v for k, v in ens.params().items() if k in ens.trainable}  # type: ignore[attr-defined]
    if not params:
        fail("ens.trainable", "at least one trained parameter", ens.trainable)  # type: ignore[attr-defined]


def _bcast(mask: Tensor, like: Tensor) -> Tensor:
    return mask.view(-1, *([1] * (like.ndim - 1)))


def _guard_accuracy(
    net: TwoLayerEnsemble, X: Tensor, y: Tensor, cfg: TrainConfig, guard: OverfitGuard, step: int
) -> Tensor:
    """Robust accuracy of every member on the guard's fixed batch (PGD in the method's threat model)."""
    from sims.attacks import PGD

    threat = cfg.method.threat()  # type: ignore[union-attr]
    Xg, yg = X[..., : guard.n_points, :], y[..., : guard.n_points]
    res = PGD(steps=guard.attack_steps, seed=step)(net, Xg, yg, threat)
    return ((res.margin > 0) & (res.clean_margin > 0)).to(X.dtype).mean(dim=1)
