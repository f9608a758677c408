"""Measurements of an ensemble against the known subspace: weights and input gradients split by ``P``.

All functions take the ground-truth basis ``U (d, k_P)`` from the dataset (never an estimate) and
project as ``P v = U(Uᵀv)``, ``P⊥ v = v − P v`` without forming ``d × d`` matrices. They return tensors
with the ensemble axis first. Quantities (PAPERS.md §1):

* per neuron: ``‖P w_j‖``, ``‖P⊥ w_j‖``;
* per member: drift ``‖P⊥(W_t − W_0)‖_F / ‖P⊥ W_0‖_F`` (invariant 1 says it stays 0 under gradient
  training on linear-subspace data) and the ratio ``‖P⊥ W_t‖_F / ‖P⊥ W_0‖_F`` (invariant 2: ``(1−ηλ)^t``);
* per point: ``‖P ∇_x f‖``, ``‖P⊥ ∇_x f‖`` and the active-set weight ``ρ(x) = Σ_{j active} a_j²``.

Against the known dictionary of sparse-coding data (feature purification, PAPERS.md §2): the neuron
decomposition into a pure part and a dense mixture, the mixtures' correlation with the average versus
individual inputs, the principle's cosine, and where attack perturbations sit in the dictionary basis.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sims.nets import ScalarModel, TwoLayerEnsemble, check_inputs
from sims.perf import memory_budget
from sims.threat import ThreatModel
from sims.validate import (
    AdvsimError,
    assume_valid,
    check_array,
    check_float,
    check_instance,
    check_int,
    check_labels,
    check_memory,
    check_tensor,
    checks_enabled,
    fail,
)

__all__ = [
    "abs_cosine",
    "accuracy",
    "as_basis",
    "end_below_peak",
    "feasibility_cap",
    "gradient_alignment",
    "input_grad_split",
    "mixture_correlations",
    "nearest_other_class_distance",
    "neuron_decomposition",
    "offsubspace_drift",
    "offsubspace_ratio",
    "perturbation_structure",
    "project",
    "project_perp",
    "trained_peak",
    "weight_split",
]


def check_basis(name: str, basis: object, d: int) -> np.ndarray:
    """``basis`` as a float64 ``(d, k)`` array with orthonormal columns (``1 <= k <= d``), or raise."""
    U = check_array(name, basis, ndim=2)
    if U.shape[0] != d or not 1 <= U.shape[1] <= d:
        fail(name, f"shape (d, k) = ({d}, k) with 1 <= k <= {d}", U, verb="have")
    if not np.allclose(U.T @ U, np.eye(U.shape[1]), atol=1e-6):
        fail(name, "orthonormal columns (UᵀU = I)", U, verb="have")
    return U


def _check_ens(ens: object) -> TwoLayerEnsemble:
    check_instance("ens", ens, TwoLayerEnsemble, "a TwoLayerEnsemble")
    assert isinstance(ens, TwoLayerEnsemble)
    ens.check_params()
    return ens


def accuracy(model: ScalarModel, X: Tensor, y: Tensor) -> np.ndarray:
    """Per-member accuracy ``mean(y f(x) > 0)``: ``(M,)`` numpy."""
    from sims.attacks import check_attack_call

    check_attack_call(model, X, y, None, copies=1)
    with torch.no_grad(), assume_valid():
        f = model.forward(X)
        return ((y.to(f.dtype) * f) > 0).to(torch.float64).mean(dim=1).cpu().numpy()


def as_basis(basis: np.ndarray | Tensor, like: Tensor) -> Tensor:
    """The basis as a tensor with ``like``'s dtype and device (a ``(d, k)`` orthonormal basis)."""
    if not isinstance(basis, Tensor) or basis.device != like.device or basis.dtype != like.dtype:
        check_tensor("like", like, nonempty=False, finite=False)
        basis = check_basis("basis", basis, int(like.shape[-1]))
    return torch.as_tensor(basis, dtype=like.dtype, device=like.device)


