"""The exact dynamic programme (Held–Karp over the subsets that fit the budget)."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csgraph

from layers.patrol.orienteering.tour import _EPS


def _exact(
    dist: np.ndarray, service: np.ndarray, prize: np.ndarray, budget: float, max_states: int
) -> list[int] | None:
    """The optimal tour by Held–Karp over the subsets that fit, or None past ``max_states``.

    States are (subset, last stop) with the least time to have served the
    subset ending there; a state is kept only when the shortest way home still
    fits, so the levels hold just the subsets that can be completed. For a
    fixed subset and last stop the previous subset is unique, which makes each
    level one vectorised step.
    """
    useful = np.flatnonzero(prize > 0)
    useful = useful[useful > 0]
    m = len(useful)
    if m == 0:
        return []
    if m > 62:
        return None
    idx = np.r_[0, useful]
    d = dist[np.ix_(idx, idx)]
    sv = service[idx]
    pz = prize[idx]
    # Shortest times back to the base (the closure, in case the matrix is not
    # metric) bound what any extension of a state still needs.
    back = csgraph.shortest_path(d, method="D", directed=True)[:, 0]
    bit = np.r_[0, 1 << np.arange(m, dtype=np.int64)].astype(np.int64)
    # Level 1: base -> j.
    cost = np.full((m, m + 1), np.inf)
    arr1 = d[0, 1:] + sv[1:]
    ok = arr1 + back[1:] <= budget + _EPS
    cost[np.arange(m), np.arange(1, m + 1)] = np.where(ok, arr1, np.inf)
    keep = ok
    masks = bit[1:][keep]
    cost = cost[keep]
    levels = [(masks, cost, None, None)]
    best = (0.0, 0.0, None)  # prize, -time, (level, row, end)
    states = len(masks)
    lv = 0
    while len(masks):
        # Close every state: tour time through its best end.
        tot = cost + d[:, 0][None, :]
        end = np.argmin(tot, axis=1)
        t = tot[np.arange(len(masks)), end]
        pr = (((masks[:, None] & bit[None, 1:]) != 0) * pz[1:][None, :]).sum(axis=1)
        key = np.lexsort((t, -pr))[0]
        if (pr[key], -t[key]) > best[:2] and np.isfinite(t[key]):
            best = (float(pr[key]), float(-t[key]), (lv, int(key), int(end[key])))
        # Extend: arrive at j (not in the mask) from the best end i.
        inmask = (masks[:, None] & bit[None, :]) != 0
        inmask[:, 0] = True
        new = np.full((len(masks), m + 1), np.inf)
        frm = np.zeros((len(masks), m + 1), dtype=np.int64)
        for i in range(1, m + 1):
            c = cost[:, i, None] + d[i][None, :]
            better = c < new
            new = np.where(better, c, new)
            frm = np.where(better, i, frm)
        new += sv[None, :]
        new[inmask] = np.inf
        new[new + back[None, :] > budget + _EPS] = np.inf
        rows, cols = np.nonzero(np.isfinite(new))
        if not len(rows):
            break
        nm = masks[rows] | bit[cols]
        uniq, inv = np.unique(nm, return_inverse=True)
        states += len(uniq)
        if states > max_states:
            return None
        ncost = np.full((len(uniq), m + 1), np.inf)
        ncost[inv, cols] = new[rows, cols]
        par = np.full((len(uniq), m + 1), -1, dtype=np.int64)
        par[inv, cols] = rows
        pend = np.zeros((len(uniq), m + 1), dtype=np.int64)
        pend[inv, cols] = frm[rows, cols]
        masks, cost = uniq, ncost
        levels.append((masks, cost, par, pend))
        lv += 1
    if best[2] is None:
        return []
    lv, row, endj = best[2]
    route = []
    while True:
        route.append(int(idx[endj]))
        if lv == 0:
            break
        _, _, par, pend = levels[lv]
        row, endj = int(par[row, endj]), int(pend[row, endj])
        lv -= 1
    return route[::-1]
