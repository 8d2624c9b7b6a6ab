"""The week's routes chosen by an integer programme (HiGHS) over the listed routes.

Step 3 of :mod:`layers.patrol.weekplan`: 14 routes, the prize floor and every
hotspot's visits within tolerance are hard; the cost is the pairs of patrols
sharing a stop and repeated routes.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp


def _select(a, prizes, n, floor, low, ambiguous, frac, tol, cap):
    """Routes for the week by an integer programme; returns (counts, targets, status).

    Variables: x (uses per route), b (round the target up), w (≥ v(v − 1)),
    y (repeats). Hard: n routes, prize floor, visits within tolerance of the
    target (b picks ⌊14c⌋ or ⌈14c⌉). Cost: shared stops between patrols,
    repeats, the farther rounding. ``status`` is ``"ok"``, ``"infeasible"``
    (proved: no selection meets the targets and the floor; the counts then
    come from the soft stage, visits off the targets at a cost) or
    ``"relaxed"`` (no proof either way in the time).
    """
    m, n_t = a.shape
    at = sparse.csr_matrix(a.T)
    s0 = np.floor(tol * low + 1e-9)
    s1 = np.floor(tol * (low + 1) + 1e-9)
    amb = ambiguous.astype(float)
    kmax = float(a.sum(axis=1).max())
    pairs = n * (n - 1)
    proved = False
    for hard in (True, False):
        # x | b | w | y | e (visits outside the range, soft stage only)
        nvar = m + n_t + n_t + m + n_t
        ob, ow, oy, oe = m, m + n_t, m + 2 * n_t, 2 * m + 2 * n_t
        cost = np.zeros(nvar)
        cost[:m] = -0.02 * a.sum(axis=1) / n - 1e-6 * prizes / max(prizes.max(), 1e-9)
        cost[ob:ow] = 0.01 * (1 - 2 * frac) * amb
        cost[ow:oy] = 1.0 / pairs
        cost[oy:oe] = 2 * kmax / pairs
        cost[oe:] = 0.0 if hard else 1000.0
        rows, lo, hi = [], [], []

        def row(parts, lb, ub, rows=rows, lo=lo, hi=hi):
            block = sparse.hstack(parts).tocsr()
            rows.append(block)
            lo.append(np.broadcast_to(np.asarray(lb, dtype=float), block.shape[:1]))
            hi.append(np.broadcast_to(np.asarray(ub, dtype=float), block.shape[:1]))

        z = sparse.csr_matrix
        row([z(np.ones((1, m))), z((1, nvar - m))], n, n)
        row([z(prizes[None, :]), z((1, nvar - m))], floor - 1e-6, np.inf)
        # v − b (1 + s1 − s0) − e ≤ low + s0 ; v − b (1 − s1 + s0) + e ≥ low − s0
        row([at, sparse.diags(-(1 + s1 - s0) * amb), z((n_t, n_t + m)), -sparse.identity(n_t)],
            -np.inf, low + s0)  # fmt: skip
        row([at, sparse.diags(-(1 - s1 + s0) * amb), z((n_t, n_t + m)), sparse.identity(n_t)],
            low - s0, np.inf)  # fmt: skip
        for c in range(1, n):
            row([-2.0 * c * at, z((n_t, n_t)), sparse.identity(n_t), z((n_t, m + n_t))],
                -(c * c + c), np.inf)  # fmt: skip
        row([-sparse.identity(m), z((m, 2 * n_t)), sparse.identity(m), z((m, n_t))], -1, np.inf)
        ub = np.r_[np.full(m, cap), amb, np.full(n_t, np.inf), np.full(m, np.inf),
                   np.zeros(n_t) if hard else np.full(n_t, np.inf)]  # fmt: skip
        res = milp(
            cost,
            constraints=LinearConstraint(
                sparse.vstack(rows).tocsr(), np.concatenate(lo), np.concatenate(hi)
            ),
            integrality=np.r_[np.ones(m), np.ones(n_t), np.zeros(n_t + m + n_t)],
            bounds=Bounds(np.zeros(nvar), ub),
            options={"time_limit": 1.5, "mip_rel_gap": 0.02},
        )
        if res.x is not None:
            counts = np.rint(res.x[:m]).astype(int)
            target = low + np.rint(res.x[ob:ow]).astype(int) * ambiguous
            return counts, target, "ok" if hard else ("infeasible" if proved else "relaxed")
        if hard:
            proved = res.status == 2  # HiGHS proved infeasibility (not a time-out)
    out = np.zeros(m, dtype=int)
    out[int(np.argmax(prizes))] = n
    target = low + (frac >= 0.5) * ambiguous
    return out, target, "infeasible" if proved else "relaxed"
