"""The shared setting of the off-subspace simulations: train an ensemble on subspace data, measure it.

Simulations 02–05 (Melamed, Yehudai & Vardi 2023; PAPERS.md §1) all train two-layer ReLU ensembles on
points of a random linear subspace and then measure input gradients split by ``P``. This module holds
that setting once: :class:`SubspaceSetup` (data, network, optimizer and stop rule, all hashable into
run keys), :func:`train_setup` (build, train, return everything a measurement needs) and
:func:`gradient_arrays` (the per-point measurements every one of those sims records).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from sims.attacks import PGD, MinNorm
from sims.data import SubspaceData, make_subspace_data
from sims.errors import AdvsimError, check_choice, check_float, check_int
from sims.losses import LOSSES
from sims.measure import (
    accuracy,
    input_grad_split,
    nearest_other_class_distance,
    project_perp,
)
from sims.methods import PGDAT, FastAT, Method
from sims.nets import TwoLayerEnsemble, init_ensemble, weight_arrays
from sims.optim import OPTIMIZERS, OptimizerConfig
from sims.real_data import digits_subspace
from sims.simulation import member_seeds, torch_dtype
from sims.threat import Subspace
from sims.training import TrainConfig, TrainResult, train
from sims.validate import check_bool, check_defaults, fail

__all__ = [
    "FLIP_DIRECTIONS",
    "SUBSPACE_SOURCES",
    "UNIVERSAL_MULTIPLES",
    "Condition",
    "SearchedCondition",
    "SubspaceSetup",
    "Trained",
    "accuracy",
    "data_seed",
    "digits_data",
    "flip_radius",
    "flip_search",
    "gradient_arrays",
    "nearest_other_class",
    "searched_group",
    "setup_group_key",
    "summary_metrics",
    "train_group",
    "train_setup",
    "training_metrics",
    "universal_arrays",
]


#: Where an off-subspace run's data come from: the generator or real digits (projected or raw).
SUBSPACE_SOURCES = ("synthetic", "digits", "digits_raw")
#: The dimension of the digits (8×8 pixels).
DIGITS_D = 64
#: The generator's fields that real data leave at their defaults.
_GENERATOR_DEFAULTS: dict[str, object] = {
    "labels": "linear",
    "radius": 1.0,
    "offset": 0.0,
    "noise": 0.0,
    "axis_aligned": False,
    "per_member_data": False,
}


@dataclass(frozen=True)
class SubspaceSetup:
    """Data, network and training of one off-subspace run (every member differs only by seed).

    The first layer is ``N(0, β²/d)`` (``first_scale`` = β); output weights are ``±1/√m`` and fixed
    (``init="signs"``, the gradient-law setting) or ``N(0, 1/m)`` (``init="paper"``). ``at_eps > 0``
    trains adversarially (:class:`sims.methods.PGDAT`, ``at_norm`` ball, ``at_steps`` steps; or
    ``at_method="fast"``, :class:`sims.methods.FastAT` with ``α = 1.25ε``), with
    perturbations anywhere (``at_subspace="all"``) or only on the data subspace (``"on"``).
    ``radius`` is the data scale (``E‖x‖² = radius²``, :func:`sims.data.make_subspace_data`);
    ``train_b=False`` keeps the biases at their initial values. ``per_member_data=True`` gives every
    member its own draw of the points and labels (:func:`data_seed`) on one shared subspace: members
    are then independent replicates of the whole experiment, data included, and an interval over
    members covers the data draw (by default all members train on one draw).

    ``source`` chooses the data: ``"synthetic"`` (the generator, above) or handwritten digits on a PCA
    subspace of dimension ``k`` (:func:`sims.real_data.digits_subspace`, ``d = 64``): ``"digits"``
    projected onto it (exactly on the subspace: the theorem's condition) or ``"digits_raw"`` (near it).
    Real data use the first ``n`` points of the training split and the first ``n_test`` of the test
    split (``seed`` chooses the split); members then differ only by their initialisation, and the
    generator's fields (``labels``, ``radius``, ``offset``, ``noise``, ``axis_aligned``,
    ``per_member_data``) must keep their defaults.
    """

    d: int
    k: int
    m: int
    n: int = 60
    n_test: int = 100
    labels: str = "linear"
    radius: float = 1.0
    offset: float = 0.0
    noise: float = 0.0
    axis_aligned: bool = False
    init: str = "signs"
    first_scale: float = 1.0
    second_scale: float = 1.0
    train_a: bool = False
    train_b: bool = True
    bias_std: float = 0.0
    optimizer: str = "sgd"
    lr: float = 1.0
    momentum: float = 0.0
    weight_decay: float = 0.0
    decay: tuple[str, ...] = ("W", "b", "a")
    loss: str = "logistic"
    steps: int = 4000
    stop_accuracy: float | None = 1.0
    stop_margin: float | None = None
    at_eps: float = 0.0
    at_norm: str = "l2"
    at_steps: int = 10
    at_method: str = "pgd"
    at_subspace: str = "all"
    n_seeds: int = 8
    seed: int = 0
    dtype: str = "float32"
    per_member_data: bool = False
    source: str = "synthetic"

    def __post_init__(self) -> None:
        check_choice("source", self.source, SUBSPACE_SOURCES)
        if self.source != "synthetic":
            check_int("d", self.d, DIGITS_D, DIGITS_D)
            check_defaults(
                self,
                _GENERATOR_DEFAULTS,
                f"with source={self.source!r} (real data are not generated)",
            )
        check_int("d", self.d, 2)
        check_int("k_P", self.k, 1, self.d - 1)
        check_int("m", self.m, 1)
        check_int("n", self.n, 1)
        check_int("n_test", self.n_test, 1)
        check_choice("init", self.init, ("signs", "paper"))
        check_float("first_scale", self.first_scale, 0.0, lo_open=True)
        check_float("second_scale", self.second_scale, 0.0, lo_open=True)
        check_float("bias_std", self.bias_std, 0.0)
        check_float("momentum", self.momentum, 0.0, 1.0, hi_open=True)
        check_float("radius", self.radius, 0.0, lo_open=True)
        check_float("offset", self.offset, 0.0)
        check_float("noise", self.noise, 0.0)
        check_choice("dtype", self.dtype, ("float32", "float64"))
        check_float("at_eps", self.at_eps, 0.0)
        check_choice("at_norm", self.at_norm, ("l2", "linf"))
        check_int("at_steps", self.at_steps, 1)
        check_choice("at_method", self.at_method, ("pgd", "fast"))
        check_choice("at_subspace", self.at_subspace, ("all", "on"))
        check_choice("labels", self.labels, ("linear", "teacher", "random", "intervals"))
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("loss", self.loss, LOSSES)
        check_float("lr", self.lr, 0.0, lo_open=True)
        check_float("weight_decay", self.weight_decay, 0.0)
        check_int("steps", self.steps, 0)
        check_int("n_seeds", self.n_seeds, 1)
        check_bool("per_member_data", self.per_member_data)
        if self.per_member_data and self.offset > 0:
            fail(
                "offset",
                "0 with per_member_data (each draw would pick its own offset direction: the members "
                "would not share one affine subspace)",
                self.offset,
            )

    @property
    def sigma_w2(self) -> float:
        """Variance ``σ_w² = β²/d`` of each first-layer weight at initialisation."""
        return self.first_scale**2 / self.d

    @property
    def codim(self) -> int:
        """``ℓ⊥ = d − k_P``."""
        return self.d - self.k


@dataclass(frozen=True)
class Condition:
    """One row of an off-subspace simulation's grid: a name, its role (``law`` — the theorem's
    conditions hold — or ``control``), and the shared setup. Simulations add their own fields."""

    condition: str
    role: str
    setup: SubspaceSetup

    def __post_init__(self) -> None:
        check_choice("role", self.role, ("law", "control"))


@dataclass(frozen=True)
class SearchedCondition(Condition):
    """A row that also searches minimal flip radii (:func:`flip_radius`): the effort of the search —
    steps of the bisection over the radius, PGD steps at each radius, PGD restarts."""

    search_steps: int = 10
    search_pgd_steps: int = 20
    search_restarts: int = 2

    def search(self) -> dict[str, int]:
        """The keyword arguments of :func:`flip_radius` for this effort."""
        return {
            "search_steps": self.search_steps,
            "pgd_steps": self.search_pgd_steps,
            "restarts": self.search_restarts,
        }


def searched_group(cfg: SearchedCondition) -> tuple[object, ...]:
    """Rows that differ only in per-member fields (:data:`PER_MEMBER_FIELDS`) and share the search
    effort train, and are searched, as one ensemble."""
    return (setup_group_key(cfg.setup), cfg.search_steps, cfg.search_pgd_steps, cfg.search_restarts)


@dataclass
class Trained:
    """A trained run: the data (train and test split), the ensemble before and after, the trace
    (of one setup, or of a group of setups trained as one ensemble by :func:`train_group`)."""

    data: SubspaceData
    X: Tensor
    y: Tensor
    X_test: Tensor
    y_test: Tensor
    ens: TwoLayerEnsemble
    ens0: TwoLayerEnsemble
    result: TrainResult

    @property
    def per_member(self) -> bool:
        """Every member has its own data: ``X (M, n, d)``, ``y (M, n)``."""
        return self.X.ndim == 3

    def row(self, i: int, n_seeds: int) -> Trained:
        """Row ``i`` of a group trained by :func:`train_group` (members ``i·n_seeds`` onwards)."""
        return self.members(slice(i * n_seeds, (i + 1) * n_seeds))

    def members(self, rows: slice) -> Trained:
        """The run restricted to some members (with their own data, where they have it)."""
        out = replace(
            self,
            ens=self.ens.select(rows),
            ens0=self.ens0.select(rows),
            result=self.result.select(rows),
        )
        if self.per_member:
            out.X, out.y = self.X[rows], self.y[rows]
            out.X_test, out.y_test = self.X_test[rows], self.y_test[rows]
        return out


#: Setup fields that may differ between the rows of one batched ensemble (one value per member).
PER_MEMBER_FIELDS = ("first_scale", "second_scale", "lr", "weight_decay")


def setup_group_key(s: SubspaceSetup) -> SubspaceSetup:
    """The setup with its per-member fields blanked: rows with equal keys train as one ensemble."""
    return replace(s, first_scale=1.0, second_scale=1.0, lr=1.0, weight_decay=0.0)


def train_setup(s: SubspaceSetup, device: str = "cpu", method: Method | None = None) -> Trained:
    """Generate the data (``n + n_test`` points, split), initialise and train the ensemble.

    ``method`` (e.g. TRADES or BAT of :mod:`sims.methods`) replaces the setup's own training method.
    """
    return train_group([s], device, method)


def train_group(
    setups: Sequence[SubspaceSetup], device: str = "cpu", method: Method | None = None
) -> Trained:
    """:func:`train_setup` of several setups that differ only in :data:`PER_MEMBER_FIELDS`, as one
    ensemble: row ``i``'s members are ``i·n_seeds … (i+1)·n_seeds − 1`` (see :meth:`Trained.row`),
    initialised and trained exactly as that row alone (same seeds, its own init scales, learning rate
    and weight decay per member)."""
    if not setups:
        raise AdvsimError("setups must hold at least one setup")
    s = setups[0]
    for other in setups[1:]:
        if setup_group_key(other) != setup_group_key(s):
            raise AdvsimError(
                f"setups of one group may differ only in {', '.join(PER_MEMBER_FIELDS)}"
            )
    k = s.n_seeds

    def per_member(name: str) -> list[float]:
        return [float(getattr(r, name)) for r in setups for _ in range(k)]

    dtype = torch_dtype(s.dtype)

    def draw(seed: int, basis: np.ndarray | None = None) -> SubspaceData:
        if s.source != "synthetic":
            return digits_data(s)
        return make_subspace_data(
            s.n + s.n_test,
            s.d,
            s.k,
            seed=seed,
            basis=basis,
            labels=s.labels,  # type: ignore[arg-type]
            radius=s.radius,
            offset=s.offset,
            noise=s.noise,
            axis_aligned=s.axis_aligned,
        )

    data = draw(s.seed)
    Xall, yall = data.tensors(dtype=dtype, device=device)
    seeds = member_seeds(s.seed, s.n_seeds) * len(setups)
    if s.per_member_data:  # member j of every row trains on draw j (a paired design across rows)
        own = [draw(data_seed(s.seed, j), data.basis) for j in range(s.n_seeds)] * len(setups)
        parts = [d.tensors(dtype=dtype, device=device) for d in own]
        Xall = torch.stack([p[0] for p in parts])
        yall = torch.stack([p[1] for p in parts])
    trainable = ("W",) + (("b",) if s.train_b else ()) + (("a",) if s.train_a else ())
    ens = init_ensemble(
        s.d,
        s.m,
        seeds=seeds,
        scheme=s.init,  # type: ignore[arg-type]
        first_scale=per_member("first_scale"),
        second_scale=per_member("second_scale"),
        bias="normal" if s.bias_std > 0 else "zero",
        bias_std=s.bias_std,
        trainable=trainable,
        dtype=dtype,
        device=device,
    )
    ens0 = ens.clone()
    cfg = TrainConfig(
        steps=s.steps,
        loss=s.loss,
        stop_accuracy=s.stop_accuracy,
        stop_margin=s.stop_margin,
        optimizer=OptimizerConfig(
            s.optimizer,
            lr=tuple(per_member("lr")),
            momentum=s.momentum,
            weight_decay=tuple(per_member("weight_decay")),
            decay=tuple(p for p in s.decay if p != "a" or s.train_a),
        ),
    )
    if s.at_eps > 0:
        restrict = Subspace.span(data.basis) if s.at_subspace == "on" else None
        at: PGDAT = PGDAT(
            norm=s.at_norm,
            eps=s.at_eps,
            steps=s.at_steps,
            loss=s.loss,
            restrict=restrict,
            seed=s.seed,
        )
        if s.at_method == "fast":
            at = FastAT(
                norm=s.at_norm,
                eps=s.at_eps,
                start="radius" if s.at_norm == "l2" else "uniform",
                loss=s.loss,
                restrict=restrict,
                seed=s.seed,
            )
        cfg = replace(cfg, method=at)
    if method is not None:
        cfg = replace(cfg, method=method)
    X, y = Xall[..., : s.n, :], yall[..., : s.n]
    res = train(ens, X, y, cfg, seeds=seeds)
    return Trained(data, X, y, Xall[..., s.n :, :], yall[..., s.n :], ens, ens0, res)


def digits_data(s: SubspaceSetup) -> SubspaceData:
    """The digits of a setup with ``source`` ``"digits"`` or ``"digits_raw"``: the first ``n`` training
    points followed by the first ``n_test`` test points of :func:`sims.real_data.digits_subspace` (split
    by ``seed``), on the training split's PCA basis of dimension ``k``."""
    check_choice("source", s.source, SUBSPACE_SOURCES[1:])
    train, test = digits_subspace(s.k, projected=s.source == "digits", seed=s.seed)
    for name, want, have, part in (
        ("n", s.n, train.n, "training"),
        ("n_test", s.n_test, test.n, "test"),
    ):
        if want > have:
            fail(name, f"at most {have} (the size of the digits' {part} split)", want)
    return SubspaceData(
        X=np.concatenate([train.X[: s.n], test.X[: s.n_test]]),
        y=np.concatenate([train.y[: s.n], test.y[: s.n_test]]),
        basis=train.basis,
        name=train.name.removesuffix(" train"),
    )