def project(V: Tensor, U: Tensor) -> Tensor:
    """``P v = U Uᵀ v`` applied to the last axis of ``V`` (``U`` a ``(d, k)`` tensor of ``V``'s dtype
    and device, e.g. from :func:`as_basis`)."""
    if checks_enabled():
        check_tensor("V", V, nonempty=False)
        check_tensor("U", U, shapes=[(V.shape[-1] if V.ndim else -1, "k")], like=V)
    return torch.matmul(torch.matmul(V, U), U.T)


def project_perp(V: Tensor, U: Tensor) -> Tensor:
    """``P⊥ v = v − U Uᵀ v`` applied to the last axis of ``V``."""
    return torch.sub(V, project(V, U))


def weight_split(ens: TwoLayerEnsemble, basis: np.ndarray | Tensor) -> dict[str, Tensor]:
    """Per-neuron norms ``‖P w_j‖`` and ``‖P⊥ w_j‖``: ``w_on``, ``w_off`` of shape ``(M, m)``."""
    _check_ens(ens)
    U = as_basis(basis, ens.W)
    on = project(ens.W, U)
    return {"w_on": on.norm(dim=-1), "w_off": (ens.W - on).norm(dim=-1)}


def _check_weights(W: object, W0: object) -> None:
    check_tensor("W", W, shapes=[("M", "m", "d")])
    assert isinstance(W, Tensor)
    check_tensor("W0", W0, shapes=[tuple(W.shape)], like=W)


def offsubspace_drift(W: Tensor, W0: Tensor, basis: np.ndarray | Tensor) -> Tensor:
    """Drift ``‖P⊥(W − W0)‖_F / ‖P⊥ W0‖_F`` of each member's first layer: ``(M,)``."""
    _check_weights(W, W0)
    U = as_basis(basis, W)
    num = project_perp(W - W0.to(W.dtype), U).flatten(1).norm(dim=1)
    return torch.div(num, project_perp(W0.to(W.dtype), U).flatten(1).norm(dim=1))


def offsubspace_ratio(W: Tensor, W0: Tensor, basis: np.ndarray | Tensor) -> Tensor:
    """``‖P⊥ W‖_F / ‖P⊥ W0‖_F`` per member: ``(M,)``."""
    _check_weights(W, W0)
    U = as_basis(basis, W)
    num = project_perp(W, U).flatten(1).norm(dim=1)
    return torch.div(num, project_perp(W0.to(W.dtype), U).flatten(1).norm(dim=1))


