"""Exact minimal ℓ2 distance to the decision boundary of a tiny two-layer ReLU network.

For ``f(x) = Σ_j a_j relu(w_j·x + b_j)`` the input space splits into activation regions
``R_s = {x : w_j·x + b_j >= 0 for s_j = 1, <= 0 for s_j = 0}``, ``s ∈ {0, 1}^m``, on each of which
``f(x) = c_s·x + e_s`` with ``c_s = Σ_{s_j=1} a_j w_j`` and ``e_s = Σ_{s_j=1} a_j b_j``. The adversarial set
``{x : y f(x) <= 0}`` is the union over ``s`` of the polyhedra ``R_s ∩ {y(c_s·x + e_s) <= 0}``, so the
minimal distance from ``x0`` is the minimum over ``s`` of one convex QP each (the projection of ``x0`` onto
a polyhedron), solved with scipy's SLSQP. Regions are visited in order of the lower bound
``max(0, y(c_s·x0 + e_s)) / ‖c_s‖`` and skipped once it exceeds the best distance found.
This is the ground truth of PAPERS.md §5 for the margin attack; the cost is ``2^m`` regions at worst,
so it is for width ``m`` up to about 12 and small ``d``.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import minimize

from sims.validate import check_array, check_int, check_labels, fail

__all__ = ["exact_min_l2_distance"]

_FEAS_TOL = 1e-9


def exact_min_l2_distance(
    W: np.ndarray, b: np.ndarray, a: np.ndarray, x0: np.ndarray, y: float
) -> float:
    """The exact ``min ‖x − x0‖₂`` over ``{x : y f(x) <= 0}`` for one network and one point.

    Args:
        W: first layer ``(m, d)``; b: biases ``(m,)``; a: output weights ``(m,)``.
        x0: the point ``(d,)``; y: its label in {-1, +1}.

    Returns:
        The distance (0 if ``x0`` is already adversarial, ``inf`` if no point is adversarial).
    """
    W = check_array("W", W, ndim=2)
    m = check_int("width m", W.shape[0], 1, 16)
    b = check_array("b", b, shapes=[(m,)])
    a = check_array("a", a, shapes=[(m,)])
    x0 = check_array("x0", x0, shapes=[(W.shape[1],)])
    if isinstance(y, bool) or not isinstance(y, int | float | np.integer | np.floating):
        fail("y", "a label in {-1, +1}", y)
    check_labels("y", np.asarray([y]), 1)
    y = float(y)
    if y * float(a @ np.maximum(W @ x0 + b, 0.0)) <= 0:
        return 0.0
    regions = []
    for s in itertools.product((0.0, 1.0), repeat=m):
        sv = np.array(s)
        c = y * (sv * a) @ W
        e = y * float((sv * a) @ b)
        val = float(c @ x0) + e
        cn = float(np.linalg.norm(c))
        if cn == 0.0:
            if e > 0:
                continue  # y f = e > 0 on the whole region: nothing adversarial here
            lb = 0.0
        else:
            lb = max(0.0, val) / cn
        regions.append((lb, sv, c, e))
    regions.sort(key=lambda r: r[0])
    best = float("inf")
    sign = 2 * np.stack([r[1] for r in regions]) - 1 if regions else np.zeros((0, m))
    for (lb, _, c, e), sg in zip(regions, sign, strict=True):
        if lb >= best:
            break
        # region: sg_j (w_j·x + b_j) >= 0 ; adversarial half-space: −(c·x + e) >= 0
        A = np.vstack([sg[:, None] * W, -c[None, :]])
        bb = np.concatenate([sg * b, [-e]])
        start = x0 - (max(0.0, float(c @ x0) + e) / max(float(c @ c), 1e-300)) * c
        res = minimize(
            lambda x: 0.5 * float((x - x0) @ (x - x0)),
            start,
            jac=lambda x: x - x0,
            method="SLSQP",
            constraints=[
                {"type": "ineq", "fun": lambda x, A=A, bb=bb: A @ x + bb, "jac": lambda x, A=A: A}
            ],
            options={"ftol": 1e-14, "maxiter": 500},
        )
        x = res.x
        if np.min(A @ x + bb) < -_FEAS_TOL * (1 + np.abs(A @ x).max()):
            continue  # infeasible region (or solver failure: the bound stays conservative)
        best = min(best, float(np.linalg.norm(x - x0)))
    return best