def data_seed(seed: int, member: int) -> int:
    """The seed of member ``member``'s own data draw under ``per_member_data`` (a stream of
    ``numpy.random.SeedSequence`` keyed on the setup's seed and the member index, distinct from the
    shared draw of ``seed`` itself)."""
    seed, member = check_int("seed", seed, 0), check_int("member", member, 0)
    return int(np.random.SeedSequence([seed, member, 1]).generate_state(1)[0])


def gradient_arrays(t: Trained) -> dict[str, np.ndarray]:
    """The arrays every off-subspace run records (member axis first).

    ``basis``, ``offset``, ``X``, ``y``, ``X_test``, ``y_test``, ``W0``, ``W``, ``b0``, ``b``, ``a0``, ``a``,
    ``steps_taken``, and at the test points: ``f_test (M, n_test)``, ``grad_on``/``grad_off``
    (``‖P∇f‖``, ``‖P⊥∇f‖``), ``rho`` (``Σ_{j active} a_j²``) and ``active_share`` (the share of the ``m``
    units active at the point, for the ρ-free prediction
    :func:`theory.subspace.expected_offsubspace_grad_norm`).
    """

    def np_(x: Tensor) -> np.ndarray:
        return x.detach().cpu().numpy()

    with torch.no_grad():
        split = input_grad_split(t.ens, t.X_test, t.data.basis)
        f_test = t.ens.forward(t.X_test)
        share = (t.ens.preact(t.X_test) > 0).to(t.ens.dtype).mean(dim=-1)
    return {
        "basis": t.data.basis,
        "offset": t.data.offset,
        "X": np_(t.X),
        "y": np_(t.y),
        "X_test": np_(t.X_test),
        "y_test": np_(t.y_test),
        **weight_arrays(t.ens, t.ens0),
        "steps_taken": t.result.steps_taken,
        "f_test": np_(f_test),
        "grad_on": np_(split["grad_on"]),
        "grad_off": np_(split["grad_off"]),
        "rho": np_(split["rho"]),
        "active_share": np_(share),
        "train_acc": accuracy(t.ens, t.X, t.y),
        "test_acc": accuracy(t.ens, t.X_test, t.y_test),
    }


