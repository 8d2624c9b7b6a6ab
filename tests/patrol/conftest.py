"""Shared patrol instances."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from layers.patrol.budget import DEFAULT_SPEED_MPS, budget_route, place_stops
from layers.patrol.network import build_network
from layers.patrol.synthetic import grid_lanes


@pytest.fixture(scope="session")
def research_family() -> SimpleNamespace:
    """The research anchor's week-plan family, seed 0: 50 checkpoints, 2 h, short stops at
    low prizes (too many routes to list), with its walking times and best route."""
    rng = np.random.default_rng(0)
    net = build_network(grid_lanes(15, seed=0))
    prize = rng.integers(1, 9, 50).astype(float)
    stop = np.where(prize >= 5, 12.0, 1.0)
    x, y = rng.uniform(0, 1400, 50), rng.uniform(0, 1400, 50)
    stops = place_stops(net, (700.0, 700.0), x, y)
    return SimpleNamespace(
        stops=stops,
        prize=prize,
        stop_min=stop,
        budget_min=120,
        dist_s=np.where(np.isfinite(stops.dist_m), stops.dist_m / DEFAULT_SPEED_MPS, 1e12),
        service=np.r_[0.0, stop * 60.0],
        best=budget_route(stops, None, None, None, prize, budget_min=120, stop_min=stop),
    )
