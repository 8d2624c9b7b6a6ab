"""The level-batched bisection, the piece repair, swaps and cell borders."""

from __future__ import annotations

import numpy as np
import pytest

from gridding.graph import build_graph, component_labels, triangulate
from gridding.partition import Bounds, _sweep_order, divide_units, plan, repair_many
from gridding.refine import _State, refine

from .test_partition import _check

B = Bounds(15, 20)


def test_many_units_with_their_own_bounds_in_one_call():
    # Three separate clusters, cut in one batched call with different bounds.
    rng = np.random.default_rng(0)
    sizes, bounds = [120, 47, 300], [Bounds(15, 20), Bounds(6, 8), Bounds(25, 40)]
    xy = np.concatenate([rng.uniform(0, 200, (n, 2)) + 1000 * i for i, n in enumerate(sizes)])
    unit = np.repeat(np.arange(3), sizes)
    u, v, _ = triangulate(xy)
    keep = unit[u] == unit[v]
    u, v = u[keep], v[keep]
    plans = [plan(n, b) for n, b in zip(sizes, bounds, strict=True)]
    w = np.ones(len(xy), np.int64)
    labels, exact, notes = divide_units(
        xy,
        w,
        u,
        v,
        np.ones(len(u)),
        unit,
        np.array([p.k for p in plans]),
        np.array([p.lo for p in plans]),
        np.array([p.hi for p in plans]),
        np.random.default_rng(0),
    )
    assert exact.all()
    assert not any(notes)
    for t, (p, b) in enumerate(zip(plans, bounds, strict=True)):
        mask = unit == t
        idx = np.flatnonzero(mask)
        local = np.full(len(xy), -1)
        local[idx] = np.arange(len(idx))
        e = mask[u] & mask[v]
        assert set(labels[mask]) == set(range(p.k))
        _check(xy[mask], local[u[e]], local[v[e]], labels[mask], w[mask], b.lo, b.hi)


@pytest.mark.parametrize("seed", range(5))
def test_repair_leaves_both_sides_connected(seed):
    # A wavy cut through a random graph leaves many stray pieces on both sides.
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (400, 2))
    u, v, _ = triangulate(xy)
    seg = (xy[:, 0] > 50).astype(np.int64)  # two segments, cut separately
    keep = seg[u] == seg[v]
    u, v = u[keep], v[keep]
    left = np.sin(xy[:, 1] / 3.0) * 10 + 25 + 50 * seg > xy[:, 0]
    fixed = repair_many(left, seg, u, v, np.ones(len(u)), np.ones(400, np.int64))
    for s in (0, 1):
        for side in (True, False):
            mask = (seg == s) & (fixed == side)
            assert mask.any()
            e = mask[u] & mask[v]
            comp = component_labels(400, u[e], v[e])
            assert len(np.unique(comp[mask])) == 1


def _graph(n, seed):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 20 * np.sqrt(n), (n, 2))
    return build_graph(xy, np.ones(n, np.int64), np.zeros(n, np.int64))


def _stall_then_swap(seed):
    """Single moves until they stall at the bounds, then swap passes alone."""
    g = _graph(600, seed)
    p = plan(600, B)
    labels = divide_units(
        g.xy,
        g.weight,
        g.u,
        g.v,
        g.cost,
        np.zeros(600, np.int64),
        np.array([p.k]),
        np.array([15]),
        np.array([20]),
        np.random.default_rng(0),
    )[0]
    lo, hi = np.full(p.k, 15), np.full(p.k, 20)
    state = _State(g, labels, lo, hi, None, 2.0)
    while state.move_pass():
        pass
    stalled = state.labels()
    swapped = sum(state.swap_pass() for _ in range(4))
    return g, labels, stalled, state.labels(), swapped


@pytest.mark.parametrize("seed", range(4))
def test_swaps_keep_bounds_and_contiguity(seed):
    g, labels, stalled, after, _ = _stall_then_swap(seed)
    # Swaps do not change any area's size.
    assert np.array_equal(np.bincount(after), np.bincount(stalled))
    _check(g.xy, g.u, g.v, after, g.weight, 15, 20)
    # The full search, moves and swaps, keeps the guarantees too.
    k = int(labels.max()) + 1
    refined, moved = refine(g, labels, np.full(k, 15), np.full(k, 20))
    assert moved > 0
    _check(g.xy, g.u, g.v, refined, g.weight, 15, 20)


def test_swaps_happen_once_moves_stall():
    # Some graphs have no profitable swap left; of six, most do.
    assert sum(_stall_then_swap(seed)[4] > 0 for seed in range(6)) >= 3


def test_swaps_shorten_the_cut():
    g = _graph(600, 9)
    p = plan(600, B)
    args = (g.xy, g.weight, g.u, g.v, g.cost, np.zeros(600, np.int64))
    labels = divide_units(
        *args, np.array([p.k]), np.array([15]), np.array([20]), np.random.default_rng(0)
    )[0]
    lo, hi = np.full(p.k, 15), np.full(p.k, 20)

    def cut(lab):
        return g.cost[lab[g.u] != lab[g.v]].sum()

    without, _ = refine(g, labels, lo, hi, swaps=False)
    with_swaps, _ = refine(g, labels, lo, hi, swaps=True)
    assert cut(with_swaps) <= cut(without)


def test_pinned_areas_untouched_by_swaps():
    g = _graph(600, 3)
    p = plan(600, B)
    labels = divide_units(
        g.xy,
        g.weight,
        g.u,
        g.v,
        g.cost,
        np.zeros(600, np.int64),
        np.array([p.k]),
        np.array([15]),
        np.array([20]),
        np.random.default_rng(0),
    )[0]
    movable = np.arange(p.k) % 2 == 0
    refined, _ = refine(g, labels, np.full(p.k, 15), np.full(p.k, 20), movable=movable)
    frozen = ~movable[labels]
    assert np.array_equal(refined[frozen], labels[frozen])
    assert not (~movable[refined] & ~frozen).any()


def test_cell_borders_on_a_grid():
    # On a square grid the Voronoi cells are squares: side edges share a full
    # side, diagonals only a corner, hull edges border the outside.
    i = np.arange(25)
    xy = np.c_[i % 5, i // 5].astype(float) * 10 + np.array([440_000.0, 4_230_000.0])
    u, v, border = triangulate(xy)
    length = np.hypot(*(xy[u] - xy[v]).T)
    inner = np.isfinite(border)
    side = np.isclose(length, 10) & inner
    assert np.allclose(border[side], 10)
    assert np.allclose(border[np.isclose(length, np.hypot(10, 10)) & inner], 0, atol=1e-6)
    rel_u, rel_v = xy[u] - xy[0], xy[v] - xy[0]
    on_rim = ((rel_u == rel_v) & ((rel_u == 0) | (rel_u == 40))).any(axis=1)
    assert on_rim.sum() == 16
    assert np.isinf(border[on_rim]).all()


@pytest.mark.parametrize("seed", range(3))
def test_sweep_order_is_the_lexsort_order(seed):
    # The packed-key sort must give exactly lexsort's order, ties included
    # (grids of houses put many nodes at one position along a sweep).
    rng = np.random.default_rng(seed)
    n = 5000
    seg = rng.integers(0, 300, n)
    proj = rng.normal(size=n) * 150
    proj[::3] = np.round(proj[::3])  # exact ties
    proj[::7] = proj[1::7][: len(proj[::7])] if seed else proj[::7]
    assert np.array_equal(_sweep_order(proj, seg), np.lexsort((proj, seg)))
    one = np.zeros(1, np.int64)
    assert np.array_equal(_sweep_order(np.zeros(1), one), [0])
