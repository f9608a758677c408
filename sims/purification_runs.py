"""The shared setting of the feature-purification simulations (08–11): sparse-coding data, the
symmetric network, clean training, adversarial training continued from the clean weights, and the
measurements every one of those sims records.

Allen-Zhu & Li (2020), shared/PAPERS.md §2. Every constant the paper only recalls is a field of
:class:`PurificationSetup` (dictionary, code law, noise, width, init scale, threshold rule, steps), so a
verdict can say which reading it tested. The threshold follows :class:`sims.nets.ThresholdRule`, set
before every step, in one of four readings of the paper's schedule:

* ``'noise'`` (default): ``t_i = threshold · ‖w_i‖₂/√d`` — ``threshold`` standard deviations of a
  neuron's response to a random unit input, so a neuron ignores what is noise to it at any scale;
* ``'signal'``: ``t_i = threshold · ‖w_i‖₂/√k`` — a share of one atom's signal ``1/√k``;
* ``'peak'``: ``t_i = threshold · min(‖w_i‖₂/√k, max_n |⟨w_i, x_n⟩|)`` over the training inputs —
  the ``'signal'`` share of one atom's signal once the neuron's largest response reaches one atom's
  (a neuron on an atom — or, for ``k ≳ √d``, a dense one along the average input), and that share of
  its largest response before: within reach at a random initialisation whatever ``d/k`` is, where the
  ``'signal'`` threshold is ``√d·threshold/√k`` standard deviations of a random neuron's response (at
  ``d ≫ k`` no neuron fires and nothing trains);
* ``'constant'``: ``t_i = threshold``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypedDict

import numpy as np
import torch
from torch import Tensor

from sims.attacks import PGD, AttackResult, MinNorm
from sims.baselines import LinearizedEnsemble
from sims.errors import check_choice, check_float, check_int
from sims.losses import LOSSES
from sims.measure import (
    accuracy,
    mixture_correlations,
    neuron_decomposition,
    perturbation_structure,
)
from sims.methods import PGDAT, FastAT, Method
from sims.nets import (
    LinearEnsemble,
    ScalarModel,
    ThresholdRule,
    TwoLayerEnsemble,
    symmetric_ensemble,
)
from sims.optim import OptimizerConfig
from sims.real_data import PATCH_DICTIONARIES, image_patches
from sims.simulation import member_seeds, torch_dtype
from sims.sparse import SparseCodingData, SparseCodingLaw, make_sparse_data
from sims.threat import L2Ball, LinfBall, ThreatModel
from sims.training import Measure, TrainConfig, TrainResult, train
from sims.validate import check_defaults, fail

__all__ = [
    "DICTIONARY_VARIANTS",
    "PURIFICATION_SOURCES",
    "ATSpec",
    "CleanRun",
    "Condition",
    "FromInitSchedule",
    "PurificationSetup",
    "attack_points",
    "clean_summary",
    "continue_at",
    "continue_training",
    "continue_with",
    "correct_points",
    "data_arrays",
    "dictionary_variant",
    "flip_radii",
    "from_init_schedule",
    "neuron_arrays",
    "purification_path",
    "setup_data",
    "setup_variants",
    "threat",
    "train_clean",
    "train_linear",
    "train_ntk",
]


#: Where a purification run's data come from: the generator, or image patches labelled by a teacher on
#: their codes or by their photograph.
PURIFICATION_SOURCES = ("synthetic", "patches_teacher", "patches_image")
#: The dimension of the patches (8×8 pixels).
PATCH_D = 64
#: The readings of the paper's threshold schedule (see the module docstring).
THRESHOLD_KINDS = ("noise", "signal", "peak", "constant")
#: The most patches :func:`sims.real_data.image_patches` draws per split.
MAX_PATCHES = 50_000
#: The law's generator fields that real patches leave at their defaults.
_LAW_DEFAULTS: dict[str, object] = {
    "support": "exact",
    "magnitude": "sign",
    "noise": 0.0,
    "teacher": "signs",
}


@dataclass(frozen=True)
class PurificationSetup:
    """Data, network and clean training of one feature-purification run (members differ by seed).

    Data: :class:`sims.sparse.SparseCodingLaw` fields (``d, k, D, dictionary, support, magnitude,
    noise, teacher``), ``n`` training and ``n_test`` test points. Network: width ``m``, weights
    ``N(0, init_scale²/d)``, ``act`` (``'relu'`` or ``'smooth_relu'`` of width ``act_width``), threshold
    rule ``threshold_kind`` with value ``threshold``. Clean training: ``clean_steps`` steps of size
    ``lr`` on ``loss`` — full-batch GD, or SGD on minibatches of ``batch_size`` (drawn per member from
    its seed). ``clean_plateau`` replaces the fixed step count by the trainer's loss-plateau stop rule
    (:class:`sims.training.TrainConfig`: a member stops once its mean loss over a 50-step window fell by
    at most this many nats; ``clean_steps`` is then the most steps a member may take), armed only once
    that window's mean loss is below ``clean_plateau_below`` nats (``None``: always). Adversarial
    training (:class:`ATSpec`) is full-batch. ``shuffle_labels`` permutes the training labels (a
    control: labels unrelated to the codes); ``shuffle_draw`` chooses the permutation (another draw: a
    second control with the same law).

    ``source`` chooses the data: ``"synthetic"`` (the generator, from the law's fields) or 8×8 patches
    of scikit-learn's sample photographs on a dictionary learned from them
    (:func:`sims.real_data.image_patches`, ``d = 64``; ``dictionary`` ``"orthonormal"`` or
    ``"overcomplete"`` with ``D`` atoms, codes with ``k`` non-zeros): ``"patches_teacher"`` labels a
    patch by a teacher on its code, ``"patches_image"`` by the photograph it comes from. Real data are
    described, not drawn: the law's ``support``, ``magnitude``, ``noise`` and ``teacher`` keep their
    defaults (the loader measures the noise), and ``seed`` seeds the patches and the dictionary.
    ``dictionary_k`` is the sparsity an orthonormal dictionary is learned for (default ``k``): dense
    codes on the dictionary of 4-sparse ones are ``k = d, dictionary_k = 4``.
    """

    d: int = 64
    k: int = 4
    D: int | None = None
    dictionary: str = "identity"
    support: str = "exact"
    magnitude: str = "sign"
    noise: float = 0.0
    teacher: str = "signs"
    n: int = 2000
    n_test: int = 1000
    m: int = 256
    init_scale: float = 0.01
    act: str = "relu"
    act_width: float = 1.0
    threshold_kind: str = "noise"
    threshold: float = 2.0
    lr: float = 0.5
    clean_steps: int = 400
    clean_plateau: float | None = None
    clean_plateau_below: float | None = None
    batch_size: int | None = None
    shuffle_labels: bool = False
    shuffle_draw: int = 0
    loss: str = "logistic"
    n_seeds: int = 2
    seed: int = 0
    dtype: str = "float64"
    source: str = "synthetic"
    dictionary_k: int | None = None

    def __post_init__(self) -> None:
        check_choice("source", self.source, PURIFICATION_SOURCES)
        if self.source == "synthetic" and self.dictionary_k is not None:
            fail(
                "dictionary_k",
                "None for generated data (it chooses a learned dictionary)",
                self.dictionary_k,
            )
        if self.source != "synthetic":
            check_int("d", self.d, PATCH_D, PATCH_D)
            check_choice("dictionary", self.dictionary, PATCH_DICTIONARIES)
            if self.D is not None:
                if self.dictionary == "orthonormal":
                    check_int("D", self.D, PATCH_D, PATCH_D)
                else:
                    check_int("D", self.D, PATCH_D + 1, 16 * PATCH_D)
            check_int("n", self.n, 2, MAX_PATCHES)
            check_int("n_test", self.n_test, 1, MAX_PATCHES)
            if self.dictionary_k is not None:
                if self.dictionary != "orthonormal":
                    fail(
                        "dictionary_k",
                        "None with the overcomplete dictionary (only an orthonormal one is learned "
                        "for a sparsity)",
                        self.dictionary_k,
                    )
                check_int("dictionary_k", self.dictionary_k, 1, PATCH_D)
            check_defaults(
                self, _LAW_DEFAULTS, f"with source={self.source!r} (real data are not generated)"
            )
        self.law()
        check_int("n", self.n, 1)
        check_int("n_test", self.n_test, 1)
        check_int("m", self.m, 1)
        check_float("init_scale", self.init_scale, 0.0, lo_open=True)
        check_choice("act", self.act, ("relu", "smooth_relu"))
        check_float("act_width", self.act_width, 0.0, lo_open=True)
        check_choice("threshold_kind", self.threshold_kind, THRESHOLD_KINDS)
        check_float("threshold", self.threshold, 0.0)
        check_float("lr", self.lr, 0.0, lo_open=True)
        check_int("clean_steps", self.clean_steps, 0)
        if self.clean_plateau is not None:
            check_float("clean_plateau", self.clean_plateau, 0.0)
        if self.clean_plateau_below is not None:
            check_float("clean_plateau_below", self.clean_plateau_below, 0.0, lo_open=True)
        check_int("shuffle_draw", self.shuffle_draw, 0)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, 1)
        check_choice("loss", self.loss, LOSSES)
        check_int("n_seeds", self.n_seeds, 1)
        check_int("seed", self.seed, 0)
        check_choice("dtype", self.dtype, ("float32", "float64"))

    def law(self) -> SparseCodingLaw:
        """The data law."""
        return SparseCodingLaw(
            d=self.d,
            k=self.k,
            D=self.D,
            dictionary=self.dictionary,
            support=self.support,
            magnitude=self.magnitude,
            noise=self.noise,
            teacher=self.teacher,
        )

    def rule(self) -> ThresholdRule:
        """The threshold rule of ``threshold_kind`` (see the module docstring)."""
        if self.threshold_kind == "noise":
            return ThresholdRule("relative", self.threshold / math.sqrt(self.d))
        if self.threshold_kind == "signal":
            return ThresholdRule("relative", self.threshold / math.sqrt(self.k))
        if self.threshold_kind == "peak":
            return ThresholdRule("peak", self.threshold, cap=self.threshold / math.sqrt(self.k))
        return ThresholdRule("constant", self.threshold)


@dataclass(frozen=True)
class ATSpec:
    """Adversarial training continued from the clean weights.

    Attributes:
        norm: ``'linf'`` or ``'l2'``.
        eps: the radius.
        attack: ``'pgd'`` (``attack_steps`` steps of ``2.5ε/steps`` from a random start), ``'fgm'``
            (one step of ε from the clean point: FGSM for ℓ∞, FGM for ℓ2) or ``'fast'`` (FGSM-RS:
            one step of ``1.25ε`` from a random start, :class:`sims.methods.FastAT`).
        attack_steps: PGD steps (ignored for FGM).
        steps: full-batch training steps.
        lr: step size (``None``: the clean training's).
        eps_ramp: the radius grows linearly from ``ε/eps_ramp`` to ``ε`` over this many first steps
            (0: the full radius from the first step; :class:`sims.methods.PGDAT`) — adversarial
            training started from the initialisation, where the network has no features yet.
    """

    norm: str = "linf"
    eps: float = 0.125
    attack: str = "pgd"
    attack_steps: int = 5
    steps: int = 200
    lr: float | None = None
    eps_ramp: int = 0

    def __post_init__(self) -> None:
        check_choice("norm", self.norm, ("linf", "l2"))
        check_float("eps", self.eps, 0.0)
        check_choice("attack", self.attack, ("pgd", "fgm", "fast"))
        check_int("attack_steps", self.attack_steps, 1)
        check_int("steps", self.steps, 0)
        if self.lr is not None:
            check_float("lr", self.lr, 0.0, lo_open=True)
        check_int("eps_ramp", self.eps_ramp, 0, self.steps)

    def method(self, loss: str, seed: int) -> PGDAT:
        """The training method."""
        if self.attack == "fast":
            start = "radius" if self.norm == "l2" else "uniform"
            return FastAT(
                norm=self.norm,
                eps=self.eps,
                start=start,
                loss=loss,
                seed=seed,
                eps_ramp=self.eps_ramp,
            )
        if self.attack == "fgm":
            return PGDAT(
                norm=self.norm,
                eps=self.eps,
                steps=1,
                rel_stepsize=1.0,
                random_start=False,
                loss=loss,
                seed=seed,
                eps_ramp=self.eps_ramp,
            )
        return PGDAT(
            norm=self.norm,
            eps=self.eps,
            steps=self.attack_steps,
            loss=loss,
            seed=seed,
            eps_ramp=self.eps_ramp,
        )


#: The dictionary variants every purification simulation on generated data can run under.
DICTIONARY_VARIANTS = ("orthonormal", "overcomplete", "noise")
#: The noise of the ``'noise'`` variant: ``‖ξ‖ ≈ 0.1`` against ``‖Mz‖ = 1`` (ξ ~ N(0, 0.1²/d I)), below
#: the clean nets' median minimal ℓ2 flip radius for ``k ≤ 4`` (0.16–0.22 in simulation 08) and about
#: at it for ``k = 8`` (0.10), yet every coordinate of every point is non-zero.
VARIANT_NOISE = 0.1
#: The overcomplete variant's atoms per dimension (``D = 2d`` unit-norm columns).
VARIANT_OVERCOMPLETE = 2


def dictionary_variant(setup: PurificationSetup, name: str) -> PurificationSetup:
    """``setup`` under one of the generator's other settings (PAPERS.md §2: the paper's ``M`` is
    orthonormal and its result is said to extend to well-conditioned or overcomplete ``M``; ``ξ`` is
    small dense noise; issue #15, item 8): ``'orthonormal'`` (a random orthonormal ``M``),
    ``'overcomplete'`` (``D = 2d`` random unit-norm columns; dense codes, ``k = d``, become ``k = D``:
    still every atom, and the dense controls' ℓ∞ radius ``d^{-3/2}`` still far below a code entry
    ``1/√D``) or ``'noise'`` (the setup's dictionary — the identity in simulations 08 and 09 — with
    ``ξ ≠ 0``: :data:`VARIANT_NOISE`). Everything else — codes, labels, network, training — is kept."""
    check_choice("variant", name, DICTIONARY_VARIANTS)
    if setup.source != "synthetic":
        fail(
            "setup.source",
            "'synthetic' (generated data) to run under a dictionary variant",
            setup.source,
        )
    if name == "orthonormal":
        return replace(setup, dictionary="orthonormal", D=None)
    if name == "overcomplete":
        D = VARIANT_OVERCOMPLETE * setup.d
        return replace(
            setup, dictionary="overcomplete", D=D, k=D if setup.k == setup.d else setup.k
        )
    return replace(setup, noise=VARIANT_NOISE)


def setup_variants() -> dict[str, Callable[[Any], Any]]:
    """:attr:`sims.simulation.Simulation.variants` for a simulation whose configs carry a
    :class:`PurificationSetup` as ``setup``: each :data:`DICTIONARY_VARIANTS` entry changes that setup
    by :func:`dictionary_variant`."""

    def one(name: str) -> Callable[[Any], Any]:
        def apply(cfg: Any) -> Any:
            return replace(cfg, setup=dictionary_variant(cfg.setup, name))

        return apply

    return {name: one(name) for name in DICTIONARY_VARIANTS}


@dataclass(frozen=True)
class Condition:
    """One row of a purification simulation's grid: a name, its role (``law``: the paper's conditions
    hold; ``control``: one is broken), the setup and the adversarial trainings to continue with."""

    condition: str
    role: str
    setup: PurificationSetup
    at: tuple[ATSpec, ...] = ()

    def __post_init__(self) -> None:
        check_choice("role", self.role, ("law", "control"))


@dataclass
class CleanRun:
    """A clean-trained run: data (train, test), tensors, the ensemble at init and after training."""

    setup: PurificationSetup
    data: SparseCodingData
    test: SparseCodingData
    X: Tensor
    y: Tensor
    X_test: Tensor
    y_test: Tensor
    ens0: TwoLayerEnsemble
    ens: TwoLayerEnsemble
    steps_taken: np.ndarray | None = None

    @property
    def seeds(self) -> list[int]:
        """The members' seeds."""
        return member_seeds(self.setup.seed, self.setup.n_seeds)


def _tensors(data: SparseCodingData, dtype: torch.dtype, device: str) -> tuple[Tensor, Tensor]:
    return (
        torch.as_tensor(data.X, dtype=dtype, device=device),
        torch.as_tensor(data.y, dtype=dtype, device=device),
    )


def setup_data(s: PurificationSetup) -> tuple[SparseCodingData, SparseCodingData]:
    """The training and test data of a setup: drawn from its law, or the image patches of ``source``
    (:func:`sims.real_data.image_patches`)."""
    if s.source != "synthetic":
        return image_patches(
            s.k,
            dictionary=s.dictionary,
            atoms=s.D,
            labels=s.source.removeprefix("patches_"),
            n=s.n,
            n_test=s.n_test,
            seed=s.seed,
            learn_k=s.dictionary_k,
        )
    data = make_sparse_data(s.law(), s.n, s.seed)
    return data, data.sample(s.n_test, s.seed + 1_000_003)


def train_clean(s: PurificationSetup, device: str = "cpu") -> CleanRun:
    """Get the data (:func:`setup_data`), initialise the symmetric ensemble and train it clean
    (full-batch GD)."""
    dtype = torch_dtype(s.dtype)
    data, test = setup_data(s)
    X, y = _tensors(data, dtype, device)
    if s.shuffle_labels:
        key = [s.seed, 2] if s.shuffle_draw == 0 else [s.seed, 2, s.shuffle_draw]
        perm = np.random.default_rng(key).permutation(s.n)
        y = y[torch.as_tensor(perm, device=y.device)]
    Xt, yt = _tensors(test, dtype, device)
    seeds = member_seeds(s.seed, s.n_seeds)
    ens = symmetric_ensemble(
        s.d,
        s.m,
        seeds=seeds,
        init_scale=s.init_scale,
        act=s.act,
        act_width=s.act_width,
        dtype=dtype,
        device=device,
    )
    ens.threshold = s.rule()(ens, X)
    ens0 = ens.clone()
    cfg = TrainConfig(
        steps=s.clean_steps,
        loss=s.loss,
        optimizer=OptimizerConfig(lr=s.lr),
        batch_size=s.batch_size,
        threshold_rule=s.rule(),
        stop_plateau=s.clean_plateau,
        plateau_below=s.clean_plateau_below,
    )
    res = train(ens, X, y, cfg, seeds=seeds)
    return CleanRun(s, data, test, X, y, Xt, yt, ens0, ens, res.steps_taken)


class FromInitSchedule(TypedDict):
    """:func:`from_init_schedule`'s fields of :class:`ATSpec` (or of a simulation's row)."""

    steps: int
    eps_ramp: int


def from_init_schedule(clean_steps: int, steps: int) -> FromInitSchedule:
    """The schedule of adversarial training started from the initialisation instead of from clean
    weights (the purification principle's control, simulations 09 and 17): as many steps as the clean
    and the continued training together, the radius ramped up linearly over the clean training's share
    (``eps_ramp``: ``ε/clean_steps`` at the first step, the full ``ε`` from step ``clean_steps − 1``),
    as ``{"steps": ..., "eps_ramp": ...}``.

    Why a ramp: at the full radius from the first step the nets from the small initialisation die —
    at simulation 09's quick rung 82% of the test outputs end exactly 0 (clean accuracy 0.18 against
    0.98), and a control that did not train is not a control. The ramp is the usual ε warm-up of
    adversarial training from scratch (:class:`sims.methods.PGDAT`)."""
    check_int("clean_steps", clean_steps, 0)
    check_int("steps", steps, 0)
    return FromInitSchedule(steps=clean_steps + steps, eps_ramp=clean_steps)


def continue_at(run: CleanRun, spec: ATSpec) -> TwoLayerEnsemble:
    """Adversarial training continued from the clean weights (a copy; the clean run is untouched)."""
    s = run.setup
    return continue_with(run, spec.method(s.loss, s.seed), spec.steps, spec.lr)


def continue_with(
    run: CleanRun, method: Method, steps: int, lr: float | None = None
) -> TwoLayerEnsemble:
    """Any training method (PGD-AT, TRADES, BAT, ...) continued from the clean weights, full batch,
    with the setup's threshold rule (a copy; the clean run is untouched)."""
    return continue_training(run, method, steps, lr)[0]


def continue_training(
    run: CleanRun,
    method: Method,
    steps: int,
    lr: float | None = None,
    *,
    batch_size: int | None = None,
    stop_plateau: float | None = None,
    plateau_window: int = 50,
    measure: Measure | None = None,
    measure_at: Iterable[int] = (),
) -> tuple[TwoLayerEnsemble, TrainResult]:
    """:func:`continue_with` with minibatches of ``batch_size`` (drawn per member from its seed),
    the trainer's loss-plateau stop rule (:class:`sims.training.TrainConfig`: ``steps`` is then the
    most steps a member may take) and its ``measure`` hook (:func:`sims.training.train`: called on the
    ensemble at the steps ``measure_at``, 0 = before the first update); returns the trained copy and the
    training result (stop steps, the measured history)."""
    s = run.setup
    ens = run.ens.clone()
    cfg = TrainConfig(
        steps=steps,
        loss=s.loss,
        optimizer=OptimizerConfig(lr=lr if lr is not None else s.lr),
        threshold_rule=s.rule(),
        method=method,
        batch_size=batch_size,
        stop_plateau=stop_plateau,
        plateau_window=plateau_window,
    )
    return ens, train(
        ens, run.X, run.y, cfg, seeds=run.seeds, measure=measure, measure_at=measure_at
    )


def train_linear(run: CleanRun, steps: int, lr: float) -> LinearEnsemble:
    """Logistic regression ``f = w·x + c`` from zero on the training points (one per member; the loss
    is convex, so members agree — kept per member for a uniform record shape)."""
    lin = LinearEnsemble.zeros(run.ens.M, run.setup.d, dtype=run.ens.dtype, device=run.ens.device)
    train(
        lin,
        run.X,
        run.y,
        TrainConfig(steps=steps, loss=run.setup.loss, optimizer=OptimizerConfig(lr=lr)),
    )
    return lin


def train_ntk(run: CleanRun, steps: int, lr: float, init_scale: float = 1.0) -> LinearizedEnsemble:
    """The network's NTK model: the symmetric network's linearisation at a standard init
    (``N(0, init_scale²/d)`` weights, the threshold rule evaluated there), trained on ``Δ`` by GD."""
    s = run.setup
    base = symmetric_ensemble(
        s.d, s.m, seeds=run.seeds, init_scale=init_scale, dtype=run.ens.dtype, device=run.ens.device
    )
    base.threshold = s.rule()(base, run.X)
    ntk = LinearizedEnsemble.at_init(base)
    train(
        ntk, run.X, run.y, TrainConfig(steps=steps, loss=s.loss, optimizer=OptimizerConfig(lr=lr))
    )
    return ntk


def threat(norm: str, eps: float = 0.0) -> ThreatModel:
    """The ball of ``norm`` (``'linf'`` or ``'l2'``)."""
    return (
        LinfBall(eps=eps)
        if check_choice("norm", norm, ("linf", "l2")) == "linf"
        else L2Ball(eps=eps)
    )


def attack_points(
    model: TwoLayerEnsemble, X: Tensor, y: Tensor, norm: str, eps: float, steps: int = 50
) -> AttackResult:
    """PGD (``steps`` steps, random start) at radius ``eps``: the perturbations whose structure the
    paper's Figure 5 draws."""
    return PGD(steps=steps)(model, X, y, threat(norm, eps))


#: The minimal-perturbation attack of the purification simulations (09, 17): the radius bisected in 8
#: steps with PGD-10, one start.
MINIMAL_L2 = MinNorm(
    norm="l2",
    restarts=1,
    search_steps=8,
    search_attack=PGD(steps=10, restarts=1, schedule="linear"),
)


#: The minimal ℓ∞ flip radius's attack, as cheap as :data:`MINIMAL_L2`.
MINIMAL_LINF = MinNorm(
    norm="linf",
    restarts=1,
    search_steps=8,
    search_attack=PGD(steps=10, restarts=1, schedule="linear"),
)


def purification_path(data: SparseCodingData) -> Measure:
    """A :func:`sims.training.train` ``measure`` hook: each neuron's dense mixture per unit of its norm,
    ``‖Mᵀv_i‖₁/‖w_i‖`` (``path_mixture``), and its purity ``|c_ij*|/‖c_i‖`` (``path_purity``), ``(M, m)``
    each — the purification's course during adversarial training (issue #15, item 6; the decomposition
    of :func:`sims.measure.neuron_decomposition`)."""

    def measure(ens: ScalarModel) -> dict[str, Tensor]:
        assert isinstance(ens, TwoLayerEnsemble)
        W = ens.W.detach().cpu().numpy()
        dec = neuron_decomposition(W, data.dictionary, data.w_star)
        rel = dec["mixture_l1"] / np.linalg.norm(W, axis=-1)
        return {
            "path_mixture": torch.as_tensor(rel),
            "path_purity": torch.as_tensor(dec["purity"]),
        }

    return measure


def flip_radii(model: TwoLayerEnsemble, X: Tensor, y: Tensor) -> dict[str, np.ndarray]:
    """Each point's minimal ℓ∞ and ℓ2 flip radius (:data:`MINIMAL_LINF`, :data:`MINIMAL_L2`; upper
    bounds — every perturbation found is verified adversarial): ``flip_linf``, ``flip_l2``, ``(M, n)``,
    NaN where the point is misclassified, ``inf`` where no flip was found [PAPERS.md §2: *measure* the
    clean net's flip radius]."""
    correct = correct_points(model, X, y)
    out = {}
    for norm, attack in (("linf", MINIMAL_LINF), ("l2", MINIMAL_L2)):
        dist = attack(model, X, y).dist.cpu().numpy()
        out[f"flip_{norm}"] = np.where(correct, dist, np.nan)
    return out


def minimal_structure(
    model: TwoLayerEnsemble,
    X: Tensor,
    y: Tensor,
    Z: np.ndarray,
    dictionary: np.ndarray,
    attack: MinNorm = MINIMAL_L2,
    prefix: str = "",
) -> dict[str, np.ndarray]:
    """Each point's *minimal* ℓ2 perturbation (``attack``, :class:`sims.attacks.MinNorm`) and where it
    sits in the dictionary basis (:func:`sims.measure.perturbation_structure`; PAPERS.md §2, the paper's
    Figure 5 read without a fixed radius): ``min_dist``, ``min_share`` (of ``‖Mᵀδ‖²`` on ``supp(z)``)
    and ``min_participation``, ``(M, n)``, NaN where the point is misclassified or no flip was found.
    Keys carry ``prefix``."""
    found = attack(model, X, y)
    correct = correct_points(model, X, y)
    dist = found.dist.cpu().numpy()
    ok = correct & np.isfinite(dist)
    ps = perturbation_structure(found.delta.cpu().numpy(), Z, dictionary)
    return {
        f"{prefix}min_dist": np.where(ok, dist, np.nan),
        f"{prefix}min_share": np.where(ok, ps["support_share"], np.nan),
        f"{prefix}min_participation": np.where(ok, ps["participation"], np.nan),
    }


def neuron_arrays(
    W: Tensor | np.ndarray, data: SparseCodingData, prefix: str
) -> dict[str, np.ndarray]:
    """The per-neuron record arrays of :func:`sims.measure.neuron_decomposition` and
    :func:`sims.measure.mixture_correlations` (without ``V``), keys prefixed by ``prefix``."""
    Wn = W.detach().cpu().numpy() if isinstance(W, Tensor) else W
    dec = neuron_decomposition(Wn, data.dictionary, data.w_star)
    corr = mixture_correlations(dec.pop("V"), data.X, data.y)
    out = {f"{prefix}{k}": v for k, v in dec.items()}
    out[f"{prefix}corr_avg"] = corr["avg"]
    out[f"{prefix}corr_individual"] = corr["individual"]
    return out


def correct_points(model: ScalarModel, X: Tensor, y: Tensor) -> np.ndarray:
    """Per member and point, whether ``y f(x) > 0``: ``(M, n)`` booleans (what a paired, per-point
    interval on an accuracy resamples; :func:`sims.measure.accuracy` is its mean over points)."""
    with torch.no_grad():
        return ((y * model.forward(X)) > 0).cpu().numpy()


def clean_summary(run: CleanRun) -> dict[str, np.ndarray]:
    """Clean and test accuracy of the clean-trained members, ``(M,)`` each, and where the clean
    training ran to a loss plateau (``clean_plateau``) the steps each member took."""
    out = {
        "train_acc": accuracy(run.ens, run.X, run.y),
        "test_acc": accuracy(run.ens, run.X_test, run.y_test),
    }
    if run.setup.clean_plateau is not None and run.steps_taken is not None:
        out["clean_steps_taken"] = np.asarray(run.steps_taken)
    return out


def network_arrays(model: ScalarModel, prefix: str = "") -> dict[str, np.ndarray]:
    """The parameters of an attacked network, so anyone can rebuild it and attack it with another
    library: ``W``, ``b``, ``a``, ``threshold`` of a :class:`sims.nets.TwoLayerEnsemble`
    (``f(x) = Σ_j a_j σ(⟨w_j, x⟩ + b_j)`` with the threshold rule's value); for the NTK model
    (:class:`sims.baselines.LinearizedEnsemble`) those of its base network at init and the trained
    displacement ``delta``; for logistic regression ``w`` and ``c``. Keys carry ``prefix``."""
    with torch.no_grad():
        if isinstance(model, LinearizedEnsemble):
            out = {**network_arrays(model.base), "delta": model.delta.cpu().numpy()}
        elif isinstance(model, LinearEnsemble):
            out = {"w": model.w.cpu().numpy(), "c": model.c.cpu().numpy()}
        elif isinstance(model, TwoLayerEnsemble):
            out = {
                "W": model.W.cpu().numpy(),
                "b": model.b.cpu().numpy(),
                "a": model.a.cpu().numpy(),
            }
            if model.threshold is not None:
                out["threshold"] = model.threshold.cpu().numpy()
        else:
            fail("model", "a TwoLayerEnsemble, LinearizedEnsemble or LinearEnsemble", model)
    return {prefix + k: v for k, v in out.items()}


def data_arrays(run: CleanRun) -> dict[str, np.ndarray]:
    """The ground truth every purification record carries: ``dictionary``, ``w_star``, the test
    points ``X_test``, ``y_test``, ``Z_test``, and the weights ``W0`` (init) and ``W_clean``."""
    return {
        "dictionary": run.data.dictionary,
        "w_star": run.data.w_star,
        "X_test": run.test.X,
        "y_test": run.test.y,
        "Z_test": run.test.Z,
        "W0": run.ens0.W.detach().cpu().numpy(),
        "W_clean": run.ens.W.detach().cpu().numpy(),
    }
