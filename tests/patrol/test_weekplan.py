"""Week plans: varied routes and start times, visits steered to the targets, prize kept."""

from __future__ import annotations

import numpy as np
import pytest

from layers.patrol.budget import place_stops
from layers.patrol.network import build_network
from layers.patrol.synthetic import grid_lanes
from layers.patrol.weekplan import largest_remainder, water_filling, week_plan


@pytest.fixture(scope="module")
def instance():
    rng = np.random.default_rng(7)
    net = build_network(grid_lanes(12, seed=7))
    x, y = rng.uniform(0, 1100, 16), rng.uniform(0, 1100, 16)
    prize = rng.uniform(3, 10, 16)
    return place_stops(net, (550.0, 550.0), x, y), prize


def test_default_plan_keeps_prize_and_varies(instance):
    stops, prize = instance
    plan = week_plan(stops, prize, budget_min=120, seed=1, pool_size=20)
    m = plan.metrics(prize)
    assert len(plan.patrols) == 14
    assert m["prize_share"] >= 0.95 - 1e-9
    assert m["max_freq_dev"] == 0.0  # the chosen coverage is met exactly
    assert m["overlap_stops"] < 0.9  # not the same route every day
    assert len({tuple(p.route.stops) for p in plan.patrols}) >= 7  # at most twice each
    for p in plan.patrols:
        lo, hi = ((360, 600), (900, 1200))[p.slot]
        assert lo <= p.start_min <= hi
        assert p.route.total_s <= 120 * 60 + 1e-6
    starts = sorted(p.start_min for p in plan.patrols if p.slot == 0)
    assert np.ptp(starts) > 60  # spread over the window


def test_given_targets_are_steered_to(instance):
    stops, prize = instance
    base = week_plan(stops, prize, budget_min=120, seed=1, pool_size=20, max_iter=100)
    target = base.visits.copy()
    plan = week_plan(stops, prize, budget_min=120, seed=2, pool_size=20, max_iter=100,
                     target_visits=target, min_prize_share=0.0)  # fmt: skip
    assert np.abs(plan.visits - target).sum() <= 2


def test_water_filling_and_rounding():
    c = water_filling(np.array([10.0, 5.0, 1.0]), 1.5)
    assert c.sum() == pytest.approx(1.5)
    assert c[0] >= c[1] >= c[2]
    left = np.array([10.0, 5.0]) * (1 - c[:2])
    assert left[0] == pytest.approx(left[1], abs=1e-6)  # uncovered risk equalised
    counts = largest_remainder(np.array([0.5, 0.3, 0.2]), 7)
    assert counts.sum() == 7
    assert list(counts) == [4, 2, 1]


def test_unmet_requirements_are_reported(instance):
    stops, prize = instance
    plan = week_plan(stops, prize, budget_min=120, seed=1, pool_size=10, max_iter=50,
                     max_overlap=0.0, min_prize_share=0.99)  # fmt: skip
    m = plan.metrics(prize)
    assert m["overlap_stops"] > 0.0
    assert any("overlap" in note for note in plan.shortfalls)
    met = week_plan(stops, prize, budget_min=120, seed=1, pool_size=10, max_iter=50,
                    max_overlap=1.0, min_prize_share=0.0, freq_tol=1.0)  # fmt: skip
    assert met.shortfalls == ()
