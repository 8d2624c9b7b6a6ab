"""Order and times: routes paired into days, days ordered, start times stratified.

Step 6 of :mod:`layers.patrol.weekplan`.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations, pairwise

import numpy as np

from layers.patrol.budget import BudgetRoute
from layers.patrol.weekplan.plan import PlannedPatrol, WeekPlan


def _finish(plan, routes, windows, days, rng) -> WeekPlan:
    """Give each route (day by day, window by window, see :func:`_arrange`) a start time."""
    patrols = []
    for s, (lo, hi) in enumerate(windows):
        strata = rng.permutation(days)
        for d in range(days):
            route = routes[d * len(windows) + s]
            # Start so the patrol ends inside the window when it can.
            latest = max(lo, hi - route.total_s / 60.0)
            width = (latest - lo) / days
            start = lo + (strata[d] + rng.random()) * width
            patrols.append(PlannedPatrol(d, s, float(start), route))
    patrols.sort(key=lambda q: (q.day, q.start_min))
    return replace(plan, patrols=patrols)


def _arrange(routes: list[BudgetRoute], per_day: int, rng: np.random.Generator) -> list[int]:
    """An order of the routes (day by day, window by window) for a varied week.

    Day-to-day overlap counts pairs of patrols on different days, so the
    routes are paired into days to keep it low. A day's two patrols may visit
    the same stops, in opposite orders and at different times ("varied order
    and start times"), never in the same order; then neighbouring days share
    few stops.
    """
    n = len(routes)
    sets = [frozenset(r.stops) for r in routes]
    jac = np.ones((n, n))
    for i, j in combinations(range(n), 2):
        u = sets[i] | sets[j]
        jac[i, j] = jac[j, i] = len(sets[i] & sets[j]) / len(u) if u else 1.0
    walks = [tuple(r.stops) for r in routes]
    same = np.array([[walks[i] == walks[j] and i != j for j in range(n)] for i in range(n)])

    def cost(o: list[int]) -> float:
        days = [o[d : d + per_day] for d in range(0, n, per_day)]
        within = sum(jac[i, j] for day in days for i, j in combinations(day, 2))
        twins = sum(same[i, j] for day in days for i, j in combinations(day, 2))
        nxt = sum(jac[i, j] for d1, d2 in pairwise(days) for i in d1 for j in d2)
        return -within + 100.0 * twins + 0.05 * nxt

    order = [int(k) for k in rng.permutation(n)]
    cur = cost(order)
    for _ in range(40 * n if n > 1 else 0):
        i, j = rng.choice(n, size=2, replace=False)
        order[i], order[j] = order[j], order[i]
        c = cost(order)
        if c <= cur:
            cur = c
        else:
            order[i], order[j] = order[j], order[i]
    return order
