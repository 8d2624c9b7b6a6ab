"""Time-budget routes: within the budget with stops, optimal on small cases, reachability."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.patrol.budget import budget_route, place_stops
from layers.patrol.errors import PatrolInputError
from layers.patrol.network import build_network
from layers.patrol.orienteering import solve_orienteering, tour_time
from layers.patrol.synthetic import grid_lanes


def _brute_force(dist, service, prize, budget):
    k = len(prize)
    best = 0.0
    for r in range(1, k):
        for subset in itertools.combinations(range(1, k), r):
            if prize[list(subset)].sum() <= best:
                continue
            if any(
                tour_time(dist, service, perm) <= budget + 1e-9
                for perm in itertools.permutations(subset)
            ):
                best = float(prize[list(subset)].sum())
    return best


@pytest.mark.parametrize("seed", range(6))
def test_optimal_on_small_instances(seed):
    rng = np.random.default_rng(seed)
    k = 8
    xy = rng.uniform(0, 1000, (k, 2))
    dist = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    service = np.r_[0, rng.choice([60.0, 720.0], k - 1)]
    prize = np.r_[0, rng.integers(1, 9, k - 1)].astype(float)
    budget = 2400.0
    tour = solve_orienteering(dist, service, prize, budget, seed=0, max_iter=150)
    assert tour.time_s <= budget + 1e-9
    assert tour.time_s == pytest.approx(tour_time(dist, service, tour.stops))
    assert tour.prize == pytest.approx(_brute_force(dist, service, prize, budget))


def test_route_respects_budget_with_stops():
    net = build_network(grid_lanes(10, seed=4))
    rng = np.random.default_rng(4)
    x, y = rng.uniform(0, 900, 15), rng.uniform(0, 900, 15)
    prize = rng.uniform(1, 10, 15)
    route = budget_route(net, (450.0, 450.0), x, y, prize, budget_min=60, stop_min=12)
    assert 1 <= len(route.stops) <= 4  # 5 stops of 12 min leave no time to walk
    assert route.total_s <= 3600 + 1e-6
    assert route.total_s == pytest.approx(route.walk_m / 1.0 + 720 * len(route.stops))
    assert np.all(np.diff(route.arrive_s) > 0)
    assert np.allclose(route.leave_s - route.arrive_s, 720)
    line = route.geometry
    assert line.length == pytest.approx(route.walk_m, rel=1e-6)
    ends = shapely.get_coordinates(line)
    assert np.allclose(ends[0], ends[-1])
    # Each stop is on the walked line.
    for i in route.stops:
        foot = route.network.node_xy[place_stops(net, (450.0, 450.0), x, y).nodes[i + 1]]
        assert line.distance(shapely.Point(foot)) < 1e-6
    assert route.message is None


def test_unreachable_hotspots_are_reported():
    lanes = gpd.GeoDataFrame(
        {"key": ["a", "b"]},
        geometry=[
            shapely.LineString([(0, 0), (300, 0)]),
            shapely.LineString([(0, 900), (300, 900)]),
        ],
        crs="EPSG:4548",
    )
    net = build_network(lanes)
    route = budget_route(net, (0.0, 0.0), np.array([200.0, 100.0]), np.array([0.0, 900.0]),
                         np.array([1.0, 100.0]), budget_min=60)  # fmt: skip
    assert route.stops == [0]
    assert route.unreachable == [1]
    assert "cannot be reached" in route.message


def test_bad_budget():
    net = build_network(grid_lanes(4, seed=0))
    with pytest.raises(PatrolInputError, match="positive"):
        budget_route(net, (0.0, 0.0), np.array([10.0]), np.array([10.0]), np.ones(1),
                     budget_min=0)  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_exact_programme_matches_brute_force_and_search(seed):
    rng = np.random.default_rng(100 + seed)
    k = 9
    xy = rng.uniform(0, 1200, (k, 2))
    dist = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    service = np.r_[0, np.full(k - 1, 720.0)]
    prize = np.r_[0, rng.uniform(1, 10, k - 1)]
    exact = solve_orienteering(dist, service, prize, 3600.0)
    assert exact.optimal
    assert exact.time_s <= 3600.0 + 1e-9
    assert exact.prize == pytest.approx(_brute_force(dist, service, prize, 3600.0))
    search = solve_orienteering(dist, service, prize, 3600.0, exact_states=0, max_iter=100)
    assert not search.optimal
    assert search.prize <= exact.prize + 1e-9


def test_exact_programme_hands_over_when_too_many_subsets_fit():
    rng = np.random.default_rng(3)
    k = 40
    xy = rng.uniform(0, 1000, (k, 2))
    dist = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    service = np.r_[0, np.full(k - 1, 60.0)]
    prize = np.r_[0, rng.integers(1, 9, k - 1)].astype(float)
    tour = solve_orienteering(dist, service, prize, 7200.0, max_iter=50, exact_states=2_000)
    assert not tour.optimal
    assert tour.time_s <= 7200.0 + 1e-9
    assert tour.prize == pytest.approx(prize[list(tour.stops)].sum())
