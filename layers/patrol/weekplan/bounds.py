"""Lower bounds on the day-to-day overlap of any plan meeting the prize floor and targets.

Step 5 of :mod:`layers.patrol.weekplan`: a linear relaxation with Jensen's
inequality, and a convex (Frank–Wolfe) bound on the exact pairwise model; a
bound above the cap proves the overlap requirement unattainable.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse
from scipy.optimize import linprog


def _overlap_bound(a, prizes, n, per_day, floor, low, ambiguous, tol) -> float:
    """Lower bound on the mean day-to-day overlap of any plan meeting floor and targets.

    A linear relaxation over all routes gives the least Σ_t v_t(v_t − 1)
    (ordered pairs of patrols sharing a stop; secant cuts are exact at whole
    visits). Same-day pairs share at most K stops each and hotspot t at most
    min(days, ⌊v_t/2⌋) times; the rest are pairs on different days. Each pair
    has J ≥ I/(2K − I), convex in I, so the mean is at least that at the mean I.
    """
    m, n_t = a.shape
    hi_t = low + ambiguous + np.floor(tol * (low + ambiguous) + 1e-9)
    lo_t = low - np.floor(tol * low + 1e-9)
    at = sparse.csr_matrix(a.T)
    z = sparse.csr_matrix
    rows = [z(np.r_[-prizes, np.zeros(n_t)][None, :])]
    rhs = [np.array([-floor + 1e-6])]
    rows += [sparse.hstack([at, z((n_t, n_t))]), sparse.hstack([-at, z((n_t, n_t))])]
    rhs += [hi_t.astype(float), -lo_t.astype(float)]
    for c in range(1, n):
        rows.append(sparse.hstack([2.0 * c * at, -sparse.identity(n_t)]))
        rhs.append(np.full(n_t, float(c * c + c)))
    res = linprog(
        np.r_[np.zeros(m), np.ones(n_t)],
        A_ub=sparse.vstack(rows).tocsr(),
        b_ub=np.concatenate(rhs),
        A_eq=z(np.r_[np.ones(m), np.zeros(n_t)][None, :]),
        b_eq=[float(n)],
        bounds=[(0, None)] * (m + n_t),
        method="highs",
    )
    if res.status == 2:
        return np.inf  # not even the relaxation meets floor and targets
    if res.status != 0:
        return float("nan")
    days = n // per_day
    kmax = float(a.sum(axis=1).max())
    same = days * kmax * per_day * (per_day - 1)
    if per_day == 2:
        same = min(same, 2 * float(np.minimum(days, np.floor(hi_t / 2)).sum()))
    shared = max(float(res.fun) - same, 0.0) / (n * (n - per_day))
    # Rounded down a hair so solver tolerance never overstates the bound.
    return max(shared / (2 * kmax - shared) - 1e-6, 0.0) if shared < 2 * kmax else 1.0


def _qp_bound(a, prizes, n, per_day, floor, low, ambiguous, tol, x0, time_s) -> float:
    """Lower bound on the mean day-to-day overlap from the exact pairwise model, relaxed.

    Over all routes, Σ over ordered pairs of distinct patrols of J = xᵀJx − Σx
    for the counts x. The Jaccard matrix J is positive semidefinite (the
    Tanimoto kernel; Bouchard et al. 2013), so with x relaxed to reals this is
    a convex programme, and every Frank–Wolfe step gives a valid lower bound
    f(x) + ∇f(x)ᵀ(s − x), s the linear minimiser over the constraints (prize
    floor, visit ranges, n patrols). The same-day pairs (at most one each)
    are then taken off. Runs for ``time_s`` CPU seconds.
    """
    m = len(a)
    hi_t = low + ambiguous + np.floor(tol * (low + ambiguous) + 1e-9)
    lo_t = low - np.floor(tol * low + 1e-9)
    big = np.where(a > 0, hi_t[None, :], np.inf).min(axis=1)
    at = sparse.csr_matrix(a.T)
    a_ub = sparse.vstack([sparse.csr_matrix(-prizes[None, :]), at, -at]).tocsr()
    b_ub = np.r_[-floor + 1e-6, hi_t, -lo_t].astype(float)
    sizes = a.sum(axis=1)
    cols: dict[int, np.ndarray] = {}

    def jcol(idx: np.ndarray) -> np.ndarray:
        miss = [int(i) for i in idx if int(i) not in cols]
        if miss:
            inter = a @ a[miss].T
            union = sizes[:, None] + sizes[miss][None, :] - inter
            block = inter / np.maximum(union, 1e-9)
            for k, i in enumerate(miss):
                cols[i] = block[:, k]
        return np.column_stack([cols[int(i)] for i in idx])

    x = np.asarray(x0, dtype=float)
    supp = np.flatnonzero(x)
    jx = jcol(supp) @ x[supp]
    best = -np.inf
    start = time.thread_time()
    while time.thread_time() - start < time_s:
        g = 2 * jx - 1
        res = linprog(g, A_ub=a_ub, b_ub=b_ub, A_eq=np.ones((1, m)), b_eq=[float(n)],
                      bounds=np.column_stack([np.zeros(m), big]), method="highs")  # fmt: skip
        if res.status != 0:
            break
        fx = float(x @ jx - x.sum())
        best = max(best, fx + float(g @ (res.x - x)))
        d = res.x - x
        ds = np.flatnonzero(np.abs(d) > 1e-12)
        if not len(ds):
            break
        jd = jcol(ds) @ d[ds]
        curv = float(d @ jd)
        slope = float(g @ d)
        if slope > -1e-9 or curv <= 0:
            break
        step = min(1.0, -slope / (2 * curv))
        x += step * d
        jx += step * jd
    if not np.isfinite(best):
        return float("nan")
    days = n // per_day
    same = days * per_day * (per_day - 1) / 2
    cross = n * (n - per_day) / 2
    return max((best / 2 - same) / cross - 1e-6, 0.0)
