"""Stops moved between the week's routes: visits and prize kept, overlap lowered, budget kept."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np

from layers.patrol.orienteering import tour_time
from layers.patrol.weekplan.exchange import _exchange


def _metric(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = np.r_[[[0.0, 0.0]], rng.uniform(-300, 300, (n, 2))]
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    return dist, np.r_[0.0, np.full(n, 60.0)]


def _cross(orders, per_day):
    sets = [set(o) for o in orders]
    pairs = [(i, j) for i, j in combinations(range(len(sets)), 2) if i // per_day != j // per_day]
    return np.mean([len(sets[i] & sets[j]) / len(sets[i] | sets[j]) for i, j in pairs])


def test_moves_keep_visits_and_budget_and_lower_the_overlap():
    dist, service = _metric(12, 1)
    # Seven days, two patrols a day; the routes repeat a few stop sets.
    base = [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9, 10], [0, 1, 2, 3, 11]]
    orders = [list(base[i % 4]) for i in range(14)]
    budget = 1.2 * max(tour_time(dist, service, [s + 1 for s in o]) for o in orders)
    out = _exchange(orders, 2, dist, service, budget, np.ones(12), 0.0, 5.0)
    assert Counter(s for o in out for s in o) == Counter(s for o in orders for s in o)
    for o in out:
        assert o
        assert len(set(o)) == len(o)
        assert tour_time(dist, service, [s + 1 for s in o]) <= budget + 1e-6
    assert _cross(out, 2) < _cross(orders, 2) - 0.05
    # A day's two patrols with the same stops walk them in opposite orders.
    for day in range(7):
        a, b = out[2 * day], out[2 * day + 1]
        assert sorted(a) != sorted(b) or (b == a[::-1] and a != b)


def test_routes_keep_the_least_prize():
    dist, service = _metric(12, 1)
    orders = [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9, 10], [0, 1, 2, 3, 11]] * 3 + [[0, 1], [2, 3]]
    orders = [list(o) for o in orders]
    free = _exchange(orders, 2, dist, service, 1e9, np.ones(12), 0.0, 5.0)
    assert min(map(len, free)) < 2  # unbounded, the moves empty some routes out
    kept = _exchange(orders, 2, dist, service, 1e9, np.ones(12), 2.0, 5.0)
    assert min(map(len, kept)) >= 2
    assert _cross(kept, 2) < _cross(orders, 2)


def test_moves_stop_at_the_cpu_cap():
    dist, service = _metric(12, 1)
    orders = [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9, 10], [0, 1, 2, 3, 11]] * 3 + [[0, 1], [2, 3]]
    assert _exchange(orders, 2, dist, service, 1e9, np.ones(12), 0.0, 0.0) == orders
