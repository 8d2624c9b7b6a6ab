"""Routes as tours: the shortest tour through a stop set, and the sampled pool.

Step 1 of :mod:`layers.patrol.weekplan` lists every feasible route with
:func:`~layers.patrol.orienteering.enumerate_tours`; when there are too many,
a pool is sampled with the orienteering search instead (here).
"""

from __future__ import annotations

import numpy as np

from layers.patrol.budget import BudgetRoute, budget_route, route_from_stops
from layers.patrol.orienteering import solve_orienteering


def _route_of(stops, subset, p, dist_s, service, budget_s, common, optimal=False) -> BudgetRoute:
    """The shortest tour through exactly the stops ``subset`` (0-based), as a route."""
    ind = np.zeros(len(p) + 1)
    ind[np.asarray(subset, dtype=int) + 1] = 1.0
    tour = solve_orienteering(dist_s, service, ind, budget_s)
    return route_from_stops(stops, [i - 1 for i in tour.stops], p, optimal=optimal, **common)


def _sampled_pool(stops, p, best, common, pool_size, noise, max_iter, seed, rng) -> np.ndarray:
    """Routes from the orienteering search with damped, noisy prizes (when not all are listed)."""
    rows = [best.stops]
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
        rows.append(route.stops)
        count[route.stops] += 1
    out = np.zeros((len(rows), len(p)), dtype=bool)
    for i, r in enumerate(rows):
        out[i, r] = True
    return out
