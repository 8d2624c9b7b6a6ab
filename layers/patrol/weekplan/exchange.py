"""Stops moved between the week's routes: lower day-to-day overlap, same visits and prize.

Step 7 of :mod:`layers.patrol.weekplan`, once the routes are paired into days.
The selection and the overlap search choose among routes that were listed
or pooled; these moves make new ones. A stop moves from one patrol's route
to another's (relocate), or two patrols trade a stop each (swap). Every
hotspot keeps its number of visits and the week keeps its prize, so only the
overlap changes; a move is kept when it lowers the mean Jaccard overlap of
the pairs of patrols on different days and both routes still fit the budget.
"""

from __future__ import annotations

import time

import numpy as np

from layers.patrol.orienteering.search import _best_insertion, _two_opt
from layers.patrol.orienteering.tour import tour_time
from layers.patrol.weekplan.search import _jac


def _with_stop(d: np.ndarray, order: list[int], t: int) -> list[int]:
    """``order`` (1-based stops) with ``t`` inserted where it adds the least walking."""
    q = _best_insertion(d, order, t)[1]
    return [*order[:q], t, *order[q:]]


def _exchange(orders, per_day, dist_s, service, budget_s, prize, least, cpu_s):
    """Relocate and swap moves between routes (first improvement) until none helps.

    Parameters
    ----------
    orders : list of list of int
        Each patrol's stops (0-based) in visiting order, day by day
        (``per_day`` patrols a day, in the order of the week).
    per_day : int
        Patrols a day.
    dist_s, service, budget_s
        Walking times (base first), stop times and the budget, in seconds.
    prize : ndarray
        Priority of each stop.
    least : float
        Least prize a route may keep (the selection's useful band).
    cpu_s : float
        CPU seconds at most.

    Returns
    -------
    list of list of int
        The orders after the moves (equal to ``orders`` when nothing helped).
    """
    d = np.asarray(dist_s, dtype=float)
    dl = d.tolist()
    n = len(orders)
    day = [i // per_day for i in range(n)]
    cur = [[s + 1 for s in o] for o in orders]
    masks = [sum(1 << s for s in o) for o in cur]
    value = np.r_[0.0, np.asarray(prize, dtype=float)]

    def fits(order: list[int]) -> list[int] | None:
        if tour_time(d, service, order) <= budget_s + 1e-6:
            return order
        order = _two_opt(dl, order)
        return order if tour_time(d, service, order) <= budget_s + 1e-6 else None

    def gain(i: int, j: int, mi: int, mj: int) -> float:
        """Fall in the summed cross-day overlap when routes i, j become mi, mj."""
        out = 0.0
        for r in range(n):
            if r in (i, j):
                continue
            if day[r] != day[i]:
                out += _jac(masks[i], masks[r]) - _jac(mi, masks[r])
            if day[r] != day[j]:
                out += _jac(masks[j], masks[r]) - _jac(mj, masks[r])
        if day[i] != day[j]:
            out += _jac(masks[i], masks[j]) - _jac(mi, mj)
        return out

    def apply(i: int, j: int, oi: list[int], oj: list[int] | None) -> bool:
        """Make the move unless a route breaks the budget or falls below ``least``.

        A day's two patrols with the same stops walk them in opposite orders
        (same length), or the move is refused.
        """
        if oj is None or not oi or min(value[oi].sum(), value[oj].sum()) < least - 1e-9:
            return False
        new = {i: oi, j: oj}
        for q in (i, j):
            for r in range(n):
                other = new.get(r, cur[r])
                if r != q and day[r] == day[q] and sorted(other) == sorted(new[q]):
                    back = other[::-1]
                    if back == other or tour_time(d, service, back) > budget_s + 1e-6:
                        return False
                    new[q] = back
        for q, o in new.items():
            cur[q] = o
            masks[q] = sum(1 << s for s in o)
        return True

    start = time.thread_time()
    improved = True
    while improved and time.thread_time() - start < cpu_s:
        improved = False
        for i in range(n):
            for j in range(n):
                if i == j or time.thread_time() - start > cpu_s:
                    continue
                # Relocate: a stop of i that j lacks moves to j.
                for t in cur[i]:
                    if masks[j] >> t & 1:
                        continue
                    if gain(i, j, masks[i] & ~(1 << t), masks[j] | 1 << t) <= 1e-9:
                        continue
                    rest = [s for s in cur[i] if s != t]
                    if apply(i, j, rest, fits(_with_stop(d, cur[j], t))):
                        improved = True
                        break
                if i > j:
                    continue
                # Swap: i and j trade a stop each.
                for a in [s for s in cur[i] if not masks[j] >> s & 1]:
                    moved = False
                    for b in [s for s in cur[j] if not masks[i] >> s & 1]:
                        mi = masks[i] & ~(1 << a) | 1 << b
                        mj = masks[j] & ~(1 << b) | 1 << a
                        if gain(i, j, mi, mj) <= 1e-9:
                            continue
                        oi = fits(_with_stop(d, [s for s in cur[i] if s != a], b))
                        oj = fits(_with_stop(d, [s for s in cur[j] if s != b], a)) if oi else None
                        if oi and apply(i, j, oi, oj):
                            moved = improved = True
                            break
                    if moved:
                        break
    return [[s - 1 for s in o] for o in cur]
