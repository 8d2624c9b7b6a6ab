"""The Polsby–Popper polish and the party-group mending."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridding import Gridder
from gridding.compact import cell_measures, polish
from gridding.graph import build_graph
from gridding.hierarchy import AreaGraph, _best_grouping, party_groups
from gridding.metrics import contiguous_areas, polsby_popper
from gridding.partition import Bounds
from gridding.polygons import area_polygons, clip_regions, voronoi_cells
from gridding.refine import refine
from gridding.units import area_bounds, partition_graph

B = Bounds(15, 20)


def _u_village(seed: int):
    """A U-shaped village cut by a river, with a few households of several families.

    The U makes the clip region concave (rim cells are cut by it), the river
    splits the village into units that must not be joined across it, and the
    weights make moves of more than one household.
    """
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 600, (1400, 2))
    hole = (pts[:, 0] > 200) & (pts[:, 0] < 400) & (pts[:, 1] > 200)
    xy = pts[~hole][:700] + np.array([440_000.0, 4_230_000.0])
    n = len(xy)
    weight = np.ones(n, dtype=np.int64)
    weight[rng.choice(n, 25, replace=False)] = 2
    village = shapely.Polygon(
        [(0, 0), (600, 0), (600, 600), (400, 600), (400, 200), (200, 200), (200, 600), (0, 600)]
    )
    village = shapely.affinity.translate(shapely.buffer(village, 10), 440_000, 4_230_000)
    river = shapely.LineString([(440_000 + 100, 4_229_000), (440_000 + 100, 4_231_000)])
    g = build_graph(xy, weight, np.zeros(n, np.int64), barriers=np.array([river], dtype=object))
    return g, np.array([village], dtype=object)


def _solve(g, village_geoms):
    labels, reports = partition_graph(g.xy, g.weight, g.group, g.u, g.v, g.cost, g.soft, B)
    lo, hi = area_bounds(reports)
    refined, _ = refine(g, labels, lo, hi, rounds=2)
    cells = voronoi_cells(g.xy, g.group)
    regions = clip_regions(g.xy, g.group, village_geoms, 40.0)
    return refined, lo, hi, cells, regions


def _mean_pp(g, labels, village_geoms, cells, regions):
    polys = area_polygons(g.xy, labels, g.group, village_geoms, 40.0, cells, regions)
    return float(np.nanmean(polsby_popper(polys.geoms))), polys


@pytest.mark.parametrize("seed", range(3))
def test_cell_measures_add_up_to_the_area_polygons(seed):
    # The whole pass rests on this: an area's polygon has the summed area of its
    # clipped cells and their summed perimeter less twice the inner borders.
    g, vg = _u_village(seed)
    labels, _, _, cells, regions = _solve(g, vg)
    m = cell_measures(g, cells, regions)
    k = int(labels.max()) + 1
    same = labels[g.u] == labels[g.v]
    area = np.bincount(labels, m.area, minlength=k)
    per = np.bincount(labels, m.perimeter, minlength=k)
    per -= 2 * np.bincount(labels[g.u[same]], m.border[same], minlength=k)
    polys = area_polygons(g.xy, labels, g.group, vg, 40.0, cells, regions)
    exact = np.ones(k, dtype=bool)
    exact[polys.fallback] = False
    assert exact.sum() >= k - 1
    assert np.allclose(area[exact], shapely.area(polys.geoms[exact]), rtol=1e-9)
    assert np.allclose(per[exact], shapely.length(polys.geoms[exact]), rtol=1e-9)
    # Rim cells were clipped: the measures are not the raw Voronoi cells.
    assert (m.area < shapely.area(cells) - 1e-6).sum() > 20


@pytest.mark.parametrize("seed", range(3))
def test_polish_keeps_every_guarantee_and_raises_compactness(seed):
    g, vg = _u_village(seed)
    labels, lo, hi, cells, regions = _solve(g, vg)
    before, _ = _mean_pp(g, labels, vg, cells, regions)
    polished, moved = polish(g, labels, lo, hi, cell_measures(g, cells, regions))
    after, _ = _mean_pp(g, polished, vg, cells, regions)
    assert moved > 0
    assert after > before
    k = int(labels.max()) + 1
    # Every household in exactly one of the same areas, each in its bounds.
    assert polished.shape == labels.shape
    assert int(polished.max()) + 1 == k
    size = np.bincount(polished, g.weight, minlength=k)
    assert ((size >= lo) & (size <= hi)).all()
    assert size.sum() == g.weight.sum()
    assert contiguous_areas(g, polished).all()
    # No area gains a pair of neighbours across the river.
    pairs = [g.barrier[lab[g.u] == lab[g.v]].sum() for lab in (labels, polished)]
    assert pairs[1] <= pairs[0]


def test_polish_is_deterministic_and_stops_when_nothing_gains():
    g, vg = _u_village(5)
    labels, lo, hi, cells, regions = _solve(g, vg)
    m = cell_measures(g, cells, regions)
    a, _ = polish(g, labels, lo, hi, m)
    b, _ = polish(g, labels, lo, hi, m)
    assert np.array_equal(a, b)
    # Run to a standstill, a further pass finds no move.
    settled, _ = polish(g, labels, lo, hi, m, rounds=50)
    again, moved = polish(g, settled, lo, hi, m)
    assert moved == 0
    assert np.array_equal(again, settled)


def test_polish_with_bounds_that_leave_no_room_moves_nothing():
    g, vg = _u_village(1)
    labels, _, _, cells, regions = _solve(g, vg)
    size = np.bincount(labels, g.weight)
    polished, moved = polish(g, labels, size, size, cell_measures(g, cells, regions))
    assert moved == 0
    assert np.array_equal(polished, labels)


def test_engine_meets_the_compactness_target(solved):
    s = solved.summary_
    assert s["share_in_bounds"] == 1.0
    assert s["share_contiguous"] == 1.0
    # One village of this town cannot be split without crossing its river.
    assert s["barrier_share"] <= 0.02
    assert s["mean_polsby_popper"] >= 0.62


# The street area of 8 lane areas where bisection left a party group of 1
# (demo generator, 200,000 households): centroids (m) and shared-border weights.
STAR_XY = [
    [-96.3, -22.3],
    [-48.5, -127.2],
    [-18.4, -9.0],
    [39.5, -115.3],
    [62.3, -20.7],
    [-63.6, 80.2],
    [45.3, 77.2],
    [79.8, 137.0],
]
STAR_EDGES = [
    (0, 1, 4.0),
    (0, 2, 9.0),
    (0, 5, 6.0),
    (1, 2, 4.0),
    (1, 3, 11.0),
    (2, 3, 2.0),
    (2, 4, 9.0),
    (2, 5, 6.0),
    (2, 6, 3.0),
    (3, 4, 8.0),
    (4, 6, 7.0),
    (5, 6, 5.0),
    (6, 7, 8.0),
]


def _area_graph(xy, edges):
    u, v, c = (np.array(x) for x in zip(*edges, strict=True))
    return AreaGraph(
        xy=np.asarray(xy, dtype=float),
        group=np.zeros(len(xy), np.int64),
        u=u.astype(np.int64),
        v=v.astype(np.int64),
        cost=c.astype(float),
        soft=np.zeros(len(u), dtype=bool),
    )


def _groups_connected(ag, party):
    for p in np.unique(party):
        members = set(np.flatnonzero(party == p).tolist())
        seen, stack = set(), [min(members)]
        while stack:
            a = stack.pop()
            seen.add(a)
            for x, y in zip(ag.u.tolist(), ag.v.tolist(), strict=True):
                for s, t in ((x, y), (y, x)):
                    if s == a and t in members and t not in seen:
                        stack.append(t)
        if seen != members:
            return False
    return True


def test_no_party_group_of_one_where_pairs_exist():
    ag = _area_graph(STAR_XY, STAR_EDGES)
    streets = np.zeros(8, np.int64)
    party, reports = party_groups(ag, streets, Bounds(2, 3, target=2))
    assert sorted(np.bincount(party).tolist()) == [2, 2, 2, 2]
    assert _groups_connected(ag, party)
    assert all(r.feasible for r in reports)


def test_odd_count_makes_one_group_of_three():
    # Seven lane areas in a row: three pairs would leave one alone.
    xy = [[i * 100.0, 0.0] for i in range(7)]
    ag = _area_graph(xy, [(i, i + 1, 1.0) for i in range(6)])
    party, _ = party_groups(ag, np.zeros(7, np.int64), Bounds(2, 3, target=2))
    assert sorted(np.bincount(party).tolist()) == [2, 2, 3]
    assert _groups_connected(ag, party)


def test_group_of_one_only_where_adjacency_allows_nothing_else():
    # One lane area touching three that touch only it: a group of 1 is forced.
    score, groups = _best_grouping(4, ((0, 1, 1.0), (0, 2, 1.0), (0, 3, 1.0)), 2, 3, 2.0)
    assert score[0] == 1
    assert sorted(len(g) for g in groups) == [1, 3]
    # The mending never makes things worse than bisection did.
    score, groups = _best_grouping(8, tuple(STAR_EDGES), 2, 3, 2.0)
    assert score[0] == 0
    assert sorted(len(g) for g in groups) == [2, 2, 2, 2]


def test_party_groups_in_bounds_on_a_town(solved):
    pg = solved.party_groups_
    assert pg["lane_areas"].between(2, 3).all()
    # Party groups stay inside their street area.
    la = solved.lane_areas_
    assert (la.groupby("party_group_id")["street_area_id"].nunique() == 1).all()


def test_gridder_polygons_flag_does_not_change_the_areas(town):
    def run(polygons):
        return (
            Gridder(
                town.households,
                villages=town.villages,
                barriers=town.barriers,
                id_column="key",
                polygons=polygons,
            )
            .solve()
            .assignments_
        )

    assert run(True).equals(run(False))
