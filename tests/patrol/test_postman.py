"""The exact undirected Chinese postman: optimal length, every edge, closed walk, parts."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from layers.patrol.network import LaneNetwork, build_network
from layers.patrol.postman import chinese_postman
from layers.patrol.synthetic import grid_lanes

METRIC = "EPSG:4548"


def _net_from_edges(xy: np.ndarray, edges: list[tuple[int, int]]) -> LaneNetwork:
    lines = [shapely.LineString([xy[a], xy[b]]) for a, b in edges]
    return build_network(gpd.GeoDataFrame({"key": range(len(lines))}, geometry=lines, crs=METRIC),
                         snap_m=0)  # fmt: skip


def _brute_force_cpp(net: LaneNetwork) -> float:
    """Optimum by trying every pairing of the odd nodes (tiny graphs only)."""
    g = nx.Graph()
    for e in range(net.n_edges):
        a, b = int(net.u[e]), int(net.v[e])
        w = float(net.length[e])
        if not g.has_edge(a, b) or g[a][b]["weight"] > w:
            g.add_edge(a, b, weight=w)
    odd = [int(n) for n in np.flatnonzero(net.degree() % 2)]
    dist = dict(nx.all_pairs_dijkstra_path_length(g))

    def best(nodes):
        if not nodes:
            return 0.0
        a, rest = nodes[0], nodes[1:]
        return min(dist[a][b] + best(rest[:i] + rest[i + 1 :]) for i, b in enumerate(rest))

    return net.total_length + best(odd)


def _check_walk(net: LaneNetwork, part, edges: set[int]):
    cur = part.start_node
    for e, fwd in part.steps:
        a, b = (net.u[e], net.v[e]) if fwd else (net.v[e], net.u[e])
        assert a == cur
        cur = b
    assert cur == part.start_node, "closed walk"
    assert {e for e, _ in part.steps} == edges, "every edge covered"
    assert sum(net.length[e] for e, _ in part.steps) == pytest.approx(part.length_m)


@pytest.mark.parametrize("seed", range(8))
def test_optimal_on_small_random_graphs(seed):
    rng = np.random.default_rng(seed)
    n = 9
    xy = rng.uniform(0, 300, (n, 2))
    pairs = list(itertools.combinations(range(n), 2))
    tree = [(int(rng.integers(0, k)), k) for k in range(1, n)]  # connected
    extra = [pairs[i] for i in rng.choice(len(pairs), size=6, replace=False)]
    edges = list(dict.fromkeys(tree + extra))
    net = _net_from_edges(xy, edges)
    route = chinese_postman(net, base=0)
    assert len(route.parts) == 1
    assert route.connected
    assert route.message is None
    assert route.length_m == pytest.approx(_brute_force_cpp(route.network), abs=1e-4)
    _check_walk(route.network, route.parts[0], set(range(route.network.n_edges)))


def test_matches_networkx_on_a_grid_and_random_circuits_keep_length():
    net = build_network(grid_lanes(8, seed=3))
    route = chinese_postman(net, base=5)
    g = nx.MultiGraph()
    for e in range(net.n_edges):
        g.add_edge(int(net.u[e]), int(net.v[e]), weight=float(net.length[e]))
    odd = [n for n in g if g.degree(n) % 2]
    k = nx.Graph()
    d = {o: nx.single_source_dijkstra_path_length(g, o) for o in odd}
    for a, b in itertools.combinations(odd, 2):
        k.add_edge(a, b, weight=d[a][b])
    opt = net.total_length + sum(d[a][b] for a, b in nx.min_weight_matching(k))
    assert route.length_m == pytest.approx(opt, abs=1e-3)
    assert route.parts[0].start_node == 5
    orders = set()
    for day in range(3):
        r = chinese_postman(net, base=5, seed=day)
        assert r.length_m == pytest.approx(route.length_m)
        _check_walk(net, r.parts[0], set(range(net.n_edges)))
        orders.add(tuple(e for e, _ in r.parts[0].steps))
    assert len(orders) == 3


def test_disconnected_network_covers_each_part_and_says_so():
    a = grid_lanes(4, seed=1)
    b = grid_lanes(3, seed=2, origin=(2000.0, 0.0))
    lanes = gpd.GeoDataFrame(
        {"key": [*a["key"], *(k + "b" for k in b["key"])]},
        geometry=[*a.geometry, *b.geometry],
        crs=METRIC,
    )
    net = build_network(lanes)
    route = chinese_postman(net, base=(10.0, 10.0))
    assert not route.connected
    assert len(route.parts) == 2
    assert "不连通" in route.message
    assert "disconnected" in route.message
    assert route.parts[0].start_node == route.base_node  # the base's part first
    _, _, edge_lab = route.network.components()
    for part in route.parts:
        _check_walk(route.network, part, set(np.flatnonzero(edge_lab == part.component)))
    assert route.geometry.geom_type == "MultiLineString"


def test_base_point_mid_lane_is_the_start():
    lanes = gpd.GeoDataFrame(
        {"key": ["a", "b"]},
        geometry=[
            shapely.LineString([(0, 0), (100, 0)]),
            shapely.LineString([(100, 0), (100, 50)]),
        ],
        crs=METRIC,
    )
    route = chinese_postman(build_network(lanes), base=(40.0, 3.0))
    assert route.length_m == pytest.approx(300.0)  # a path: every lane twice
    start = route.network.node_xy[route.parts[0].start_node]
    assert np.allclose(start, [40.0, 0.0])
    coords = shapely.get_coordinates(route.parts[0].geometry)
    assert np.allclose(coords[0], coords[-1])
