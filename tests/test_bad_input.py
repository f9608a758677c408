"""Bad input gets one clear error everywhere (issue 17): a declarative table, foolbox style.

Every row is (id, a call with one bad value, the parameter the message must name). The one test runs
each call and requires :class:`AdvsimError` whose message has the shape every validator in
:mod:`sims.validate` gives: ``"<parameter> must ...; got <value>"``. Rows cover every public entry point:
data, ensembles and their methods, threat models, attacks, training methods, the optimizer, ``train``,
measurements, baselines, the oracle, records and the sweep. A few more tests check that validation
does not reject what it should accept, and the shared message helpers.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from sims import attacks as A
from sims import data as D
from sims import measure as ME
from sims import methods as MT
from sims import nets as N
from sims import optim as O
from sims import purification_runs as PR
from sims import sparse as S
from sims import threat as T
from sims import training as TR
from sims.baselines import LinearizedEnsemble
from sims.errors import AdvsimError
from sims.losses import loss_derivative, loss_value
from sims.oracle import exact_min_l2_distance
from sims.records import RunStore, run_key
from sims.simulation import (
    RunOutput,
    Simulation,
    check_scheduler,
    make_batches,
    member_seeds,
    resolve_device,
    run_simulation,
    torch_dtype,
)
from sims.validate import check_float, check_int, describe, fail

NAN, INF = float("nan"), float("inf")
M_, m_, d_, n_ = 2, 3, 4, 5
TMP = Path(os.environ.get("PYTEST_BAD_INPUT_TMP", "/tmp")) / f"advsim-bad-input-{os.getpid()}"


# ----------------------------------------------------------------------------- fixtures (tiny)
def ens(**kw: Any) -> N.TwoLayerEnsemble:
    return N.init_ensemble(d_, m_, seeds=list(range(M_)), **kw)


def X(n: int = n_, d: int = d_, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(0), dtype=dtype)


def y(n: int = n_) -> torch.Tensor:
    return torch.tensor([1.0, -1.0] * (n // 2) + [1.0] * (n % 2))


def with_nan(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[0] = NAN
    return t


def with_inf(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[-1] = INF
    return t


def y01() -> torch.Tensor:
    return (y() > 0).to(torch.float32)


def U(d: int = d_, k: int = 2) -> np.ndarray:
    return np.linalg.qr(np.random.default_rng(0).standard_normal((d, k)))[0]


def l2() -> T.L2Ball:
    return T.L2Ball(0.5)


def law() -> S.SparseCodingLaw:
    return S.SparseCodingLaw(d=8, k=2)


def sparse() -> S.SparseCodingData:
    return S.make_sparse_data(law(), 6, 0)


def subspace() -> D.SubspaceData:
    return D.make_subspace_data(6, 4, 2, seed=0)


def cfg(**kw: Any) -> TR.TrainConfig:
    return TR.TrainConfig(steps=2, **kw)


def set_(obj: Any, name: str, value: Any) -> Any:
    """``obj`` after ``obj.name = value`` (a parameter changed in place after construction)."""
    setattr(obj, name, value)
    return obj


@contextmanager
def memory_limit(nbytes: int) -> Iterator[None]:
    old = os.environ.get("ADVSIM_MEMORY_LIMIT")
    os.environ["ADVSIM_MEMORY_LIMIT"] = str(nbytes)
    try:
        yield
    finally:
        if old is None:
            del os.environ["ADVSIM_MEMORY_LIMIT"]
        else:
            os.environ["ADVSIM_MEMORY_LIMIT"] = old


def under_limit(nbytes: int, call: Callable[..., Any], *args: Any) -> Any:
    """``call(*args)`` with ``ADVSIM_MEMORY_LIMIT=nbytes`` (the arguments built before)."""
    with memory_limit(nbytes):
        return call(*args)


@dataclass(frozen=True)
class _Cfg:
    i: int
    n_seeds: int = 1


DEMO = Simulation(
    number="00",
    name="badinput",
    title="demo",
    paper="none",
    configs=lambda scale: [_Cfg(0)],
    run=lambda c, ctx: RunOutput({}, {}),
)


def store() -> RunStore:
    return RunStore(TMP, "00_demo")


def a_file() -> str:
    TMP.mkdir(parents=True, exist_ok=True)
    f = TMP / "a_file"
    f.write_text("")
    return str(f)


def sym(act: str = "relu") -> N.TwoLayerEnsemble:
    return N.symmetric_ensemble(d_, m_, seeds=[0, 1], act=act)


# ----------------------------------------------------------------------------- the table
Row = tuple[str, Callable[[], Any], str]

# fmt: off
ROWS: list[Row] = [
    # --- TwoLayerEnsemble: construction
    ("ens W 2-D", lambda: N.TwoLayerEnsemble(torch.zeros(3, 4), torch.zeros(3), torch.zeros(3)), "W"),
    ("ens W int", lambda: N.TwoLayerEnsemble(torch.zeros(2, 3, 4, dtype=torch.int64), torch.zeros(2, 3), torch.zeros(2, 3)), "W"),
    ("ens W complex", lambda: N.TwoLayerEnsemble(torch.zeros(2, 3, 4, dtype=torch.complex64), torch.zeros(2, 3), torch.zeros(2, 3)), "W"),
    ("ens W numpy", lambda: N.TwoLayerEnsemble(np.zeros((2, 3, 4)), torch.zeros(2, 3), torch.zeros(2, 3)), "W"),  # type: ignore[arg-type]
    ("ens b shape", lambda: N.TwoLayerEnsemble(torch.zeros(2, 3, 4), torch.zeros(2, 4), torch.zeros(2, 3)), "b"),
    ("ens a shape", lambda: N.TwoLayerEnsemble(torch.zeros(2, 3, 4), torch.zeros(2, 3), torch.zeros(3)), "a"),
    ("ens b dtype", lambda: N.TwoLayerEnsemble(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 3)), "b"),
    ("ens W NaN", lambda: N.TwoLayerEnsemble(with_nan(torch.zeros(2, 3, 4)), torch.zeros(2, 3), torch.zeros(2, 3)), "W"),
    ("ens a inf", lambda: N.TwoLayerEnsemble(torch.zeros(2, 3, 4), torch.zeros(2, 3), with_inf(torch.zeros(2, 3))), "a"),
    ("ens M=0", lambda: N.TwoLayerEnsemble(torch.zeros(0, 3, 4), torch.zeros(0, 3), torch.zeros(0, 3)), "W"),
    ("ens m=0", lambda: N.TwoLayerEnsemble(torch.zeros(2, 0, 4), torch.zeros(2, 0), torch.zeros(2, 0)), "W"),
    ("ens trainable str", lambda: replace(ens(), trainable="Wb"), "trainable"),  # type: ignore[arg-type]
    ("ens trainable name", lambda: replace(ens(), trainable=("W", "x")), "trainable[1]"),
    ("ens trainable repeated", lambda: replace(ens(), trainable=("W", "W")), "trainable"),
    ("ens act", lambda: replace(ens(), act="tanh"), "activation"),
    ("ens act_width 0", lambda: replace(ens(), act_width=0.0), "act_width"),
    ("ens act_width NaN", lambda: replace(ens(), act_width=NAN), "act_width"),
    ("ens threshold negative", lambda: replace(ens(), threshold=-torch.ones(2, 3)), "threshold"),
    ("ens threshold shape", lambda: replace(ens(), threshold=torch.ones(3)), "threshold"),
    ("ens threshold dtype", lambda: replace(ens(), threshold=torch.ones(2, 3, dtype=torch.float64)), "threshold"),
    # --- TwoLayerEnsemble: evaluation
    ("forward X NaN", lambda: ens().forward(with_nan(X())), "X"),
    ("forward X inf", lambda: ens().forward(with_inf(X())), "X"),
    ("forward X wrong d", lambda: ens().forward(X(d=3)), "X"),
    ("forward X 1-D", lambda: ens().forward(torch.zeros(4)), "X"),
    ("forward X int", lambda: ens().forward(torch.zeros(5, 4, dtype=torch.int64)), "X"),
    ("forward X complex", lambda: ens().forward(torch.zeros(5, 4, dtype=torch.complex64)), "X"),
    ("forward X numpy", lambda: ens().forward(np.zeros((5, 4))), "X"),  # type: ignore[arg-type]
    ("forward X empty", lambda: ens().forward(torch.zeros(0, 4)), "X"),
    ("forward X wrong M", lambda: ens().forward(torch.zeros(3, 5, 4)), "X"),
    ("forward X other device", lambda: ens().forward(torch.zeros(5, 4, device="meta")), "X"),
    ("ens b other device", lambda: N.TwoLayerEnsemble(torch.zeros(2, 3, 4), torch.zeros(2, 3, device="meta"), torch.zeros(2, 3)), "b"),
    ("loss_grads y other device", lambda: ens().loss_grads(X(), torch.ones(5, device="meta"), "logistic"), "y"),
    ("PGD y other device", lambda: A.PGD(steps=1)(ens(), X(), torch.ones(5, device="meta"), l2()), "y"),
    ("forward W NaN in place", lambda: set_(ens(), "W", with_nan(ens().W)).forward(X()), "W"),
    ("forward b dtype in place", lambda: set_(ens(), "b", torch.zeros(2, 3, dtype=torch.float64)).forward(X()), "b"),
    ("input_grad X NaN", lambda: ens().input_grad(with_nan(X())), "X"),
    ("input_grad X wrong d", lambda: ens().input_grad(X(d=5)), "X"),
    ("value_and_grad X inf", lambda: ens().value_and_grad(with_inf(X())), "X"),
    ("active_weight X NaN", lambda: ens().active_weight(with_nan(X())), "X"),
    ("preact X wrong d", lambda: ens().preact(X(d=2)), "X"),
    ("output h shape", lambda: ens().output(torch.zeros(2, 5, 4)), "h"),
    ("loss_grads y 0/1", lambda: ens().loss_grads(X(), y01(), "logistic"), "y"),
    ("loss_grads y shape", lambda: ens().loss_grads(X(), y(4), "logistic"), "y"),
    ("loss_grads y NaN", lambda: ens().loss_grads(X(), with_nan(y()), "logistic"), "y"),
    ("loss_grads loss", lambda: ens().loss_grads(X(), y(), "cross"), "loss"),
    ("loss_grads y list", lambda: ens().loss_grads(X(), [1, -1, 1, -1, 1], "logistic"), "y"),  # type: ignore[arg-type]
    ("loss_grads block 0", lambda: ens().loss_grads(X(), y(), "logistic", block=0), "block"),
    ("param_grads g shape", lambda: ens().param_grads(X(), torch.zeros(2, 4)), "g"),
    ("param_grads g NaN", lambda: ens().param_grads(X(), with_nan(torch.zeros(2, 5))), "g"),
    ("select out of range", lambda: ens().select([5]), "idx"),
    ("select floats", lambda: ens().select([0.5]), "idx"),  # type: ignore[list-item]
    ("member index", lambda: ens().member(2), "member index"),
    ("member index str", lambda: ens().member("0"), "member index"),  # type: ignore[arg-type]
    ("to int dtype", lambda: ens().to(dtype=torch.int64), "dtype"),
    ("to bad device", lambda: ens().to(device="gpu9"), "device"),
    ("to float16 overflow", lambda: N.init_ensemble(4, 3, seeds=[0], first_scale=1e5).to(dtype=torch.float16), "W"),
    # --- init_ensemble / symmetric_ensemble / ThresholdRule
    ("init d=0", lambda: N.init_ensemble(0, 3, seeds=[0]), "d"),
    ("init m=0", lambda: N.init_ensemble(4, 0, seeds=[0]), "m"),
    ("init m bool", lambda: N.init_ensemble(4, True, seeds=[0]), "m"),
    ("init m float", lambda: N.init_ensemble(4, 3.0, seeds=[0]), "m"),  # type: ignore[arg-type]
    ("init seeds empty", lambda: N.init_ensemble(4, 3, seeds=[]), "seeds"),
    ("init seeds str", lambda: N.init_ensemble(4, 3, seeds="ab"), "seeds"),  # type: ignore[arg-type]
    ("init seeds negative", lambda: N.init_ensemble(4, 3, seeds=[-1]), "seeds[0]"),
    ("init seeds float", lambda: N.init_ensemble(4, 3, seeds=[0, 1.5]), "seeds[1]"),  # type: ignore[list-item]
    ("init seeds too big", lambda: N.init_ensemble(4, 3, seeds=[2**64]), "seeds[0]"),
    ("init scheme", lambda: N.init_ensemble(4, 3, seeds=[0], scheme="xavier"), "scheme"),  # type: ignore[arg-type]
    ("init bias", lambda: N.init_ensemble(4, 3, seeds=[0], bias="lognormal"), "bias"),  # type: ignore[arg-type]
    ("init bias_std", lambda: N.init_ensemble(4, 3, seeds=[0], bias_std=-1.0), "bias_std"),
    ("init first_scale 0", lambda: N.init_ensemble(4, 3, seeds=[0], first_scale=0.0), "first_scale"),
    ("init first_scale NaN", lambda: N.init_ensemble(4, 3, seeds=[0], first_scale=NAN), "first_scale"),
    ("init first_scale overflow", lambda: N.init_ensemble(4, 3, seeds=[0], first_scale=1e39), "first_scale"),
    ("init first_scale str", lambda: N.init_ensemble(4, 3, seeds=[0], first_scale="big"), "first_scale"),  # type: ignore[arg-type]
    ("init second_scale count", lambda: N.init_ensemble(4, 3, seeds=[0, 1, 2], second_scale=[1.0, 2.0]), "second_scale"),
    ("init second_scale complex", lambda: N.init_ensemble(4, 3, seeds=[0], second_scale=1j), "second_scale"),  # type: ignore[arg-type]
    ("init trainable", lambda: N.init_ensemble(4, 3, seeds=[0], trainable=("W", "z")), "trainable[1]"),
    ("init act", lambda: N.init_ensemble(4, 3, seeds=[0], act="gelu"), "activation"),
    ("init dtype", lambda: N.init_ensemble(4, 3, seeds=[0], dtype=torch.int32), "dtype"),
    ("init dtype numpy", lambda: N.init_ensemble(4, 3, seeds=[0], dtype=np.float32), "dtype"),  # type: ignore[arg-type]
    ("init device", lambda: N.init_ensemble(4, 3, seeds=[0], device="cuda:7"), "device"),
    ("init too big", lambda: N.init_ensemble(10**6, 10**6, seeds=[0]), "M x m x d"),
    ("symmetric threshold", lambda: N.symmetric_ensemble(4, 3, seeds=[0], threshold=-1.0), "threshold"),
    ("symmetric init_scale", lambda: N.symmetric_ensemble(4, 3, seeds=[0], init_scale=0.0), "init_scale"),
    ("ThresholdRule kind", lambda: N.ThresholdRule("adaptive", 0.1), "threshold kind"),
    ("ThresholdRule value", lambda: N.ThresholdRule("relative", -0.1), "threshold value"),
    ("ThresholdRule call", lambda: N.ThresholdRule()("ens"), "ens"),  # type: ignore[arg-type]
    ("ThresholdRule peak without X", lambda: N.ThresholdRule("peak", 0.5)(sym()), "X"),
    ("ThresholdRule peak X width", lambda: N.ThresholdRule("peak", 0.5)(sym(), torch.zeros(3, 5)), "X"),
    ("ThresholdRule peak X NaN", lambda: N.ThresholdRule("peak", 0.5)(sym(), with_nan(torch.zeros(3, 4))), "X"),
    ("ThresholdRule cap negative", lambda: N.ThresholdRule("peak", 0.5, cap=-1.0), "threshold cap"),
    ("ThresholdRule cap not peak", lambda: N.ThresholdRule("relative", 0.5, cap=0.1), "threshold cap"),
    ("ThresholdRule peak X members", lambda: N.ThresholdRule("peak", 0.5)(sym(), torch.zeros(3, 2, 4)), "X"),
    # --- LinearEnsemble / AutogradModel
    ("linear w 1-D", lambda: N.LinearEnsemble(torch.zeros(4), torch.zeros(1)), "w"),
    ("linear c shape", lambda: N.LinearEnsemble(torch.zeros(2, 4), torch.zeros(3)), "c"),
    ("linear w NaN", lambda: N.LinearEnsemble(with_nan(torch.zeros(2, 4)), torch.zeros(2)), "w"),
    ("linear c dtype", lambda: N.LinearEnsemble(torch.zeros(2, 4), torch.zeros(2, dtype=torch.float64)), "c"),
    ("linear trainable", lambda: N.LinearEnsemble(torch.zeros(2, 4), torch.zeros(2), ("w", "q")), "trainable[1]"),
    ("linear zeros M", lambda: N.LinearEnsemble.zeros(0, 4), "M"),
    ("linear zeros d", lambda: N.LinearEnsemble.zeros(2, -1), "d"),
    ("linear zeros dtype", lambda: N.LinearEnsemble.zeros(2, 4, dtype=torch.int64), "dtype"),
    ("linear forward X", lambda: N.LinearEnsemble.zeros(2, 4).forward(X(d=3)), "X"),
    ("linear input_grad X NaN", lambda: N.LinearEnsemble.zeros(2, 4).input_grad(with_nan(X())), "X"),
    ("linear loss_grads y", lambda: N.LinearEnsemble.zeros(2, 4).loss_grads(X(), y01(), "logistic"), "y"),
    ("linear flip_radius q", lambda: N.LinearEnsemble.zeros(2, 4).flip_radius(X(), 0.5), "q"),
    ("linear select", lambda: N.LinearEnsemble.zeros(2, 4).select([2]), "idx"),
    ("autograd fn", lambda: N.AutogradModel("f", 2, 4), "fn"),  # type: ignore[arg-type]
    ("autograd M", lambda: N.AutogradModel(lambda Z: Z.sum(-1), 0, 4), "M"),
    ("autograd d", lambda: N.AutogradModel(lambda Z: Z.sum(-1), 2, 0), "d"),
    ("autograd X", lambda: N.AutogradModel(lambda Z: Z.sum(-1), 2, 4).forward(X(d=3)), "X"),
    ("autograd output", lambda: N.AutogradModel(lambda Z: Z.sum(), 2, 4).forward(X()), "fn's output"),
    ("autograd output grad", lambda: N.AutogradModel(lambda Z: Z[0], 2, 4).input_grad(X()), "fn's output"),
    ("autograd modules empty", lambda: N.AutogradModel.from_modules([], 4), "modules"),
    ("autograd modules type", lambda: N.AutogradModel.from_modules([object()], 4), "modules[0]"),  # type: ignore[list-item]
    # --- threat models
    ("L2Ball eps negative", lambda: T.L2Ball(-1.0), "eps"),
    ("L2Ball eps NaN", lambda: T.L2Ball(NAN), "eps"),
    ("L2Ball eps inf", lambda: T.L2Ball(INF), "eps"),
    ("L2Ball eps str", lambda: T.L2Ball("big"), "eps"),  # type: ignore[arg-type]
    ("L2Ball eps complex", lambda: T.L2Ball(1 + 2j), "eps"),  # type: ignore[arg-type]
    ("L2Ball eps bool", lambda: T.L2Ball(True), "eps"),
    ("L2Ball eps 3-D", lambda: T.L2Ball(np.ones((2, 2, 2))), "eps"),
    ("L2Ball start", lambda: T.L2Ball(0.5, start="bogus"), "start"),
    ("LinfBall start", lambda: T.LinfBall(0.5, start="radius"), "start"),
    ("L2Ball bounds order", lambda: T.L2Ball(0.5, bounds=(1.0, 0.0)), "bounds"),
    ("L2Ball bounds str", lambda: T.L2Ball(0.5, bounds=("a", "b")), "bounds"),  # type: ignore[arg-type]
    ("L2Ball bounds inf", lambda: T.L2Ball(0.5, bounds=(0.0, INF)), "bounds"),
    ("L2Ball restrict str", lambda: T.L2Ball(0.5, restrict="P"), "restrict"),  # type: ignore[arg-type]
    ("L2Ball restrict not projector", lambda: T.L2Ball(0.5, restrict=np.ones((3, 3))), "restrict"),
    ("L2Ball restrict NaN", lambda: T.L2Ball(0.5, restrict=np.full((3, 3), NAN)), "restrict"),
    ("LinfBall restrict rotated", lambda: T.LinfBall(0.5, restrict=T.Subspace.span(U())), "restrict"),
    ("Subspace not orthonormal", lambda: T.Subspace(np.ones((3, 1))), "restrict basis"),
    ("Subspace NaN", lambda: T.Subspace(np.full((3, 1), NAN)), "restrict basis"),
    ("Subspace shape", lambda: T.Subspace(np.ones((2, 3))), "restrict basis"),
    ("Subspace.span NaN", lambda: T.Subspace.span(np.full((3, 2), NAN)), "U"),
    ("Subspace.span 1-D", lambda: T.Subspace.span(np.ones(3)), "U"),
    ("Subspace.span rank", lambda: T.Subspace.span(np.ones((3, 2))), "U"),
    ("Subspace.perp full", lambda: T.Subspace.perp(np.eye(3)), "U"),
    ("Subspace.perp 1-D", lambda: T.Subspace.perp(np.ones(3)), "U"),
    ("Subspace.perp rank", lambda: T.Subspace.perp(np.ones((4, 2))), "U"),
    ("Subspace.atoms repeat", lambda: T.Subspace.atoms(np.eye(3), [0, 0]), "atoms idx"),
    ("Subspace.atoms range", lambda: T.Subspace.atoms(np.eye(3), [5]), "atoms idx[0]"),
    ("Subspace.atoms empty", lambda: T.Subspace.atoms(np.eye(3), []), "atoms idx"),
    ("Subspace.from_projector shape", lambda: T.Subspace.from_projector(np.ones((3, 2))), "restrict"),
    ("Subspace.from_projector zero", lambda: T.Subspace.from_projector(np.zeros((3, 3))), "restrict"),
    ("random_start seed", lambda: l2().random_start(X(), seed=-1), "seed"),
    ("random_start stream", lambda: l2().random_start(X(), seed=0, stream=-1), "stream"),
    ("unit_start X NaN", lambda: l2().unit_start(with_nan(X()), 0), "X"),
    ("unit_start X int", lambda: l2().unit_start(torch.zeros(5, 4, dtype=torch.int64), 0), "X"),
    ("eps per point count", lambda: T.L2Ball(np.ones(3)).random_start(X(), 0), "eps"),
    ("with_eps negative", lambda: l2().with_eps(-1.0), "eps"),
    ("project delta NaN", lambda: l2().project(with_nan(X())), "delta"),
    ("project delta numpy", lambda: T.LinfBall(0.5).project(np.zeros((5, 4))), "delta"),  # type: ignore[arg-type]
    ("project restrict d", lambda: T.L2Ball(0.5, restrict=T.Subspace.perp(U(3, 1))).project(X()), "delta"),
    ("ascent_direction G int", lambda: l2().ascent_direction(torch.zeros(5, 4, dtype=torch.int64)), "G"),
    ("norm_of delta inf", lambda: T.LinfBall(0.5).norm_of(with_inf(X())), "delta"),
    ("apply_bounds X NaN", lambda: T.L2Ball(0.5, bounds=(0.0, 1.0)).apply_bounds(with_nan(X()), X()), "X"),
    ("restrict dimension", lambda: T.L2Ball(0.5, restrict=T.Subspace.perp(U(3, 1))).unit_start(X(), 0), "restrict"),
    # --- attacks
    ("PGD steps", lambda: A.PGD(steps=0), "steps"),
    ("PGD restarts", lambda: A.PGD(restarts=0), "restarts"),
    ("PGD loss", lambda: A.PGD(loss="l1"), "loss"),
    ("PGD schedule", lambda: A.PGD(schedule="cosine"), "schedule"),
    ("PGD rel_stepsize 0", lambda: A.PGD(rel_stepsize=0.0), "rel_stepsize"),
    ("PGD rel_stepsize NaN", lambda: A.PGD(rel_stepsize=NAN), "rel_stepsize"),
    ("PGD rel_stepsize empty", lambda: A.PGD(rel_stepsize=()), "rel_stepsize"),
    ("PGD random_start str", lambda: A.PGD(random_start="no"), "random_start"),  # type: ignore[arg-type]
    ("PGD keep_best int", lambda: A.PGD(keep_best=1), "keep_best"),  # type: ignore[arg-type]
    ("PGD seed", lambda: A.PGD(seed=-1), "seed"),
    ("PGD X NaN", lambda: A.PGD(steps=2)(ens(), with_nan(X()), y(), l2()), "X"),
    ("PGD X wrong d", lambda: A.PGD(steps=2)(ens(), X(d=3), y(), l2()), "X"),
    ("PGD X int", lambda: A.PGD(steps=2)(ens(), torch.zeros(5, 4, dtype=torch.int32), y(), l2()), "X"),
    ("PGD y 0/1", lambda: A.PGD(steps=2)(ens(), X(), y01(), l2()), "y"),
    ("PGD y shape", lambda: A.PGD(steps=2)(ens(), X(), y(3), l2()), "y"),
    ("PGD y numpy", lambda: A.PGD(steps=2)(ens(), X(), np.ones(5), l2()), "y"),  # type: ignore[arg-type]
    ("PGD model", lambda: A.PGD(steps=2)(object(), X(), y(), l2()), "model"),  # type: ignore[arg-type]
    ("PGD threat", lambda: A.PGD(steps=2)(ens(), X(), y(), "l2"), "threat"),  # type: ignore[arg-type]
    ("PGD eps overflow", lambda: A.PGD(steps=2)(ens(), X(), y(), T.L2Ball(1e39)), "eps"),
    ("PGD rel_stepsize per member", lambda: A.PGD(steps=2, rel_stepsize=(1.0,))(ens(), X(), y(), l2()), "rel_stepsize"),
    ("PGD memory", lambda: under_limit(200, A.PGD(steps=2), ens(), X(), y(), l2()), "M x n x d"),
    ("FGSM rel_stepsize", lambda: A.FGSM(rel_stepsize=-1.0), "rel_stepsize"),
    ("FGSM random_start", lambda: A.FGSM(random_start="yes"), "random_start"),  # type: ignore[arg-type]
    ("MinNorm norm", lambda: A.MinNorm(norm="l1"), "norm"),
    ("MinNorm max_iter", lambda: A.MinNorm(max_iter=0), "max_iter"),
    ("MinNorm overshoot", lambda: A.MinNorm(overshoot=-1.0), "overshoot"),
    ("MinNorm max_dist", lambda: A.MinNorm(max_dist=0.0), "max_dist"),
    ("MinNorm search_attack", lambda: A.MinNorm(search_attack="pgd"), "search_attack"),  # type: ignore[arg-type]
    ("MinNorm restrict", lambda: A.MinNorm(restrict=np.eye(3)), "restrict"),  # type: ignore[arg-type]
    ("MinNorm seed", lambda: A.MinNorm(seed=-2), "seed"),
    ("MinNorm X NaN", lambda: A.MinNorm()(ens(), with_nan(X()), y()), "X"),
    ("MinNorm y 0/1", lambda: A.MinNorm()(ens(), X(), y01()), "y"),
    ("MinNorm restrict d", lambda: A.MinNorm(restrict=T.Subspace.perp(U(3, 1)))(ens(), X(), y()), "restrict"),
    ("robust_accuracy eps_grid empty", lambda: A.robust_accuracy(ens(), X(), y(), l2(), []), "eps_grid"),
    ("robust_accuracy eps_grid negative", lambda: A.robust_accuracy(ens(), X(), y(), l2(), [-1.0]), "eps_grid"),
    ("robust_accuracy eps_grid str", lambda: A.robust_accuracy(ens(), X(), y(), l2(), ["a"]), "eps_grid"),  # type: ignore[list-item]
    ("robust_accuracy attacks empty", lambda: A.robust_accuracy(ens(), X(), y(), l2(), [0.1], attacks=()), "attacks"),
    ("robust_accuracy attacks type", lambda: A.robust_accuracy(ens(), X(), y(), l2(), [0.1], attacks=[A.MinNorm()]), "attacks[0]"),  # type: ignore[list-item]
    ("robust_accuracy min_norm", lambda: A.robust_accuracy(ens(), X(), y(), l2(), [0.1], min_norm="x"), "min_norm"),  # type: ignore[arg-type]
    ("robust_accuracy threat", lambda: A.robust_accuracy(ens(), X(), y(), "l2", [0.1]), "threat"),  # type: ignore[arg-type]
    ("robust_accuracy X NaN", lambda: A.robust_accuracy(ens(), with_nan(X()), y(), l2(), [0.1]), "X"),
    ("robust_accuracy eps overflow", lambda: A.robust_accuracy(ens(), X(), y(), l2(), [1e39]), "eps"),
    ("worst_case empty", lambda: A.worst_case([]), "results"),
    ("worst_case type", lambda: A.worst_case([1]), "results[0]"),  # type: ignore[list-item]
    ("worst_case shapes", lambda: A.worst_case([
        A.AttackResult(torch.zeros(2, 5, 4), torch.zeros(2, 5), torch.zeros(2, 5)),
        A.AttackResult(torch.zeros(2, 3, 4), torch.zeros(2, 3), torch.zeros(2, 3)),
    ]), "results[1]"),
    # --- training methods
    ("PGDAT norm", lambda: MT.PGDAT(norm="l1"), "norm"),
    ("PGDAT eps negative", lambda: MT.PGDAT(eps=-0.1), "eps"),
    ("PGDAT eps empty", lambda: MT.PGDAT(eps=()), "eps"),
    ("PGDAT eps entry", lambda: MT.PGDAT(eps=(0.1, NAN)), "eps entry"),
    ("PGDAT steps", lambda: MT.PGDAT(steps=0), "steps"),
    ("PGDAT linf start bogus", lambda: MT.PGDAT(norm="linf", start="bogus"), "start (for norm 'linf')"),
    ("PGDAT linf start radius", lambda: MT.PGDAT(norm="linf", start="radius"), "start (for norm 'linf')"),
    ("PGDAT l2 start bogus", lambda: MT.PGDAT(norm="l2", start="bogus"), "start (for norm 'l2')"),
    ("PGDAT random_start", lambda: MT.PGDAT(random_start="no"), "random_start"),  # type: ignore[arg-type]
    ("PGDAT restrict", lambda: MT.PGDAT(restrict=np.eye(4)), "restrict"),  # type: ignore[arg-type]
    ("PGDAT eps_ramp negative", lambda: MT.PGDAT(eps_ramp=-1), "eps_ramp"),
    ("PGDAT eps_ramp float", lambda: MT.PGDAT(eps_ramp=2.5), "eps_ramp"),  # type: ignore[arg-type]
    ("PGDAT eps_ramp bool", lambda: MT.PGDAT(eps_ramp=True), "eps_ramp"),
    ("PGDAT ramp_factor step", lambda: MT.PGDAT(eps_ramp=3).ramp_factor(-1), "step"),
    ("ATSpec eps_ramp bool", lambda: PR.ATSpec(eps_ramp=True), "eps_ramp"),
    ("ATSpec eps_ramp float", lambda: PR.ATSpec(eps_ramp=1.5), "eps_ramp"),  # type: ignore[arg-type]
    ("ATSpec eps_ramp past steps", lambda: PR.ATSpec(steps=10, eps_ramp=11), "eps_ramp"),
    ("from_init_schedule clean_steps", lambda: PR.from_init_schedule(-1, 10), "clean_steps"),
    ("from_init_schedule steps", lambda: PR.from_init_schedule(10, 2.5), "steps"),  # type: ignore[arg-type]
    ("PGDAT loss", lambda: MT.PGDAT(loss="l1"), "loss"),
    ("PGDAT seed", lambda: MT.PGDAT(seed=-1), "seed"),
    ("PGDAT rel_stepsize", lambda: MT.PGDAT(rel_stepsize=0.0), "rel_stepsize"),
    ("FastAT steps", lambda: MT.FastAT(steps=2), "steps"),
    ("FastAT alpha", lambda: MT.FastAT(alpha=0.0), "alpha"),
    ("FastAT alpha entry", lambda: MT.FastAT(alpha=(1.0, -1.0)), "alpha entry"),
    ("TRADES rel_stepsize NaN", lambda: MT.TRADES(rel_stepsize=NAN), "rel_stepsize"),
    ("TRADES rel_stepsize 0", lambda: MT.TRADES(rel_stepsize=0.0), "rel_stepsize"),
    ("TRADES rel_stepsize negative", lambda: MT.TRADES(rel_stepsize=-1.0), "rel_stepsize"),
    ("TRADES beta", lambda: MT.TRADES(beta=-1.0), "beta"),
    ("TRADES norm", lambda: MT.TRADES(norm="l1"), "norm"),
    ("TRADES eps inf", lambda: MT.TRADES(eps=INF), "eps"),
    ("BAT rel_stepsize NaN", lambda: MT.BAT(rel_stepsize=NAN), "rel_stepsize"),
    ("BAT m", lambda: MT.BAT(m=0), "m"),
    ("BAT attack", lambda: MT.BAT(attack="cw"), "attack"),
    ("BAT reduction", lambda: MT.BAT(reduction="max"), "reduction"),
    ("Clean loss_grads y 0/1", lambda: MT.Clean().loss_grads(ens(), X(), y01()), "y"),
    ("PGDAT loss_grads X NaN", lambda: MT.PGDAT(steps=1).loss_grads(ens(), with_nan(X()), y()), "X"),
    ("PGDAT loss_grads step", lambda: MT.PGDAT(steps=1).loss_grads(ens(), X(), y(), step=-1), "step"),
    ("PGDAT loss_grads ens", lambda: MT.PGDAT(steps=1).loss_grads("ens", X(), y()), "ens"),  # type: ignore[arg-type]
    ("PGDAT loss_grads eps overflow", lambda: MT.PGDAT(eps=1e39, steps=1).loss_grads(ens(), X(), y()), "eps"),
    ("PGDAT per-member eps count", lambda: MT.PGDAT(eps=(0.1, 0.2, 0.3), steps=1).loss_grads(ens(), X(), y()), "eps"),
    ("TRADES perturbation X NaN", lambda: MT.TRADES(steps=1).perturbation(ens(), with_nan(X())), "X"),
    ("BAT perturbation y 0/1", lambda: MT.BAT(steps=1).perturbation(ens(), X(), y01()), "y"),
    ("bridge_points m", lambda: MT.bridge_points(X(), torch.zeros(5, 4), 0), "m"),
    ("bridge_points delta", lambda: MT.bridge_points(X(), torch.zeros(5, 3), 2), "delta"),
    ("bernoulli_kl shapes", lambda: MT.bernoulli_kl(torch.zeros(2, 5), torch.zeros(2, 4)), "f2"),
    ("bernoulli_kl NaN", lambda: MT.bernoulli_kl_grads(with_nan(torch.zeros(2, 5)), torch.zeros(2, 5)), "f"),
    ("bridged_loss_grads bridge", lambda: MT.bridged_loss_grads(ens(), X(), [X(d=3)], y(), "logistic", 1.0), "bridge[0]"),
    ("bridged_loss_grads beta", lambda: MT.bridged_loss_grads(ens(), X(), [X()[None].expand(2, 5, 4)], y(), "logistic", -1.0), "beta"),
    # --- optimizer
    ("optimizer name", lambda: O.OptimizerConfig("rmsprop"), "optimizer"),
    ("optimizer lr 0", lambda: O.OptimizerConfig(lr=0.0), "lr"),
    ("optimizer lr NaN", lambda: O.OptimizerConfig(lr=NAN), "lr"),
    ("optimizer lr empty", lambda: O.OptimizerConfig(lr=()), "lr"),
    ("optimizer lr entry", lambda: O.OptimizerConfig(lr=(0.1, -1.0)), "lr[1]"),
    ("optimizer lr str", lambda: O.OptimizerConfig(lr="0.1"), "lr"),  # type: ignore[arg-type]
    ("optimizer weight_decay", lambda: O.OptimizerConfig(weight_decay=-1.0), "weight_decay"),
    ("optimizer momentum", lambda: O.OptimizerConfig(momentum=1.0), "momentum"),
    ("optimizer betas pair", lambda: O.OptimizerConfig(betas=(0.9,)), "betas"),  # type: ignore[arg-type]
    ("optimizer betas[0]", lambda: O.OptimizerConfig(betas=(1.0, 0.9)), "betas[0]"),
    ("optimizer eps", lambda: O.OptimizerConfig(eps=0.0), "eps"),
    ("optimizer decay str", lambda: O.OptimizerConfig(decay="W"), "decay"),  # type: ignore[arg-type]
    ("optimizer decay entry", lambda: O.OptimizerConfig(decay=("W", "z")), "decay entry"),
    ("optimizer decoupled", lambda: O.OptimizerConfig(decoupled="yes"), "decoupled"),  # type: ignore[arg-type]
    ("Optimizer params empty", lambda: O.Optimizer(O.OptimizerConfig(), {}), "params"),
    ("Optimizer cfg", lambda: O.Optimizer("sgd", ens().params()), "cfg"),  # type: ignore[arg-type]
    ("Optimizer params int", lambda: O.Optimizer(O.OptimizerConfig(), {"W": torch.zeros(2, 3, dtype=torch.int64)}), "params['W']"),
    ("Optimizer params mixed", lambda: O.Optimizer(O.OptimizerConfig(), {"W": torch.zeros(2, 3), "a": torch.zeros(3, 3)}), "params['a']"),
    ("Optimizer lr overflow", lambda: O.Optimizer(O.OptimizerConfig(lr=1e39), ens().params()), "lr"),
    ("Optimizer lr per member", lambda: O.Optimizer(O.OptimizerConfig(lr=(0.1, 0.2, 0.3)), ens().params()), "lr"),
    # --- TrainConfig / OverfitGuard / train
    ("TrainConfig steps negative", lambda: TR.TrainConfig(steps=-1), "steps"),
    ("TrainConfig steps float", lambda: TR.TrainConfig(steps=1.5), "steps"),  # type: ignore[arg-type]
    ("TrainConfig loss", lambda: cfg(loss="l1"), "loss"),
    ("TrainConfig batch_size", lambda: cfg(batch_size=0), "batch_size"),
    ("TrainConfig stop_accuracy", lambda: cfg(stop_accuracy=1.5), "stop_accuracy"),
    ("TrainConfig stop_margin NaN", lambda: cfg(stop_margin=NAN), "stop_margin"),
    ("TrainConfig check_every", lambda: cfg(check_every=0), "check_every"),
    ("TrainConfig optimizer", lambda: cfg(optimizer="sgd"), "optimizer"),
    ("TrainConfig method", lambda: cfg(method="pgd"), "method"),
    ("TrainConfig threshold_rule", lambda: cfg(threshold_rule=0.5), "threshold_rule"),
    ("TrainConfig guard type", lambda: cfg(guard=True), "guard"),
    ("TrainConfig guard without AT", lambda: cfg(guard=TR.OverfitGuard()), "guard"),
    ("TrainConfig lr_schedule", lambda: cfg(lr_schedule="cosine"), "lr_schedule"),
    ("OverfitGuard every", lambda: TR.OverfitGuard(every=0), "every"),
    ("OverfitGuard drop", lambda: TR.OverfitGuard(drop=-1.0), "drop"),
    ("train X NaN", lambda: TR.train(ens(), with_nan(X()), y(), cfg()), "X"),
    ("train X complex", lambda: TR.train(ens(), torch.zeros(5, 4, dtype=torch.complex64), y(), cfg()), "X"),
    ("train X int", lambda: TR.train(ens(), torch.zeros(5, 4, dtype=torch.int64), y(), cfg()), "X"),
    ("train X wrong d", lambda: TR.train(ens(), X(d=3), y(), cfg()), "X"),
    ("train X empty", lambda: TR.train(ens(), torch.zeros(0, 4), torch.zeros(0), cfg()), "X"),
    ("train X overflow after cast", lambda: TR.train(ens(), X(dtype=torch.float64) * 1e300, y(), cfg()), "X"),
    ("train y 0/1", lambda: TR.train(ens(), X(), y01(), cfg()), "y"),
    ("train y shape", lambda: TR.train(ens(), X(), y(4), cfg()), "y"),
    ("train y list", lambda: TR.train(ens(), X(), [1.0] * 5, cfg()), "y"),  # type: ignore[arg-type]
    ("train cfg", lambda: TR.train(ens(), X(), y(), "cfg"), "cfg"),  # type: ignore[arg-type]
    ("train ens", lambda: TR.train(object(), X(), y(), cfg()), "ens"),  # type: ignore[arg-type]
    ("train ens NaN", lambda: TR.train(set_(ens(), "a", with_nan(ens().a)), X(), y(), cfg()), "a"),
    ("train measure_at", lambda: TR.train(ens(), X(), y(), cfg(), measure_at=[5]), "measure_at step"),
    ("train measure_at str", lambda: TR.train(ens(), X(), y(), cfg(), measure_at="0"), "measure_at"),  # type: ignore[arg-type]
    ("train measure", lambda: TR.train(ens(), X(), y(), cfg(), measure="m"), "measure"),  # type: ignore[arg-type]
    ("train seeds missing", lambda: TR.train(ens(), X(), y(), cfg(batch_size=2)), "seeds"),
    ("train seeds negative", lambda: TR.train(ens(), X(), y(), cfg(batch_size=2), seeds=[0, -1]), "seeds[1]"),
    ("train progress", lambda: TR.train(ens(), X(), y(), cfg(), progress="yes"), "progress"),  # type: ignore[arg-type]
    ("train threshold_rule plain", lambda: TR.train(ens(), X(), y(), cfg(threshold_rule=N.ThresholdRule())), "threshold_rule"),
    ("train method linear", lambda: TR.train(N.LinearEnsemble.zeros(2, 4), X(), y(), cfg(method=MT.Clean())), "ens"),
    ("train method eps count", lambda: TR.train(ens(), X(), y(), cfg(method=MT.PGDAT(eps=(0.1,) * 3, steps=1))), "eps"),
    ("train memory", lambda: under_limit(200, TR.train, ens(), X(), y(), cfg()), "M x n"),
    # --- losses
    ("loss_value name", lambda: loss_value("cross", torch.zeros(2, 5), y()), "loss"),
    ("loss_value y 0/1", lambda: loss_value("logistic", torch.zeros(2, 5), y01()), "y"),
    ("loss_value f NaN", lambda: loss_value("logistic", with_nan(torch.zeros(2, 5)), y()), "f"),
    ("loss_derivative y shape", lambda: loss_derivative("hinge", torch.zeros(2, 5), y(4)), "y"),
    # --- data with known structure
    ("subspace n", lambda: D.make_subspace_data(0, 4, 2, seed=0), "n"),
    ("subspace d", lambda: D.make_subspace_data(5, 1, 1, seed=0), "d"),
    ("subspace k 0", lambda: D.make_subspace_data(5, 4, 0, seed=0), "k_P"),
    ("subspace k = d", lambda: D.make_subspace_data(5, 4, 4, seed=0), "k_P"),
    ("subspace seed", lambda: D.make_subspace_data(5, 4, 2, seed=-1), "seed"),
    ("subspace seed float", lambda: D.make_subspace_data(5, 4, 2, seed=1.0), "seed"),  # type: ignore[arg-type]
    ("subspace points", lambda: D.make_subspace_data(5, 4, 2, seed=0, points="cube"), "points"),  # type: ignore[arg-type]
    ("subspace labels", lambda: D.make_subspace_data(5, 4, 2, seed=0, labels="xor"), "labels"),  # type: ignore[arg-type]
    ("subspace radius 0", lambda: D.make_subspace_data(5, 4, 2, seed=0, radius=0.0), "radius"),
    ("subspace radius inf", lambda: D.make_subspace_data(5, 4, 2, seed=0, radius=INF), "radius"),
    ("subspace offset", lambda: D.make_subspace_data(5, 4, 2, seed=0, offset=-1.0), "offset"),
    ("subspace noise", lambda: D.make_subspace_data(5, 4, 2, seed=0, noise=NAN), "noise"),
    ("subspace n_intervals", lambda: D.make_subspace_data(5, 4, 2, seed=0, n_intervals=1), "n_intervals"),
    ("subspace teacher_width", lambda: D.make_subspace_data(5, 4, 2, seed=0, teacher_width=0), "teacher_width"),
    ("subspace basis shape", lambda: D.make_subspace_data(5, 4, 2, seed=0, basis=U(4, 1)), "basis"),
    ("subspace basis NaN", lambda: D.make_subspace_data(5, 4, 2, seed=0, basis=np.full((4, 2), NAN)), "basis"),
    ("subspace basis not orthonormal", lambda: D.make_subspace_data(5, 4, 2, seed=0, basis=np.ones((4, 2))), "basis"),
    ("subspace axis_aligned", lambda: D.make_subspace_data(5, 4, 2, seed=0, axis_aligned="yes"), "axis_aligned"),  # type: ignore[arg-type]
    ("subspace too big", lambda: D.make_subspace_data(10**12, 1000, 2, seed=0), "n x d"),
    ("random_basis rng", lambda: D.random_basis(4, 2, 0), "rng"),  # type: ignore[arg-type]
    ("SubspaceData X complex", lambda: D.SubspaceData(np.zeros((3, 4), complex), np.ones(3), U()), "X"),
    ("SubspaceData X object", lambda: D.SubspaceData(np.array([[None] * 4] * 3), np.ones(3), U()), "X"),
    ("SubspaceData X NaN", lambda: D.SubspaceData(np.full((3, 4), NAN), np.ones(3), U()), "X"),
    ("SubspaceData y 0/1", lambda: D.SubspaceData(np.zeros((3, 4)), np.array([0.0, 1, 1]), U()), "y"),
    ("SubspaceData y shape", lambda: D.SubspaceData(np.zeros((3, 4)), np.ones(4), U()), "y"),
    ("SubspaceData offset", lambda: D.SubspaceData(np.zeros((3, 4)), np.ones(3), U(), offset=np.ones(3)), "offset"),
    ("SubspaceData name", lambda: D.SubspaceData(np.zeros((3, 4)), np.ones(3), U(), name=3), "name"),  # type: ignore[arg-type]
    ("tensors dtype", lambda: subspace().tensors(dtype=torch.int64), "dtype"),
    ("tensors device", lambda: subspace().tensors(device="tpu"), "device"),
    ("checkerboard size", lambda: D.checkerboard(size=1), "size"),
    ("checkerboard height", lambda: D.checkerboard(height=NAN), "height"),
    ("sparse law d", lambda: S.SparseCodingLaw(d=0, k=1), "d"),
    ("sparse law k", lambda: S.SparseCodingLaw(d=8, k=0), "k"),
    ("sparse law k > D", lambda: S.SparseCodingLaw(d=8, k=9), "k"),
    ("sparse law dictionary", lambda: S.SparseCodingLaw(d=8, k=2, dictionary="random"), "dictionary"),
    ("sparse law D identity", lambda: S.SparseCodingLaw(d=8, k=2, D=6), "D"),
    ("sparse law D overcomplete", lambda: S.SparseCodingLaw(d=8, k=2, D=8, dictionary="overcomplete"), "D"),
    ("sparse law support", lambda: S.SparseCodingLaw(d=8, k=2, support="poisson"), "support"),
    ("sparse law magnitude", lambda: S.SparseCodingLaw(d=8, k=2, magnitude="uniform"), "magnitude"),
    ("sparse law noise", lambda: S.SparseCodingLaw(d=8, k=2, noise=-1.0), "noise"),
    ("sparse law teacher", lambda: S.SparseCodingLaw(d=8, k=2, teacher="relu"), "teacher"),
    ("sparse n", lambda: S.make_sparse_data(law(), 0, 0), "n"),
    ("sparse seed", lambda: S.make_sparse_data(law(), 10, -1), "seed"),
    ("sparse law type", lambda: S.make_sparse_data("law", 10, 0), "law"),  # type: ignore[arg-type]
    ("sparse too big", lambda: S.make_sparse_data(law(), 10**12, 0), "n x D"),
    ("sparse sample n", lambda: sparse().sample(0, 1), "n"),
    ("sparse data X NaN", lambda: replace(sparse(), X=np.full((6, 8), NAN)), "X"),
    ("sparse data Z shape", lambda: replace(sparse(), Z=np.zeros((6, 7))), "Z"),
    ("sparse data w_star", lambda: replace(sparse(), w_star=np.ones(3)), "w_star"),
    # --- measurements
    ("accuracy X NaN", lambda: ME.accuracy(ens(), with_nan(X()), y()), "X"),
    ("accuracy y 0/1", lambda: ME.accuracy(ens(), X(), y01()), "y"),
    ("weight_split ens", lambda: ME.weight_split("ens", U()), "ens"),  # type: ignore[arg-type]
    ("weight_split basis d", lambda: ME.weight_split(ens(), U(3, 1)), "basis"),
    ("weight_split basis NaN", lambda: ME.weight_split(ens(), np.full((4, 2), NAN)), "basis"),
    ("offsubspace_drift W0 shape", lambda: ME.offsubspace_drift(ens().W, ens().W[:1], U()), "W0"),
    ("offsubspace_ratio W NaN", lambda: ME.offsubspace_ratio(with_nan(ens().W), ens().W, U()), "W"),
    ("input_grad_split X NaN", lambda: ME.input_grad_split(ens(), with_nan(X()), U()), "X"),
    ("input_grad_split basis", lambda: ME.input_grad_split(ens(), X(), np.ones((4, 2))), "basis"),
    ("boundary_distance direction", lambda: ME.boundary_distance_along(ens(), X(), torch.zeros(4)), "direction"),
    ("boundary_distance t_max", lambda: ME.boundary_distance_along(ens(), X(), torch.ones(4), t_max=0.0), "t_max"),
    ("boundary_distance grid", lambda: ME.boundary_distance_along(ens(), X(), torch.ones(4), grid=0), "grid"),
    ("boundary_distance X 3-D", lambda: ME.boundary_distance_along(ens(), torch.zeros(2, 5, 4), torch.ones(4)), "X"),
    ("neuron_decomposition top", lambda: ME.neuron_decomposition(np.ones((3, 4)), np.eye(4), np.ones(4), top=0), "top"),
    ("neuron_decomposition W d", lambda: ME.neuron_decomposition(np.ones((3, 5)), np.eye(4), np.ones(4)), "W"),
    ("neuron_decomposition w_star", lambda: ME.neuron_decomposition(np.ones((3, 4)), np.eye(4), np.ones(3)), "w_star"),
    ("neuron_decomposition W NaN", lambda: ME.neuron_decomposition(np.full((3, 4), NAN), np.eye(4), np.ones(4)), "W"),
    ("mixture_correlations y 0/1", lambda: ME.mixture_correlations(np.ones((3, 4)), np.ones((5, 4)), np.zeros(5)), "y"),
    ("mixture_correlations V d", lambda: ME.mixture_correlations(np.ones((3, 2)), np.ones((5, 4)), np.ones(5)), "V"),
    ("abs_cosine shapes", lambda: ME.abs_cosine(np.ones((3, 4)), np.ones((3, 5))), "B"),
    ("perturbation_structure delta", lambda: ME.perturbation_structure(np.ones((2, 5, 3)), np.ones((5, 4)), np.eye(4)), "delta"),
    ("perturbation_structure Z", lambda: ME.perturbation_structure(np.ones((2, 5, 4)), np.ones((5, 3)), np.eye(4)), "Z"),
    # --- baselines and the oracle
    ("linearized base", lambda: LinearizedEnsemble("base", torch.zeros(2, 3, 4)), "base"),  # type: ignore[arg-type]
    ("linearized delta shape", lambda: LinearizedEnsemble(ens(), torch.zeros(2, 3, 5)), "delta"),
    ("linearized delta NaN", lambda: LinearizedEnsemble(ens(), with_nan(torch.zeros(2, 3, 4))), "delta"),
    ("linearized act", lambda: LinearizedEnsemble.at_init(sym("smooth_relu")), "base.act"),
    ("linearized forward X NaN", lambda: LinearizedEnsemble.at_init(ens()).forward(with_nan(X())), "X"),
    ("linearized loss_grads y", lambda: LinearizedEnsemble.at_init(ens()).loss_grads(X(), y01(), "logistic"), "y"),
    ("measure project U", lambda: ME.project(X(), torch.zeros(3, 2)), "U"),
    ("measure project_perp V", lambda: ME.project_perp(torch.zeros(5, 4, dtype=torch.complex64), torch.zeros(4, 2)), "V"),
    ("TwoLayerNet W", lambda: N.TwoLayerNet(torch.zeros(3), torch.zeros(3), torch.zeros(3)), "W"),
    ("TwoLayerNet b", lambda: N.TwoLayerNet(torch.zeros(3, 4), torch.zeros(4), torch.zeros(3)), "b"),
    ("TwoLayerNet act", lambda: N.TwoLayerNet(torch.zeros(3, 4), torch.zeros(3), torch.zeros(3), act="elu"), "activation"),
    ("oracle width", lambda: exact_min_l2_distance(np.ones((20, 2)), np.zeros(20), np.ones(20), np.zeros(2), 1.0), "width m"),
    ("oracle y", lambda: exact_min_l2_distance(np.ones((2, 2)), np.zeros(2), np.ones(2), np.zeros(2), 0.0), "y"),
    ("oracle x0 NaN", lambda: exact_min_l2_distance(np.ones((2, 2)), np.zeros(2), np.ones(2), np.array([NAN, 0.0]), 1.0), "x0"),
    ("oracle b shape", lambda: exact_min_l2_distance(np.ones((2, 2)), np.zeros(3), np.ones(2), np.zeros(2), 1.0), "b"),
    # --- records
    ("RunStore sim ..", lambda: RunStore(TMP, "../x"), "sim"),
    ("RunStore sim separator", lambda: RunStore(TMP, "a/b"), "sim"),
    ("RunStore sim empty", lambda: RunStore(TMP, ""), "sim"),
    ("RunStore root", lambda: RunStore(3, "x"), "root"),  # type: ignore[arg-type]
    ("RunStore key ..", lambda: store().run_dir("../k"), "key"),
    ("RunStore key hidden", lambda: store().write(".k", {"config": {}, "status": "ok"}), "key"),
    ("RunStore object array", lambda: store().write("k", {"config": {}, "status": "ok"}, {"o": np.array([{}], dtype=object)}), "arrays['o']"),
    ("RunStore array name", lambda: store().write("k", {"config": {}, "status": "ok"}, {"": np.zeros(1)}), "array name"),
    ("RunStore load missing", lambda: store().load("never-written"), "key"),
    # --- sweeps and the command line's checks
    ("sweep out is a file", lambda: run_simulation(DEMO, out=a_file(), progress=False), "out"),
    ("sweep device", lambda: run_simulation(DEMO, out=TMP, device="bogus", progress=False), "device"),
    ("sweep scale", lambda: run_simulation(DEMO, out=TMP, scale="huge", progress=False), "scale"),
    ("sweep seeds", lambda: run_simulation(DEMO, out=TMP, n_seeds=0, progress=False), "seeds"),
    ("sweep workers", lambda: run_simulation(DEMO, out=TMP, workers=0, progress=False), "workers"),
    ("sweep force", lambda: run_simulation(DEMO, out=TMP, force="yes", progress=False), "force"),  # type: ignore[arg-type]
    ("sweep sim", lambda: run_simulation("01", out=TMP), "sim"),  # type: ignore[arg-type]
    ("Simulation number", lambda: replace(DEMO, number="1"), "number"),
    ("Simulation name", lambda: replace(DEMO, name="../x"), "name"),
    ("Simulation run", lambda: replace(DEMO, run=None), "run"),  # type: ignore[arg-type]
    ("make_batches parts", lambda: make_batches(DEMO, [], True, parts=0), "parts"),
    ("run_key prefix", lambda: run_key({"a": 1}, prefix=3), "prefix"),  # type: ignore[arg-type]
    ("run_key config", lambda: run_key({"a": object()}), "config"),
    ("scheduler address", lambda: check_scheduler("nonsense"), "scheduler"),
    ("scheduler refused", lambda: check_scheduler("tcp://127.0.0.1:1", timeout=2.0), "scheduler"),
    ("member_seeds seed", lambda: member_seeds(-1, 2), "seed"),
    ("torch_dtype", lambda: torch_dtype("float16"), "dtype"),
    ("resolve_device cuda", lambda: resolve_device("cuda:99"), "device"),
    ("resolve_device type", lambda: resolve_device(0), "device"),  # type: ignore[arg-type]
]
# fmt: on


def test_the_table_is_large_and_its_ids_unique() -> None:
    ids = [r[0] for r in ROWS]
    assert len(ids) >= 150
    assert len(set(ids)) == len(ids), [i for i in ids if ids.count(i) > 1]


@pytest.mark.parametrize(("call", "param"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_input_raises_one_clear_error(call: Callable[[], Any], param: str) -> None:
    """The call raises AdvsimError — no other exception, no silent acceptance — and the message
    names the parameter, then the allowed range, then the value received."""
    with pytest.raises(AdvsimError) as info:
        call()
    msg = str(info.value)
    assert "\n" not in msg, msg
    pattern = rf"^{re.escape(param)} must .+; got .+"
    assert re.match(pattern, msg), f"message {msg!r} does not match {pattern!r}"


# ----------------------------------------------------------------------------- what must be accepted
def test_valid_inputs_pass_the_same_entry_points() -> None:
    """The checks refuse only what is wrong: float64 data on a float32 model is cast, (M, n, d)
    inputs and per-member labels work, integer labels ±1 and numpy scalars are fine, and the
    defaults of every method build."""
    e = ens()
    Xd = X(dtype=torch.float64)
    assert e.forward(Xd).dtype == torch.float32
    assert e.forward(X()[None].expand(M_, n_, d_)).shape == (M_, n_)
    f, g = e.loss_grads(X()[None].expand(M_, n_, d_), y()[None].expand(M_, n_), "hinge")
    assert f.shape == (M_, n_) and set(g) == {"W", "b", "a"}
    assert e.loss_grads(X(), y().to(torch.int64), "logistic")[0].shape == (M_, n_)
    assert check_float("eps", np.float32(0.5)) == 0.5 and check_int("n", np.int64(3)) == 3
    N.init_ensemble(4, 3, seeds=np.arange(2), first_scale=np.array([1.0, 2.0]))  # type: ignore[arg-type]
    for method in (
        MT.Clean(),
        MT.PGDAT(),
        MT.FastAT(),
        MT.FastAT(norm="l2"),
        MT.TRADES(),
        MT.BAT(),
    ):
        method.loss_grads(e, X(), y())
    assert MT.FastAT(norm="linf").threat().start == "uniform"
    assert MT.FastAT(norm="l2").threat().start == "radius"
    A.PGD(steps=2, random_start=np.bool_(True))(e, X(), y(), T.LinfBall(np.float64(0.1)))  # type: ignore[arg-type]
    TR.train(e, Xd, y(), cfg(loss="squared"))
    TR.train(N.LinearEnsemble.zeros(2, 4), X(), y(), cfg())
    TR.train(LinearizedEnsemble.at_init(ens()), X(), y(), cfg())


def test_validation_is_skipped_inside_loops() -> None:
    """Under assume_valid (what attacks and training use after their entry checks) a forward pass
    does not scan its input: a NaN input flows through instead of raising."""
    from sims.validate import assume_valid, checks_enabled

    e = ens()
    with pytest.raises(AdvsimError):
        e.forward(with_nan(X()))
    with assume_valid():
        assert not checks_enabled()
        assert torch.isnan(e.forward(with_nan(X()))).any()
    assert checks_enabled()


def test_messages_share_one_shape_and_describe_the_value() -> None:
    with pytest.raises(AdvsimError, match=r"^m must be an integer in \[1, inf\]; got 0$"):
        check_int("m", 0, 1)
    with pytest.raises(
        AdvsimError, match=r"^lr must be a finite real number in \(0, inf\]; got nan$"
    ):
        check_float("lr", NAN, 0.0, lo_open=True)
    with pytest.raises(AdvsimError, match=r"^eps must be at most 3\.403e\+38 .*; got 1e\+39$"):
        check_float("eps", 1e39, dtype=torch.float32)
    assert describe(torch.zeros(2, 3)) == "a tensor of shape (2, 3) and dtype float32"
    assert describe(np.zeros(4, np.int8)) == "an array of shape (4,) and dtype int8".replace(
        "an", "a", 1
    )
    assert describe("x" * 200).endswith("...")
    with pytest.raises(AdvsimError, match=r"^W must have shape \(\*, 3\); got 'w'"):
        fail("W", "shape (*, 3)", "w", verb="have")
    # the numbers in a message name the bad entries
    with pytest.raises(AdvsimError, match="with 1 NaN/inf entries"):
        ens().forward(with_nan(X()))
    with pytest.raises(AdvsimError, match=r"needs about 1\.2e\+13 bytes"):
        N.init_ensemble(10**6, 10**6, seeds=[0])


def test_memory_limit_env_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from sims.validate import memory_limit

    monkeypatch.setenv("ADVSIM_MEMORY_LIMIT", "lots")
    with pytest.raises(AdvsimError, match="^ADVSIM_MEMORY_LIMIT must be"):
        memory_limit()
    monkeypatch.setenv("ADVSIM_MEMORY_LIMIT", "1e6")
    assert memory_limit() == 10**6
    monkeypatch.delenv("ADVSIM_MEMORY_LIMIT")
    assert memory_limit() > 10**8  # the machine's memory


def test_a_pgd_radius_that_fits_float64_but_not_float32() -> None:
    """ε = 1e39 used to give δ = 0 silently in float32; in float64 it is a valid (huge) radius."""
    e64 = ens(dtype=torch.float64)
    res = A.PGD(steps=1, random_start=False)(e64, X(dtype=torch.float64), y(), T.L2Ball(1e39))
    assert torch.isfinite(res.delta).all()
    assert math.isclose(float(res.delta.norm(dim=-1).max()), 1e39, rel_tol=1e-9)
