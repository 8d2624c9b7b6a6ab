"""Routes as tours: the shortest tour through a stop set, and the sampled pool.

Step 1 of :mod:`layers.patrol.weekplan` lists every feasible route with
:func:`~layers.patrol.orienteering.enumerate_tours`; when there are too many,
a pool is built instead (here): a few routes from the orienteering search
(:func:`_sampled_pool`), grown into thousands of stop sets by local moves on
their order (:func:`_local_pool`).
"""

from __future__ import annotations

import time

import numpy as np

from layers.patrol.budget import BudgetRoute, budget_route, route_from_stops
from layers.patrol.orienteering import solve_orienteering
from layers.patrol.orienteering.search import _two_opt
from layers.patrol.orienteering.tour import tour_time

#: Weight of the pool's cover of a set's stops against its prize when picking
#: the next set to expand (see :func:`_local_pool`).
SPREAD = 2.0


def _route_of(stops, subset, p, dist_s, service, budget_s, common, optimal=False,
              order=None) -> BudgetRoute:  # fmt: skip
    """The shortest tour through exactly the stops ``subset`` (0-based), as a route.

    ``order``, a known order of the same stops within the budget (from the
    local pool or the pricing), is shortened by 2-opt and or-opt and walked.
    On the research family the orienteering search found no shorter tour for
    such routes, at a tenth of a second each.
    """
    if order is not None:
        found = [s - 1 for s in _two_opt(np.asarray(dist_s).tolist(), [int(s) + 1 for s in order])]
        return route_from_stops(stops, found, p, optimal=optimal, **common)
    ind = np.zeros(len(p) + 1)
    ind[np.asarray(subset, dtype=int) + 1] = 1.0
    found = [i - 1 for i in solve_orienteering(dist_s, service, ind, budget_s).stops]
    return route_from_stops(stops, found, p, optimal=optimal, **common)


def _sampled_pool(stops, p, best, common, pool_size, noise, max_iter, seed, rng) -> list[list[int]]:
    """Routes (stops in order) from the orienteering search with damped, noisy prizes.

    The seeds of :func:`_local_pool` when the feasible routes are too many to
    list: the best route first, then up to ``pool_size`` − 1 distinct others.
    """
    rows = [list(best.stops)]
    seen = {tuple(sorted(best.stops))}
    count = np.zeros(len(p))
    count[best.stops] += 1
    for k in range(pool_size * 3):
        if len(rows) >= pool_size:
            break
        # Damping what the pool already covers steers new routes elsewhere.
        weight = 0.6 ** (count / max(1.0, len(rows) / 3))
        prize = p * weight * np.exp(noise * 2 * rng.standard_normal(len(p)))
        route = budget_route(
            stops, None, None, None, prize, seed=seed + k + 1, max_iter=max_iter, **common
        )
        key = tuple(sorted(route.stops))
        if not route.stops or key in seen:
            continue
        seen.add(key)
        rows.append(list(route.stops))
        count[route.stops] += 1
    return rows


def _mask(order) -> int:
    """Stop set of an order (0-based stops) as an integer bit mask (any number of stops)."""
    out = 0
    for s in order:
        out |= 1 << int(s)
    return out


