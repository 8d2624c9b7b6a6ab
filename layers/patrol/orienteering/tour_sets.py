"""Every stop set whose shortest tour fits the budget (the routes a week plan chooses from)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csgraph

from layers.patrol.orienteering.tour import _EPS


@dataclass(frozen=True)
class TourSet:
    """Every stop set that fits in the budget, with its shortest tour time.

    Attributes
    ----------
    members : ndarray of bool, shape ``(n, k)``
        Row ``i`` marks the stops (matrix indices 1..k as columns 0..k−1) of set ``i``.
    time_s : ndarray, shape ``(n,)``
        Least walking plus stop time of a tour through set ``i`` (exact).
    """

    members: np.ndarray
    time_s: np.ndarray


def enumerate_tours(
    dist: np.ndarray, service: np.ndarray, budget: float, *, max_sets: int = 200_000
) -> TourSet | None:
    """All non-empty stop sets whose shortest tour from the base fits in ``budget``.

    The same Held–Karp levels as the exact orienteering programme, kept whole:
    a set is feasible exactly when some state (set, last stop) of its level
    can still get home in time, so the levels list every feasible set once,
    each with its least tour time. ``None`` when there are more than
    ``max_sets`` sets (the caller then falls back to sampled routes).

    Parameters
    ----------
    dist : ndarray, shape ``(k + 1, k + 1)``
        Travel times; index 0 is the base.
    service : ndarray, shape ``(k + 1,)``
        Stop times (index 0 ignored).
    budget : float
    max_sets : int

    Returns
    -------
    TourSet or None
    """
    dist = np.asarray(dist, dtype=float)
    service = np.asarray(service, dtype=float).copy()
    service[0] = 0.0
    k = len(dist) - 1
    reach = np.flatnonzero(dist[0, 1:] + service[1:] + dist[1:, 0] <= budget + _EPS) + 1
    m = len(reach)
    if m == 0:
        return TourSet(np.zeros((0, k), dtype=bool), np.zeros(0))
    if m > 62:
        return None
    idx = np.r_[0, reach]
    d = dist[np.ix_(idx, idx)]
    sv = service[idx]
    back = csgraph.shortest_path(d, method="D", directed=True)[:, 0]
    bit = np.r_[0, 1 << np.arange(m, dtype=np.int64)].astype(np.int64)
    cost = np.full((m, m + 1), np.inf)
    cost[np.arange(m), np.arange(1, m + 1)] = d[0, 1:] + sv[1:]
    masks = bit[1:].copy()
    all_masks, all_t = [], []
    total = 0
    while len(masks):
        tot = (cost + d[:, 0][None, :]).min(axis=1)
        ok = tot <= budget + _EPS
        masks, cost, tot = masks[ok], cost[ok], tot[ok]
        if not len(masks):
            break
        total += len(masks)
        if total > max_sets:
            return None
        all_masks.append(masks)
        all_t.append(tot)
        inmask = (masks[:, None] & bit[None, :]) != 0
        inmask[:, 0] = True
        new = np.full((len(masks), m + 1), np.inf)
        for i in range(1, m + 1):
            new = np.minimum(new, cost[:, i, None] + d[i][None, :])
        new += sv[None, :]
        new[inmask] = np.inf
        new[new + back[None, :] > budget + _EPS] = np.inf
        rows, cols = np.nonzero(np.isfinite(new))
        if not len(rows):
            break
        nm = masks[rows] | bit[cols]
        uniq, inv = np.unique(nm, return_inverse=True)
        ncost = np.full((len(uniq), m + 1), np.inf)
        np.minimum.at(ncost, (inv, cols), new[rows, cols])
        masks, cost = uniq, ncost
    masks = np.concatenate(all_masks)
    sub = (masks[:, None] & bit[None, 1:]) != 0
    members = np.zeros((len(masks), k), dtype=bool)
    members[:, reach - 1] = sub
    return TourSet(members, np.concatenate(all_t))
