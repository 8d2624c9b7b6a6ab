"""Routes priced in by column generation, when the feasible routes are too many to list.

Part of step 1 of :mod:`layers.patrol.weekplan`. A pool grown around the best
routes may lack the routes that together spread the visits. The linear
relaxation of the overlap model over the pool says, through its duals, what
each stop is worth to the week; an orienteering tour with those worths as
prizes is the route the relaxation is missing (negative reduced cost). Added
and re-solved in rounds, this is column generation; the orienteering search
is a heuristic, so no bound is drawn from it.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from layers.patrol.orienteering import solve_orienteering

#: Orienteering tours priced per round: the duals' own prizes, then noisy copies.
PER_ROUND = 3
#: Log-normal noise on the copies' prizes (other tours near the best one).
PRICE_NOISE = 0.3
#: Search rounds per priced tour (a tenth of the budget route's: many are solved).
PRICE_ITER = 40


def _cross_pairs(v: np.ndarray, days: int) -> np.ndarray:
    """Pairs of patrols on different days that may share a stop visited v times, at least.

    v(v − 1)/2 pairs share it; at most min(days, ⌊v/2⌋) of them are a day's
    own pair (two patrols a day). Convex at whole v, so its secants draw it.
    """
    v = np.asarray(v)
    return v * (v - 1) / 2 - np.minimum(days, v // 2)


def _relaxation(a, prizes, n, per_day, floor, lo, hi, lam):
    """The linear relaxation of the week's selection over the routes ``a`` (rows).

    Variables: uses x ≥ 0 per route (Σ x = n), visits v = aᵀx within
    [lo, hi], w_t ≥ :func:`_cross_pairs` (v_t) by secants; prize ≥ ``floor``.
    Minimises (1 + λ)·Σ w − λ·(n − per_day)·Σ v: with I the shared stops and
    s the two stop counts of a pair on different days, the mean overlap
    I/(s − I) is below λ where (1 + λ)·ΣI − λ·Σs < 0 (Dinkelbach), and
    ΣI ≥ Σ w, Σs = (n − per_day)·Σ v. Returns :func:`scipy.optimize.linprog`'s
    result; its duals price new routes (:func:`_price`).
    """
    m, k = a.shape
    days = n // per_day
    z = sparse.csr_matrix
    # Rows: Σ x = n; v − aᵀx = 0 (the duals priced on).
    a_eq = sparse.vstack([
        sparse.hstack([z(np.ones((1, m))), z((1, 2 * k))]),
        sparse.hstack([-z(a.T), sparse.identity(k), z((k, k))]),
    ]).tocsr()  # fmt: skip
    rows = [sparse.hstack([z(-np.asarray(prizes)[None, :]), z((1, 2 * k))])]
    rhs = [np.array([-floor + 1e-6])]
    for j in range(int(hi.max())):
        g0 = _cross_pairs(np.full(k, j), days)
        slope = _cross_pairs(np.full(k, j + 1), days) - g0
        rows.append(sparse.hstack([z((k, m)), sparse.diags(slope), -sparse.identity(k)]))
        rhs.append(slope * j - g0)
    cost = np.r_[np.zeros(m), np.full(k, -lam * (n - per_day)), np.full(k, 1 + lam)]
    bounds = [(0, None)] * m + list(zip(lo.astype(float), hi.astype(float), strict=True))
    return linprog(cost, A_ub=sparse.vstack(rows).tocsr(), b_ub=np.concatenate(rhs),
                   A_eq=a_eq, b_eq=np.r_[float(n), np.zeros(k)],
                   bounds=bounds + [(None, None)] * k, method="highs")  # fmt: skip


def _stop_worth(res, p: np.ndarray) -> tuple[np.ndarray, float]:
    """Each stop's worth to a new route, and the threshold its sum must pass.

    A route R has reduced cost −Σ_{t∈R} q_t − y_n with q_t = −y_t − y_f·p_t
    (y: the duals of v − aᵀx = 0, of Σ x = n and of the prize floor), so it
    improves the relaxation when Σ_{t∈R} q_t > −y_n.
    """
    k = len(p)
    y = res.eqlin.marginals
    q = -y[1 : 1 + k] - res.ineqlin.marginals[0] * p
    return q, -float(y[0])


def _price(members, prizes, dist_s, service, budget_s, p, n, per_day, floor, lo, hi, lam,
           rounds, seed):  # fmt: skip
    """Grow the pool by column generation; returns it and the relaxation's routes.

    Each round solves :func:`_relaxation` and :data:`PER_ROUND` orienteering
    problems with the stops' worths as prizes; tours that improve the
    relaxation join the pool. Stops after ``rounds`` rounds or a round that
    adds nothing.

    Returns
    -------
    members, prizes
        The pool with the priced routes appended.
    orders : list of list of int
        The priced routes' stops (0-based) in a visiting order within the budget.
    support : ndarray of int
        Routes used by the last relaxation (the integer programme's candidates).
    """
    members = np.asarray(members, dtype=bool)
    prizes = np.asarray(prizes, dtype=float)
    orders: list[list[int]] = []
    k = len(p)
    seen = {row.tobytes() for row in members}
    support = np.zeros(0, dtype=int)
    for r in range(rounds + 1):
        res = _relaxation(members.astype(float), prizes, n, per_day, floor, lo, hi, lam)
        if res.status != 0:
            break
        support = np.flatnonzero(res.x[: len(members)] > 1e-6)
        if r == rounds:
            break
        q, need = _stop_worth(res, p)
        rng = np.random.default_rng(seed + r)
        new = []
        for j in range(PER_ROUND):
            worth = np.maximum(q, 0.0)
            if j:
                worth = worth * np.exp(PRICE_NOISE * rng.standard_normal(k))
            tour = solve_orienteering(dist_s, service, np.r_[0.0, worth], budget_s,
                                      seed=seed + PER_ROUND * r + j, max_iter=PRICE_ITER,
                                      exact_states=0)  # fmt: skip
            stops = [s - 1 for s in tour.stops]
            row = np.zeros(k, dtype=bool)
            row[stops] = True
            if stops and q[stops].sum() > need + 1e-6 and row.tobytes() not in seen:
                seen.add(row.tobytes())
                new.append(stops)
        if not new:
            break
        rows = np.zeros((len(new), k), dtype=bool)
        for i, stops in enumerate(new):
            rows[i, stops] = True
        members = np.vstack([members, rows])
        prizes = np.r_[prizes, rows @ p]
        orders += new
    return members, prizes, orders, support