def _local_pool(dist_s, service, budget_s, p, starts, low, high, rng, max_sets, cpu_s):
    """Stop sets grown from ``starts`` by insert, remove and swap moves on the stop order.

    Every set kept has a visiting order whose walk plus stop time fits
    ``budget_s`` (the order it was built with, checked again at the end) and a
    prize of at least ``low``. Sets of prize ``high`` or more are expanded in
    turn: all their neighbours — one stop removed, one inserted at its
    cheapest position, or one swapped for another (so that chains give 2-for-1
    and 1-for-2) — are kept. The next set expanded maximises its prize (as a
    share of ``high``) less :data:`SPREAD` times the pool's mean cover of its
    stops (a little noise from ``rng`` breaks ties), so that the pool spreads
    over the hotspots instead of piling up around the best route. Stops when
    ``max_sets`` sets are kept, nothing is left to expand, or ``cpu_s`` CPU
    seconds pass (a safety stop: below it the pool depends on the seed only).

    Returns the members (bool, sets × stops) and each set's order (0-based).
    """
    k = len(p)
    d = np.asarray(dist_s, dtype=float)
    svc = np.asarray(service, dtype=float)
    reach = np.flatnonzero(d[0, 1:] + svc[1:] + d[1:, 0] <= budget_s + 1e-6) + 1
    members = np.zeros((max_sets, k), dtype=bool)
    prizes = np.zeros(max_sets)
    orders: list[list[int]] = []
    times: list[float] = []
    index: dict[int, int] = {}
    expanded = np.zeros(max_sets, dtype=bool)

    def add(order: list[int], t: float, prize: float) -> None:
        key = _mask(order)
        if key in index or len(orders) >= max_sets or prize < low - 1e-9:
            return
        i = len(orders)
        index[key] = i
        orders.append(order)
        times.append(t)
        members[i, order] = True
        prizes[i] = prize
        expanded[i] = prize < high - 1e-9

    for order in starts:
        order = [int(s) for s in order]
        if order:
            add(order, tour_time(d, svc, [s + 1 for s in order]), float(p[order].sum()))
    start = time.thread_time()
    dl = d.tolist()
    while len(orders) < max_sets and time.thread_time() - start < cpu_s:
        n = len(orders)
        open_ = np.flatnonzero(~expanded[:n])
        if not len(open_):
            break
        # Prize first; among near-equal prizes, sets whose stops the pool
        # covers least (the overlap is made of stops shared across the pool).
        count = members[:n].sum(axis=0) / n
        cover = (members[open_] @ count) / np.maximum(members[open_].sum(axis=1), 1)
        score = prizes[open_] / max(high, 1e-9) - SPREAD * cover
        score += 1e-3 * rng.random(len(open_))
        i = int(open_[np.argmax(score)])
        expanded[i] = True
        # Orders built by insertions drift from the shortest walk: 2-opt the
        # set before expanding it, so that more of its neighbours fit.
        order = [s - 1 for s in _two_opt(dl, [s + 1 for s in orders[i]])]
        t = tour_time(d, svc, [s + 1 for s in order])
        if t < times[i]:
            orders[i], times[i] = order, t
        order, t, prize = orders[i], times[i], prizes[i]
        s = np.array(order) + 1
        seq = np.r_[0, s, 0]
        a, b = seq[:-1], seq[1:]
        out = np.setdiff1d(reach, s, assume_unique=True)
        # Removals: the walk skips the stop.
        rem = d[a[:-1], b[1:]] - d[a[:-1], s] - d[s, b[1:]] - svc[s]
        for q in range(len(s)):
            add(order[:q] + order[q + 1 :], t + rem[q], prize - p[order[q]])
        if not len(out):
            continue
        # Insertion cost of every outside stop on every edge (edges × stops).
        ins = d[a][:, out] + d[out][:, b].T - d[a, b][:, None]
        e = ins.argmin(axis=0)
        t_ins = t + ins[e, np.arange(len(out))] + svc[out]
        for j in np.flatnonzero(t_ins <= budget_s + 1e-6):
            q = int(e[j])
            add([*order[:q], int(out[j]) - 1, *order[q:]], float(t_ins[j]),
                prize + p[out[j] - 1])  # fmt: skip
        # Swaps: remove stop q (edges q and q+1 become one), insert j at its
        # cheapest position on the shortened walk.
        m = len(s)
        bridge = d[a[:-1]][:, out] + d[out][:, b[1:]].T - d[a[:-1], b[1:]][:, None]
        big = np.broadcast_to(ins, (m, m + 1, len(out))).copy()
        rows = np.arange(m)
        big[rows, rows] = np.inf
        big[rows, rows + 1] = np.inf
        best_e = big.argmin(axis=1)
        best_c = np.take_along_axis(big, best_e[:, None, :], axis=1)[:, 0]
        use_bridge = bridge < best_c
        cost = np.where(use_bridge, bridge, best_c)
        t_sw = t + rem[:, None] + cost + svc[out][None, :]
        p_sw = prize - p[np.array(order)][:, None] + p[out - 1][None, :]
        ok = (t_sw <= budget_s + 1e-6) & (p_sw >= low - 1e-9)
        for q, j in zip(*np.nonzero(ok), strict=True):
            rest = order[:q] + order[q + 1 :]
            node = int(out[j]) - 1
            if use_bridge[q, j]:
                new = [*rest[:q], node, *rest[q:]]
            else:
                pos = int(best_e[q, j])
                # Edge index on the original walk -> position on the shortened one.
                pos = pos if pos < q else pos - 1
                new = [*rest[:pos], node, *rest[pos:]]
            add(new, float(t_sw[q, j]), float(p_sw[q, j]))
    n = len(orders)
    # The times were kept by increments: check each order once more, exactly.
    exact = np.array([tour_time(d, svc, [s + 1 for s in o]) for o in orders])
    keep = exact <= budget_s + 1e-6
    return members[:n][keep], [o for o, k_ in zip(orders, keep, strict=True) if k_]