#: Where :func:`flip_radius` may perturb: orthogonally to the data subspace, inside it, anywhere.
FLIP_DIRECTIONS = ("off", "on", "any")


def flip_search(
    t: Trained,
    where: str = "off",
    *,
    search_steps: int = 10,
    pgd_steps: int = 20,
    restarts: int = 2,
    max_dist: float = 1e3,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimal ℓ2 perturbation that flips each test point, restricted to ``P⊥`` (``where="off"``), to
    the data subspace ``P`` (``"on"``) or not restricted (``"any"``): ``(dist, delta)``.

    :class:`sims.attacks.MinNorm` with the restriction (an upper bound of the exact value; the same
    search effort in every direction, so the three radii are comparable). ``dist (M, n_test)``: NaN
    for points the member misclassifies, ``inf`` where nothing was found within ``max_dist``;
    ``delta (M, n_test, d)``: the perturbations (zero where none was found or the point is
    misclassified).
    """
    check_choice("where", where, FLIP_DIRECTIONS)
    restrict = {
        "off": Subspace.perp(t.data.basis),
        "on": Subspace.span(t.data.basis),
        "any": None,
    }[where]
    attack = MinNorm(
        norm="l2",
        restrict=restrict,
        search_steps=search_steps,
        search_attack=PGD(steps=pgd_steps, restarts=restarts, schedule="linear"),
        max_dist=max_dist,
    )
    res = attack(t.ens, t.X_test, t.y_test)
    with torch.no_grad():
        correct = (t.y_test * t.ens.forward(t.X_test)) > 0
        dist = torch.where(correct, res.dist, torch.full_like(res.dist, float("nan")))
        delta = torch.where(correct[..., None], res.delta, torch.zeros_like(res.delta))
    return dist.cpu().numpy(), delta.cpu().numpy()


def flip_radius(
    t: Trained,
    where: str = "off",
    *,
    search_steps: int = 10,
    pgd_steps: int = 20,
    restarts: int = 2,
    max_dist: float = 1e3,
) -> np.ndarray:
    """The distances of :func:`flip_search` alone: ``(M, n_test)``, NaN for points the member
    misclassifies, ``inf`` where nothing was found within ``max_dist``."""
    return flip_search(
        t,
        where,
        search_steps=search_steps,
        pgd_steps=pgd_steps,
        restarts=restarts,
        max_dist=max_dist,
    )[0]


#: Radii of the universal perturbation, in multiples of each member's median first-order radius.
UNIVERSAL_MULTIPLES = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


def universal_arrays(
    t: Trained, multiples: Sequence[float] = UNIVERSAL_MULTIPLES
) -> dict[str, np.ndarray]:
    """The universal off-subspace direction ``g_univ = Σ_j a_j P⊥w_j(0)`` built from the initial weights
    and what one perturbation along it does (Melamed, Yehudai & Vardi 2023, universal perturbation;
    PAPERS.md §1, derived: with ``P⊥W`` frozen every point's ``P⊥∇f`` is a sum over its active units of
    the same vectors, so it shares this direction).

    Returns ``g_univ (M, d)``, ``cos_univ (M, n_test)`` (cosine of ``P⊥∇f(x)`` with it),
    ``rstar_median (M,)`` (each member's median first-order radius ``|f|/‖P⊥∇f‖`` over the points it
    classifies correctly), ``multiples (C,)``, ``flip_frac (M, C, 2)`` (share of the correctly
    classified points of class +1, −1 flipped by ``−y·r·ĝ_univ`` at ``r`` = multiple × median radius)
    and the per-point ``flipped (M, C, n_test)`` (1 flipped, 0 not, NaN: misclassified to begin with).
    """
    U = torch.as_tensor(t.data.basis, dtype=t.ens.dtype, device=t.ens.device)
    mults = tuple(float(x) for x in multiples)
    with torch.no_grad():
        g_univ = torch.einsum("Mm,Mmd->Md", t.ens.a, project_perp(t.ens0.W, U))
        ghat = g_univ / g_univ.norm(dim=1, keepdim=True)
        G_off = project_perp(t.ens.input_grad(t.X_test), U)
        cos = (G_off * ghat[:, None, :]).sum(-1) / G_off.norm(dim=-1).clamp_min(1e-30)
        f = t.ens.forward(t.X_test)
        rstar = f.abs() / G_off.norm(dim=-1).clamp_min(1e-30)
        correct = t.y_test * f > 0
        rstar_med = torch.stack([rstar[i][correct[i]].median() for i in range(t.ens.M)])
        frac = torch.zeros(t.ens.M, len(mults), 2, dtype=torch.float64)
        per_point = torch.full((t.ens.M, len(mults), t.X_test.shape[-2]), float("nan"))
        for c, mult in enumerate(mults):
            radius = (mult * rstar_med)[:, None, None]
            delta = -t.y_test[..., None] * radius * ghat[:, None, :]
            flipped = t.y_test * t.ens.forward(t.X_test + delta) <= 0
            per_point[:, c] = torch.where(correct, flipped.double(), float("nan")).float().cpu()
            for k, cls in enumerate((1.0, -1.0)):
                pick = correct & (t.y_test == cls)
                frac[:, c, k] = (flipped & pick).sum(1).double() / pick.sum(1).clamp_min(1).double()
    return {
        "g_univ": g_univ.cpu().numpy(),
        "cos_univ": cos.cpu().numpy(),
        "rstar_median": rstar_med.cpu().numpy(),
        "multiples": np.asarray(mults),
        "flip_frac": frac.numpy(),
        "flipped": per_point.numpy(),
    }


def nearest_other_class(t: Trained) -> np.ndarray:
    """ℓ2 distance from each test point to the nearest training point of the other class: ``(n_test,)``,
    or ``(M, n_test)`` where every member has its own data
    (:func:`sims.measure.nearest_other_class_distance`)."""
    return nearest_other_class_distance(t.X_test, t.y_test, t.X, t.y).cpu().numpy()


def training_metrics(t: Trained) -> dict[str, float]:
    """How training ended: mean steps taken and the share of members that met the stop rule."""
    return {
        "steps_taken_mean": float(t.result.steps_taken.mean()),
        "stopped_fraction": float(t.result.stopped.mean()),
    }


def summary_metrics(arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """The scalar metrics every off-subspace run records: median ``‖P⊥∇f‖`` and mean accuracies."""
    return {
        "grad_off_median": float(np.median(arrays["grad_off"])),
        "train_acc_mean": float(arrays["train_acc"].mean()),
        "test_acc_mean": float(arrays["test_acc"].mean()),
    }
