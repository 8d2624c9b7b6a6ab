"""The engine on plain graphs: counts, bounds, contiguity, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from gridding.graph import component_labels, delaunay_edges
from gridding.partition import Bounds, divide, plan
from gridding.units import partition_graph

B = Bounds(15, 20)


@pytest.mark.parametrize("n", [12, 14, 21, 25, 29, 41, 42, 43, 44])
def test_infeasible_counts_are_detected(n):
    p = plan(n, B)
    assert not p.feasible
    # The closest answer: bounds widened as little as possible.
    assert p.lo <= n // p.k
    assert -(-n // p.k) <= p.hi


@pytest.mark.parametrize("n", [15, 20, 30, 40, 45, 46, 100, 1000])
def test_feasible_counts(n):
    p = plan(n, B)
    assert p.feasible
    assert p.k * 15 <= n <= p.k * 20
    assert (p.lo, p.hi) == (15, 20)


def _check(xy, u, v, labels, weight, lo, hi):
    sizes = np.bincount(labels, weight)
    assert sizes.min() >= lo
    assert sizes.max() <= hi
    for a in range(labels.max() + 1):
        idx = np.flatnonzero(labels == a)
        local = np.full(len(labels), -1)
        local[idx] = np.arange(len(idx))
        keep = (local[u] >= 0) & (local[v] >= 0)
        comp = component_labels(len(idx), local[u[keep]], local[v[keep]])
        assert comp.max() == 0, f"area {a} is not contiguous"


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [30, 35, 47, 97, 500])
def test_random_points_in_bounds_and_contiguous(seed, n):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 300, size=(n, 2))
    u, v = delaunay_edges(xy)
    w = np.ones(n, dtype=np.int64)
    p = plan(n, B)
    res = divide(xy, w, u, v, np.ones(len(u)), p.k, 15, 20, np.random.default_rng(0))
    assert res.exact
    _check(xy, u, v, res.labels, w, 15, 20)


def test_weighted_nodes():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 400, size=(300, 2))
    w = rng.integers(1, 4, size=300)
    u, v = delaunay_edges(xy)
    labels, reports = partition_graph(
        xy, w, np.zeros(300, np.int64), u, v, np.ones(len(u)), np.zeros(len(u), bool), B
    )
    assert all(r.feasible for r in reports)
    _check(xy, u, v, labels, w, 15, 20)


def test_barrier_pieces_split_separately_and_small_piece_merged():
    # Two banks of 60 and 40 nodes joined only by soft edges, and a piece of 10.
    rng = np.random.default_rng(2)
    xy = np.r_[
        rng.uniform(0, 100, (60, 2)),
        rng.uniform(0, 100, (40, 2)) + np.array([0.0, 150.0]),
        rng.uniform(0, 30, (10, 2)) + np.array([200.0, 0.0]),
    ]
    u, v = delaunay_edges(xy)
    side = np.r_[np.zeros(60), np.ones(40), np.full(10, 2)]
    soft = side[u] != side[v]
    labels, reports = partition_graph(
        xy,
        np.ones(110, np.int64),
        np.zeros(110, np.int64),
        u,
        v,
        np.where(soft, 0.02, 1.0),
        soft,
        B,
    )
    # The 40 stay on their own (2 areas); the 10 had to join the 60.
    assert sorted((r.total, r.pieces) for r in reports) == [(40, 1), (70, 2)]
    for a in np.unique(labels[60:100]):
        assert set(side[labels == a]) == {1.0}
    _check(xy, u, v, labels, np.ones(110), 15, 20)


def test_deterministic_for_a_seed():
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 500, size=(800, 2))
    u, v = delaunay_edges(xy)
    args = (
        xy,
        np.ones(800, np.int64),
        np.zeros(800, np.int64),
        u,
        v,
        np.ones(len(u)),
        np.zeros(len(u), bool),
        B,
    )
    a, _ = partition_graph(*args, seed=4)
    b, _ = partition_graph(*args, seed=4)
    assert np.array_equal(a, b)
