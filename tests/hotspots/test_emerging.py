"""Emerging hotspots: Mann–Kendall, the category rules, and planted space-time patterns."""

from __future__ import annotations

import numpy as np
import pytest

from layers.hotspots.emerging import (
    classify,
    emerging_hotspots,
    emerging_hotspots_cube,
    time_bins,
)
from layers.hotspots.grid import CellGrid
from layers.hotspots.stats import mann_kendall


def test_mann_kendall_known_values():
    t = 10
    mk = mann_kendall(np.vstack([np.arange(t), -np.arange(t), np.ones(t)]))
    assert mk.s[0] == t * (t - 1) / 2
    assert mk.tau[0] == 1.0
    assert mk.s[1] == -t * (t - 1) / 2
    assert mk.p[1] < 0.001
    assert mk.z[2] == 0
    assert mk.p[2] == 1.0
    # Hand-computed with ties: x = 1 2 2 3 → S = 5, var = (4·3·13 − 2·1·9)/18 = 7.667.
    mk = mann_kendall(np.array([[1.0, 2.0, 2.0, 3.0]]))
    assert mk.s[0] == 5
    assert mk.z[0] == pytest.approx(4 / np.sqrt((4 * 3 * 13 - 2 * 1 * 9) / 18))


def _trend(s: list[float]) -> object:
    class T:
        pass

    out = T()
    out.s = np.asarray(s, dtype=float)
    out.p = np.where(np.asarray(s) != 0, 0.001, 1.0)
    return out


def test_rules_on_flag_patterns():
    n = 12
    rows = {
        "new": [0] * (n - 1) + [1],
        "consecutive": [0] * (n - 3) + [1, 1, 1],
        "persistent": [1] * n,
        "intensifying": [1] * n,
        "diminishing": [1] * n,
        "sporadic": [1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1],
        "oscillating": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        "historical": [1] * (n - 1) + [0],
        "none": [0] * n,
    }
    hot = np.array(list(rows.values()), dtype=bool)
    cold = np.zeros_like(hot)
    cold[6, 3] = True  # the oscillating cell was cold once
    trend = _trend([0, 0, 0, 1, -1, 0, 0, 0, 0])
    got = classify(hot, cold, trend)
    assert list(got) == list(rows)
    # Cold spots mirror the rules.
    got_cold = classify(cold.copy() & False | hot, np.zeros_like(hot), _trend([0] * 9))
    assert got_cold[2] == "persistent"
    got_cold = classify(np.zeros_like(hot), hot, _trend([0] * 9))
    assert got_cold[0] == "cold_new"
    assert got_cold[2] == "cold_persistent"


def test_planted_space_time_patterns():
    rng = np.random.default_rng(0)
    n_t = 12
    grid = CellGrid(0.0, 0.0, 100.0, 30, 30)
    counts = rng.poisson(2.0, (n_t, *grid.shape)).astype(float)
    steps = np.arange(n_t)
    plants = {
        "persistent": ((5, 5), np.full(n_t, 14.0)),
        "intensifying": ((5, 20), 10.0 + 2.5 * steps),
        "diminishing": ((20, 5), 40.0 - 2.5 * steps),
        "new": ((20, 20), np.r_[np.zeros(n_t - 1), 30.0]),
    }
    for (r, c), extra in plants.values():
        counts[:, r : r + 2, c : c + 2] += extra[:, None, None]
    res = emerging_hotspots_cube(grid, counts, time_lag=0)
    for name, ((r, c), _) in plants.items():
        cats = res.category[r : r + 2, c : c + 2].ravel()
        assert (cats == name).mean() >= 0.75, (name, cats)
    other = np.ones(grid.shape, dtype=bool)
    for (r, c), _ in plants.values():
        other[max(r - 1, 0) : r + 3, max(c - 1, 0) : c + 3] = False
    assert (res.category[other] != "none").mean() < 0.01
    gdf = res.to_geodataframe(crs="EPSG:4548")
    assert {"category", "tau", "trend_p", "count"} <= set(gdf.columns)


def test_points_front_end():
    edges = np.array([0, 10, 20, 30, 40], dtype=float)
    assert list(time_bins(np.array([-1, 0, 9.9, 10, 39, 40]), edges)) == [-1, 0, 0, 1, 3, -1]
    rng = np.random.default_rng(2)
    x, y = rng.uniform(0, 1000, 4000), rng.uniform(0, 1000, 4000)
    t = rng.uniform(0, 40, 4000)
    res = emerging_hotspots(x, y, t, edges, cell_m=100, bounds=(0, 0, 1000, 1000))
    assert res.counts.shape == (4, 10, 10)
    assert res.counts.sum() == 4000
