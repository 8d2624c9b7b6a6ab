"""Target visits: security-game coverage over the routes, in whole visits with a tolerance.

Step 2 of :mod:`layers.patrol.weekplan`: unless the targets are given, each
hotspot's share of patrols is the Stackelberg coverage that minimises the
largest uncovered risk with the mean prize kept.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linprog


def water_filling(priority: np.ndarray, capacity: float) -> np.ndarray:
    """Coverage c_t ∈ [0, 1] with Σ c_t = capacity minimising max_t p_t · (1 − c_t).

    The minimax solution sets c_t = max(0, 1 − λ / p_t), λ found by bisection.
    """
    p = np.asarray(priority, dtype=float)
    pos = p > 0
    cap = min(float(capacity), float(pos.sum()))
    if cap <= 0:
        return np.zeros_like(p)
    lo, hi = 0.0, float(p.max())
    for _ in range(100):
        lam = (lo + hi) / 2
        c = np.where(pos, np.clip(1 - lam / np.where(pos, p, 1.0), 0, 1), 0.0)
        if c.sum() > cap:
            lo = lam
        else:
            hi = lam
    return np.where(pos, np.clip(1 - hi / np.where(pos, p, 1.0), 0, 1), 0.0)


def largest_remainder(share: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers proportional to ``share`` summing to ``total`` (Hamilton's method)."""
    raw = np.asarray(share, dtype=float)
    if raw.sum() <= 0:
        return np.zeros(len(raw), dtype=int)
    raw = raw * total / raw.sum()
    base = np.floor(raw).astype(int)
    rest = total - base.sum()
    order = np.argsort(-(raw - base), kind="stable")
    base[order[:rest]] += 1
    return base


def _ranges(target: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Whole visits allowed per hotspot: within ``tol`` of the target."""
    t = np.asarray(target, dtype=int)
    s = np.floor(tol * t + 1e-9).astype(int)
    return t - s, t + s


def _ssg_coverage(a: np.ndarray, prizes: np.ndarray, p: np.ndarray, floor: float) -> np.ndarray:
    """Security-game coverage per hotspot over the routes ``a`` (rows), mean prize ≥ ``floor``.

    Stage 1 minimises z ≥ p_t · (1 − c_t) over mixed strategies x (Σ x = 1,
    c = aᵀx); stage 2 keeps z and minimises Σ c_t² (tangent cuts), which
    spreads the coverage the first stage leaves free.
    """
    m, n_t = a.shape
    # Stage 1. Variables x (m), z.
    a_ub = [sparse.hstack([sparse.csr_matrix(-(a.T * p[:, None])), -np.ones((n_t, 1))])]
    b_ub = [-p]
    a_ub.append(sparse.csr_matrix(np.r_[-prizes, 0.0][None, :]))
    b_ub.append(np.array([-floor + 1e-9]))
    a_eq = sparse.csr_matrix(np.r_[np.ones(m), 0.0][None, :])
    res = linprog(
        np.r_[np.zeros(m), 1.0],
        A_ub=sparse.vstack(a_ub).tocsr(),
        b_ub=np.concatenate(b_ub),
        A_eq=a_eq,
        b_eq=[1.0],
        bounds=[(0, None)] * m + [(None, None)],
        method="highs",
    )
    if res.status != 0:
        return a[int(np.argmax(prizes))].copy()
    z = float(res.x[-1])
    # Stage 2. Variables x (m), w (n_t) with w_t ≥ 2 q c_t − q² at q = 0, 1/20, …, 1.
    qs = np.linspace(0, 1, 21)
    rows, rhs = [], []
    at = sparse.csr_matrix(a.T)
    for q in qs:
        rows.append(sparse.hstack([2 * q * at, -sparse.identity(n_t)]))
        rhs.append(np.full(n_t, q * q))
    rows.append(
        sparse.hstack([sparse.csr_matrix(-(a.T * p[:, None])), sparse.csr_matrix((n_t, n_t))])
    )
    rhs.append(z * (1 + 1e-7) + 1e-9 - p)
    rows.append(sparse.csr_matrix(np.r_[-prizes, np.zeros(n_t)][None, :]))
    rhs.append(np.array([-floor + 1e-9]))
    res2 = linprog(
        np.r_[np.zeros(m), np.ones(n_t)],
        A_ub=sparse.vstack(rows).tocsr(),
        b_ub=np.concatenate(rhs),
        A_eq=sparse.csr_matrix(np.r_[np.ones(m), np.zeros(n_t)][None, :]),
        b_eq=[1.0],
        bounds=[(0, None)] * (m + n_t),
        method="highs",
    )
    x = res2.x[:m] if res2.status == 0 else res.x[:m]
    return np.clip(a.T @ x, 0.0, 1.0)
