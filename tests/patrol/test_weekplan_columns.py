"""Column generation for the week plan: the duals price routes the relaxation is missing."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from layers.patrol.orienteering import tour_time
from layers.patrol.weekplan.columns import _cross_pairs, _price, _relaxation, _stop_worth
from layers.patrol.weekplan.routes import _local_pool
from layers.patrol.weekplan.targets import _ranges, _ssg_coverage


@pytest.fixture(scope="module")
def research(research_family):
    """The research family with the planner's pool, targets and prize floor."""
    prize, dist_s, service, best = (research_family.prize, research_family.dist_s,
                                    research_family.service, research_family.best)  # fmt: skip
    # The planner's pool and targets (security-game coverage in whole visits).
    members, _ = _local_pool(dist_s, service, 7200.0, prize, [best.stops], 0.3 * best.prize,
                             0.9 * best.prize, np.random.default_rng(1), 3000, 60.0)  # fmt: skip
    a = members.astype(float)
    raw = 14 * _ssg_coverage(a, a @ prize, prize, 0.95 * best.prize)
    low = np.floor(raw + 1e-6).astype(int)
    lo, hi = _ranges(low, 0.1)[0], _ranges(low + (raw - low > 1e-6), 0.1)[1]
    floor = 0.95 * 14 * best.prize
    return dict(members=members, prize=prize, dist_s=dist_s, service=service, lo=lo, hi=hi,
                floor=floor)  # fmt: skip


def test_cross_pairs_is_the_least_number_of_pairs_on_different_days():
    # Brute force: v of the week's 14 patrols (7 days × 2) visit the stop; the
    # fewest pairs of them on different days.
    slots = [(d, w) for d in range(7) for w in range(2)]
    for v in range(15):
        least = min(
            sum(a[0] != b[0] for a, b in combinations(chosen, 2))
            for chosen in combinations(slots, v)
        )
        assert _cross_pairs(np.array([v]), 7)[0] == least
    g = _cross_pairs(np.arange(30), 7)
    assert (np.diff(g, 2) >= 0).all()  # convex at whole visits: its secants draw it


def test_relaxation_duals_price_every_pool_route_non_negative(research):
    r = research
    a = r["members"].astype(float)
    res = _relaxation(a, a @ r["prize"], 14, 2, r["floor"], r["lo"], r["hi"], 0.5)
    assert res.status == 0
    q, need = _stop_worth(res, r["prize"])
    # At the optimum no route of the pool has a negative reduced cost, and the
    # routes used have none at all: the sign convention of the duals holds.
    reduced = -(a @ q) + need
    assert reduced.min() >= -1e-6
    used = res.x[: len(a)] > 1e-6
    assert np.abs(reduced[used]).max() <= 1e-6


def test_priced_routes_fit_the_budget_and_improve_the_relaxation(research):
    r = research
    members, prizes = r["members"], r["members"] @ r["prize"]
    args = (r["dist_s"], r["service"], 7200.0, r["prize"], 14, 2, r["floor"], r["lo"], r["hi"],
            0.5)  # fmt: skip
    before = _relaxation(members.astype(float), prizes, 14, 2, r["floor"], r["lo"], r["hi"], 0.5)
    grown, grown_prizes, orders, support = _price(members, prizes, *args, rounds=5, seed=3)
    assert len(grown) > len(members)  # the pool lacked routes the relaxation wants
    assert np.array_equal(grown[: len(members)], members)
    assert len({row.tobytes() for row in grown}) == len(grown)
    assert np.allclose(grown_prizes, grown @ r["prize"])
    for row, order in zip(grown[len(members) :], orders, strict=True):
        assert sorted(order) == np.flatnonzero(row).tolist()
        assert tour_time(r["dist_s"], r["service"], [s + 1 for s in order]) <= 7200 + 1e-6
    after = _relaxation(grown.astype(float), grown_prizes, 14, 2, r["floor"], r["lo"], r["hi"],
                        0.5)  # fmt: skip
    assert after.fun < before.fun - 1e-6
    assert support.max() < len(grown)
    # The same seed gives the same routes.
    again = _price(members, prizes, *args, rounds=5, seed=3)
    assert np.array_equal(again[0], grown)