def input_grad_split(
    ens: TwoLayerEnsemble, X: Tensor, basis: np.ndarray | Tensor
) -> dict[str, Tensor]:
    """Per point: ``grad_on = ‖P∇f‖``, ``grad_off = ‖P⊥∇f‖`` and ``rho = Σ_{j active} a_j²``: ``(M, n)``.

    The ``(M, n, d)`` gradients are formed a chunk of points at a time, so that one chunk stays under
    :func:`sims.perf.memory_budget`; the results do not depend on the chunking.
    """
    _check_ens(ens)
    check_inputs("X", X, ens.M, ens.d, ens.W)
    U = as_basis(basis, ens.W)
    n = X.shape[-2]
    check_memory("M x n", (ens.M, n), 4 * ens.M * n * ens.W.element_size(), ens.device)
    per_point = ens.M * ens.d * ens.W.element_size() * 3  # G, its projection, the difference
    step = max(1, min(n, memory_budget() // max(1, per_point)))
    parts: dict[str, list[Tensor]] = {"grad_on": [], "grad_off": [], "rho": []}
    with assume_valid():
        for i in range(0, n, step):
            Xc = X[..., i : i + step, :]
            G = ens.input_grad(Xc)
            on = project(G, U)
            parts["grad_on"].append(on.norm(dim=-1))
            parts["grad_off"].append((G - on).norm(dim=-1))
            parts["rho"].append(ens.active_weight(Xc))
    return {k: torch.cat(v, dim=-1) for k, v in parts.items()}


def trained_peak(
    acc: np.ndarray,
    end: np.ndarray | None = None,
    clean: np.ndarray | None = None,
    clean_min: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per member, the peak of an accuracy trajectory ``acc (C, M)`` and the check where it is reached
    (the first, on ties): ``(peak (M,), check (M,))``.

    ``end (M,)``: the check at which each member's run ends (default: the last; a guarded run ends
    where the guard stopped it, :func:`sims.training.guard_replay`); only checks up to it count.
    ``clean (C, M)``: the clean accuracy at the same checks — then only checks where it is at least
    ``clean_min`` count (the net had trained: an untrained net that puts every point in one class is
    trivially robust on that class), and the end check always counts.
    """
    a = np.asarray(acc, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 1:
        fail("acc", "an array (checks, members)", acc, verb="be")
    cols = np.arange(a.shape[1])
    last = np.full(a.shape[1], a.shape[0] - 1) if end is None else np.asarray(end, dtype=np.int64)
    if last.shape != (a.shape[1],) or bool(np.any((last < 0) | (last >= a.shape[0]))):
        fail("end", f"one check index in [0, {a.shape[0] - 1}] per member", end, verb="be")
    check_float("clean_min", clean_min, 0.0, 1.0)
    ok = np.arange(a.shape[0])[:, None] <= last[None, :]
    if clean is not None:
        c = np.asarray(clean, dtype=np.float64)
        if c.shape != a.shape:
            fail("clean", f"an array of acc's shape {a.shape}", clean, verb="be")
        ok &= c >= clean_min
        ok[last, cols] = True
    masked = np.where(ok, a, -np.inf)
    idx = masked.argmax(axis=0)
    return masked[idx, cols], idx


def end_below_peak(
    acc: np.ndarray,
    end: np.ndarray | None = None,
    peak_min: float = 0.0,
    clean: np.ndarray | None = None,
    clean_min: float = 0.0,
) -> np.ndarray:
    """Per member, how far an accuracy trajectory ``acc (C, M)`` ends below its peak
    (:func:`trained_peak`, same arguments): catastrophic overfitting's size (Wong, Rice & Kolter 2020:
    PGD robust accuracy rises, then collapses and stays down); ``>= 0``. A member whose peak is below
    ``peak_min`` never became robust and cannot collapse: 0.
    """
    check_float("peak_min", peak_min, 0.0, 1.0)
    peak, _ = trained_peak(acc, end, clean, clean_min)
    a = np.asarray(acc, dtype=np.float64)
    cols = np.arange(a.shape[1])
    last = np.full(a.shape[1], a.shape[0] - 1) if end is None else np.asarray(end, dtype=np.int64)
    return np.asarray(np.where(peak >= peak_min, peak - a[last, cols], 0.0))


def gradient_alignment(
    ens: TwoLayerEnsemble, X: Tensor, threat: ThreatModel, seed: int = 0
) -> Tensor:
    """Andriushchenko & Flammarion's (2020) diagnostic of catastrophic overfitting: per member, the
    mean over points of ``cos(∇_x f(x), ∇_x f(x + η))`` with ``η`` a random start of ``threat``
    (uniform in the ℓ∞ box; :meth:`sims.threat.ThreatModel.random_start`, keyed by ``seed``): ``(M,)``.

    For a binary logistic loss ``∇_x ℓ = −y σ(−y f) ∇_x f``, and the positive factor and the shared
    sign cancel in the cosine, so this is the alignment of the loss gradients the authors measure.
    Points where either gradient is zero (every unit inactive) have no direction and are left out of
    the mean (``nan`` for a member with none left). Near 1: the loss is close to linear in the ball,
    so one gradient step finds what many would; its fall is the authors' sign of the local
    nonlinearity that lets a single step miss the ball's worst point.
    """
    _check_ens(ens)
    check_inputs("X", X, ens.M, ens.d, ens.W)
    check_instance("threat", threat, ThreatModel, "a threat model of sims.threat")
    check_int("seed", seed, 0)
    with torch.no_grad(), assume_valid():
        Xe = X.expand(ens.M, *X.shape[-2:]) if X.ndim == 2 else X
        G0 = ens.input_grad(Xe)
        G1 = ens.input_grad(Xe + threat.random_start(Xe, seed))
        n0, n1 = G0.norm(dim=-1), G1.norm(dim=-1)
        ok = (n0 > 0) & (n1 > 0)
        cos = (G0 * G1).sum(dim=-1) / torch.where(ok, n0 * n1, torch.ones_like(n0))
        cos = torch.where(ok, cos, torch.full_like(cos, float("nan")))
        return cos.nanmean(dim=-1)


def boundary_distance_along(
    ens: TwoLayerEnsemble,
    X: Tensor,
    direction: Tensor,
    *,
    t_max: float = 10.0,
    grid: int = 400,
    bisection_steps: int = 40,
) -> Tensor:
    """Distance from each point to the decision boundary along one direction: ``(M, n)``.

    The smallest ``t ∈ (0, t_max]`` at which ``sign f(x + t·u)`` differs from ``sign f(x)`` (``u`` the
    normalised ``direction``), found on a uniform grid of ``grid`` steps and refined by bisection;
    ``inf`` where the sign never changes within ``t_max``. Used for the authors' Fig. 2 measurement:
    the distance to the boundary orthogonally to the data line, both ways.
    """
    _check_ens(ens)
    check_inputs("X", X, ens.M, ens.d, ens.W)
    if X.ndim != 2:
        fail("X", f"shape (n, {ens.d}) (points shared by all members)", X, verb="have")
    check_tensor("direction", direction, shapes=[(ens.d,)])
    if not bool(direction.norm() > 0):
        fail("direction", "a non-zero vector", direction)
    check_float("t_max", t_max, 0.0, lo_open=True, dtype=ens.dtype)
    grid = check_int("grid", grid, 1)
    bisection_steps = check_int("bisection_steps", bisection_steps, 0)
    check_memory(
        "n x grid x d",
        (X.shape[0], grid, ens.d),
        (ens.d + 2 * ens.M) * X.shape[0] * grid * ens.W.element_size(),
        ens.device,
    )
    with assume_valid():
        return _boundary_distance(ens, X.to(ens.dtype), direction, t_max, grid, bisection_steps)


def _boundary_distance(
    ens: TwoLayerEnsemble,
    X: Tensor,
    direction: Tensor,
    t_max: float,
    grid: int,
    bisection_steps: int,
) -> Tensor:
    u = direction.to(dtype=ens.dtype, device=ens.device)
    u = u / u.norm()
    n = X.shape[0]
    ts = torch.linspace(0.0, t_max, grid + 1, dtype=ens.dtype, device=ens.device)[1:]
    pts = (X[:, None, :] + ts[None, :, None] * u).reshape(n * grid, -1)
    s0 = torch.sign(ens.forward(X))  # (M, n)
    s = torch.sign(ens.forward(pts)).reshape(ens.M, n, grid)
    changed = s != s0[..., None]
    any_change = changed.any(-1)
    first = torch.where(
        any_change, changed.to(torch.int64).argmax(-1), torch.zeros_like(s0, dtype=torch.int64)
    )
    hi = ts[first]
    lo = torch.where(first > 0, ts[(first - 1).clamp(min=0)], torch.zeros_like(hi))
    for _ in range(bisection_steps):
        mid = (lo + hi) / 2
        flip = torch.sign(ens.forward(X[None] + mid[..., None] * u)) != s0
        hi = torch.where(flip, mid, hi)
        lo = torch.where(flip, lo, mid)
    return torch.where(any_change, hi, torch.full_like(hi, float("inf")))


# ----------------------------------------------------------------- feature purification (PAPERS.md §2)
def neuron_decomposition(
    W: np.ndarray, dictionary: np.ndarray, w_star: np.ndarray, top: int = 1
) -> dict[str, np.ndarray]:
    """Split every neuron into its pure part and its dense mixture in the dictionary basis.

    Allen-Zhu & Li (2020), PAPERS.md §2 ("decomposition advsim uses"): with coefficients
    ``c_i = Mᵀ w_i``, the pure atoms ``S_i`` are the ``top`` largest ``|c_ij|``; the pure part is
    ``Σ_{j∈S_i} c_ij M_j`` and the dense mixture ``v_i = w_i − pure``.

    Args:
        W: weights ``(..., m, d)``.
        dictionary: ``M (d, D)``.
        w_star: the labelling vector ``(D,)``.
        top: pure atoms per neuron (``s`` of "top-s").

    Returns per neuron (shape ``(..., m)``): ``atom`` (the largest atom), ``purity``
    ``|c_ij*|/‖c_i‖₂``, ``pure`` ``|c_ij*|``, ``mixture_l2`` ``‖v_i‖₂``, ``mixture_l1`` ``‖Mᵀv_i‖₁``,
    ``mixture_ratio`` (median over ``j ∉ S_i`` of ``|c_ij|/|c_ij*|``; derived ≈ ``k/d`` after clean
    training), ``mixture_cos`` ``cos(v_i, M w*)`` (signed), and ``V`` ``(..., m, d)``.
    """
    dictionary = check_array("dictionary", dictionary, ndim=2)
    d, D = dictionary.shape
    W = check_array("W", W)
    if W.ndim < 2 or W.shape[-1] != d:
        fail("W", f"shape (..., m, {d}) (the dictionary's d)", W, verb="have")
    w_star = check_array("w_star", w_star, shapes=[(D,)])
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or not 1 <= top < D:
        raise AdvsimError(f"top must be in [1, D-1] = [1, {D - 1}]; got {top!r}")
    check_memory("W x D", (W.size // d, D), 6 * (W.size // d) * max(D, d) * 8)
    C = W @ dictionary
    A = np.abs(C)
    order = np.argsort(-A, axis=-1)
    pure_idx = order[..., :top]
    Pure = np.zeros_like(W)
    for s in range(top):
        j = pure_idx[..., s]
        Pure = Pure + np.take_along_axis(C, j[..., None], axis=-1) * dictionary.T[j]
    V = W - Pure
    CV = V @ dictionary
    rest = np.take_along_axis(A, order[..., top:], axis=-1)
    biggest = A.max(axis=-1)
    sig = dictionary @ w_star
    mixture_l2 = np.linalg.norm(V, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mixture_ratio = np.median(rest, axis=-1) / biggest
        mixture_cos = (V @ sig) / (mixture_l2 * np.linalg.norm(sig))
        purity = biggest / np.linalg.norm(C, axis=-1)
    return {
        "atom": order[..., 0],
        "purity": purity,
        "pure": biggest,
        "mixture_l2": mixture_l2,
        "mixture_l1": np.abs(CV).sum(axis=-1),
        "mixture_ratio": mixture_ratio,
        "mixture_cos": mixture_cos,
        "V": V,
    }


def mixture_correlations(V: np.ndarray, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """How the dense mixtures correlate with the *average* input versus *individual* inputs.

    PAPERS.md §2: the mixture has "high correlation with the average input ``E[y x]``, low correlation
    with any particular input". Returns per neuron ``(..., m)``: ``avg`` ``|⟨v_i, E[y x]⟩| / ‖E[y x]‖``
    and ``individual`` ``mean_x |⟨v_i, x⟩| / mean_x ‖x‖`` — both normalised by the size of the vector
    they are taken against, so they compare as cosines times ``‖v_i‖``.
    """
    X = check_array("X", X, shapes=[("n", "d")])
    n, d = X.shape
    y = check_array("y", y)
    check_labels("y", y, n)
    V = check_array("V", V)
    if V.shape[-1] != d:
        fail("V", f"shape (..., {d}) (X's d)", V, verb="have")
    mean_yx = (y[:, None] * X).mean(axis=0)
    avg = np.abs(V @ mean_yx) / np.linalg.norm(mean_yx)
    individual = np.abs(V @ X.T).mean(axis=-1) / np.linalg.norm(X, axis=1).mean()
    return {"avg": avg, "individual": individual}


def abs_cosine(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``|cos(a, b)|`` over the last axis — the purification principle's statistic
    ``|cos(w_i, w_i')| > 1/√2`` (PAPERS.md §2, [derived] from ``‖β_i w_i'‖ > ‖v_i‖``)."""
    A = check_array("A", A)
    B = check_array("B", B)
    if A.shape != B.shape:
        fail("B", f"shape {A.shape} (A's)", B, verb="have")
    num = np.abs((A * B).sum(axis=-1))
    return np.asarray(num / (np.linalg.norm(A, axis=-1) * np.linalg.norm(B, axis=-1)))


def perturbation_structure(
    delta: np.ndarray, Z: np.ndarray, dictionary: np.ndarray
) -> dict[str, np.ndarray]:
    """Where an attack's perturbation sits in the dictionary basis (PAPERS.md §2, the paper's Fig. 5).

    Args:
        delta: perturbations ``(..., n, d)``.
        Z: the clean points' codes ``(n, D)`` (their supports are ``supp(z)``).
        dictionary: ``M (d, D)``.

    Returns per point ``(..., n)``: ``support_share`` — the share of ``‖Mᵀδ‖²`` on ``supp(z)`` (small
    for dense mixtures, large for "pure" perturbations) — and ``participation`` — the participation
    ratio ``(Σ_j c_j²)² / Σ_j c_j⁴`` of ``c = Mᵀδ`` (the effective number of atoms it uses).
    """
    dictionary = check_array("dictionary", dictionary, ndim=2)
    d, D = dictionary.shape
    Z = check_array("Z", Z, shapes=[("n", D)])
    delta = check_array("delta", delta)
    if delta.ndim < 2 or delta.shape[-2:] != (Z.shape[0], d):
        fail(
            "delta",
            f"shape (..., {Z.shape[0]}, {d}) (Z's n, the dictionary's d)",
            delta,
            verb="have",
        )
    C2 = (delta @ dictionary) ** 2
    total = C2.sum(axis=-1)
    on = (C2 * (Z != 0)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "support_share": on / total,
            "participation": total**2 / (C2**2).sum(axis=-1),
        }


def nearest_other_class_distance(
    X: Tensor, y: Tensor, X_ref: Tensor, y_ref: Tensor, p: float = 2.0
) -> Tensor:
    """For each point of ``X (..., n, d)`` (labels ``y (..., n)``), the ``ℓ_p`` distance (``p = 2`` or
    ``inf``) to the nearest point of ``X_ref (..., n_ref, d)`` of the other class: ``(..., n)``, in
    float64 (``inf`` where ``X_ref`` has no point of the other class).

    Half of it bounds the radius at which any classifier right on both points can be robust (the
    midpoint is on the boundary or beyond): the scale an adversarial radius is read against. Exact
    differences, not the ``|a|² + |b|² − 2ab`` shortcut."""
    with torch.no_grad():
        dist = torch.cdist(
            X.double(), X_ref.double(), p=p, compute_mode="donot_use_mm_for_euclid_dist"
        )
        other = torch.sign(y)[..., :, None] != torch.sign(y_ref)[..., None, :]
        return torch.where(other, dist, torch.full_like(dist, float("inf"))).min(dim=-1).values


def feasibility_cap(X: Tensor, y: Tensor, X_ref: Tensor, y_ref: Tensor, p: float = 2.0) -> float:
    """Half the median over the points of ``X`` of :func:`nearest_other_class_distance` to ``X_ref``:
    the radius beyond which, for half the points, no classifier right on a point and on its nearest
    other-class neighbour can be robust — the scale that adversarial radii are set against (simulations
    13 and 14; for the generator's codes, :func:`theory.purification.feasibility_cap`)."""
    dist = nearest_other_class_distance(X, y, X_ref, y_ref, p)
    return float(np.median(dist.cpu().numpy()) / 2)
