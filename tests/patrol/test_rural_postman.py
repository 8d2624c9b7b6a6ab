"""The rural postman: assigned lanes walked, others only to connect; bound and exactness."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from layers.patrol.errors import PatrolInputError
from layers.patrol.network import LaneNetwork, build_network
from layers.patrol.postman import chinese_postman, rural_postman
from layers.patrol.postman.exact import _exact_rpp, _reduced_graph
from layers.patrol.postman.rural import _finish, _repair
from layers.patrol.synthetic import grid_lanes

METRIC = "EPSG:4548"


def _net(xy, edges) -> LaneNetwork:
    lines = [shapely.LineString([xy[a], xy[b]]) for a, b in edges]
    return build_network(gpd.GeoDataFrame({"key": range(len(lines))}, geometry=lines, crs=METRIC),
                         snap_m=0)  # fmt: skip


def _check_walk(route, base_node):
    net = route.network
    steps = route.parts[0].steps
    at = base_node
    for e, fwd in steps:
        a, b = (int(net.u[e]), int(net.v[e])) if fwd else (int(net.v[e]), int(net.u[e]))
        assert a == at  # a continuous walk
        at = b
    assert at == base_node  # closed, back at the base
    walked = np.zeros(net.n_edges, dtype=bool)
    walked[[e for e, _ in steps]] = True
    assert walked[route.required].all()
    assert route.length_m == pytest.approx(net.length[[e for e, _ in steps]].sum())


def _brute_force(net: LaneNetwork, required: np.ndarray, base: int) -> float:
    """Shortest closed walk over the required edges: every extra multiplicity 0–2 tried."""
    best = np.inf
    m = net.n_edges
    for extra in itertools.product(range(3), repeat=m):
        mult = required.astype(int) + np.array(extra)
        if np.any(mult[required] > 2):
            continue
        use = np.flatnonzero(mult)
        deg = np.bincount(np.r_[np.repeat(net.u, mult), np.repeat(net.v, mult)],
                          minlength=net.n_nodes)  # fmt: skip
        if np.any(deg % 2) or deg[base] == 0:
            continue
        n = net.n_nodes
        g = sparse.coo_matrix((np.ones(len(use)), (net.u[use], net.v[use])), shape=(n, n))
        _, lab = csgraph.connected_components(g, directed=False)
        if len(np.unique(lab[np.r_[net.u[use], net.v[use]]])) != 1:
            continue
        best = min(best, float((mult * net.length).sum()))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_small_instances_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    xy = np.array([[0, 0], [100, 0], [200, 0], [0, 100], [100, 100], [200, 100], [0, 200],
                   [100, 200]], dtype=float) + rng.uniform(-15, 15, (8, 2))  # fmt: skip
    edges = [(0, 1), (1, 2), (0, 3), (1, 4), (2, 5), (3, 4), (4, 5), (3, 6), (4, 7), (6, 7)]
    net = _net(xy, edges)
    required = rng.random(net.n_edges) < 0.4
    required[int(rng.integers(net.n_edges))] = True
    base = int(net.u[np.flatnonzero(required)[0]])
    route = rural_postman(net, required, base)
    _check_walk(route, base)
    opt = _brute_force(net, required, base)
    assert route.lower_bound_m <= opt + 1e-6  # the bound is a bound
    assert route.length_m >= opt - 1e-6
    assert route.optimal  # small: the integer programme finishes
    assert route.length_m == pytest.approx(opt)
    # The construction alone keeps a valid bound too.
    quick = rural_postman(net, required, base, exact_s=0)
    _check_walk(quick, base)
    assert quick.lower_bound_m <= opt + 1e-6 <= quick.length_m + 2e-6


def test_all_lanes_required_is_the_chinese_postman():
    net = build_network(grid_lanes(8, seed=2))
    route = rural_postman(net, np.ones(net.n_edges, dtype=bool), 0)
    cpp = chinese_postman(net, base=0)
    assert route.length_m == pytest.approx(cpp.length_m)
    assert route.optimal


def test_one_connected_piece_is_exact_and_pieces_are_joined():
    net = build_network(grid_lanes(10, seed=4))
    mid = np.hypot(*(shapely.get_coordinates(shapely.centroid(net.geometry)) - 450).T)
    one_piece = mid < 250
    route = rural_postman(net, one_piece, (450.0, 450.0))
    _check_walk(route, route.base_node)
    assert route.optimal  # a connected piece with the base on it: exact
    # Two distant blocks (several pieces): joined, walked, proved optimal.
    small = build_network(grid_lanes(7, seed=4))
    xy = shapely.get_coordinates(shapely.centroid(small.geometry))
    two = (np.hypot(*(xy - 100).T) < 110) | (np.hypot(*(xy - 500).T) < 110)
    route2 = rural_postman(small, two, (300.0, 300.0), seed=3)
    _check_walk(route2, route2.base_node)
    assert route2.deadhead_m > 0
    assert route2.length_m < small.total_length
    assert route2.optimal  # the integer programme finishes on this size
    quick = rural_postman(small, two, (300.0, 300.0), exact_s=0)
    assert route2.length_m <= quick.length_m + 1e-6
    assert quick.lower_bound_m <= route2.length_m + 1e-6


def test_bad_input_is_refused():
    net = build_network(grid_lanes(5, seed=1))
    with pytest.raises(PatrolInputError, match="no lanes"):
        rural_postman(net, np.zeros(net.n_edges, dtype=bool))
    xy = np.array([[0, 0], [100, 0], [500, 0], [600, 0]], dtype=float)
    split = _net(xy, [(0, 1), (2, 3)])
    with pytest.raises(PatrolInputError, match="not connected"):
        rural_postman(split, np.array([True, True]), 0)


def _random_instance(seed: int, n: int = 6, share: float = 0.3):
    """A jittered grid whose lanes are cut in two here and there (nodes that do not matter)."""
    rng = np.random.default_rng(seed)
    net = build_network(grid_lanes(n, seed=seed))
    required = rng.random(net.n_edges) < share
    required[int(rng.integers(net.n_edges))] = True
    base = int(rng.integers(net.n_nodes))
    return net, required, base


def _walk_instances(net, instances, required, base):
    """The instances form one closed walk from the base over every required edge."""
    instances = np.asarray(instances, dtype=int)
    deg = np.bincount(np.r_[net.u[instances], net.v[instances]], minlength=net.n_nodes)
    assert not np.any(deg % 2)
    assert deg[base] > 0
    assert np.isin(np.flatnonzero(required), instances).all()
    n = net.n_nodes
    g = sparse.coo_matrix((np.ones(len(instances)), (net.u[instances], net.v[instances])),
                          shape=(n, n))  # fmt: skip
    _, lab = csgraph.connected_components(g, directed=False)
    assert len(np.unique(lab[np.r_[net.u[instances], net.v[instances], base]])) == 1


@pytest.mark.parametrize("seed", range(8))
def test_reduced_programme_matches_the_programme_on_the_whole_network(seed):
    # The reduction keeps the optimum and maps back to a walk of that length:
    # the same programme on the unreduced network is an independent answer.
    net, required, base = _random_instance(seed)
    reduced = _exact_rpp(net, required, base, 60.0)
    whole = _exact_rpp(net, required, base, 60.0, reduce=False)
    assert reduced.proved
    assert whole.proved
    assert reduced.bound == pytest.approx(whole.bound, abs=1e-4)
    for res in (reduced, whole):
        _walk_instances(net, res.instances, required, base)
        walked = float(net.length[res.instances].sum())
        assert walked == pytest.approx(net.length[required].sum() + res.bound, abs=1e-4)
    route = rural_postman(net, required, base)
    _check_walk(route, base)
    assert route.optimal
    assert route.length_m == pytest.approx(net.length[required].sum() + whole.bound, abs=1e-4)
    assert route.lower_bound_m <= route.length_m + 1e-6


@pytest.mark.parametrize("seed", range(4))
def test_reduced_graph_maps_extra_copies_back_to_lanes(seed):
    # Any choice of extra copies maps to lanes of the same length and the
    # same parity at the nodes that matter (even elsewhere).
    net, required, base = _random_instance(seed, n=7, share=0.2)
    g = _reduced_graph(net, required, base)
    assert g.lane[g.required].tolist() == np.flatnonzero(required).tolist()
    assert (g.lane < 0).any()  # shortest-path edges are there to map
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, len(g.a)) * (g.a != g.b)
    inst = g.instances(net, x)
    assert net.length[inst].sum() == pytest.approx(g.cost[g.required].sum() + g.cost @ x)
    deg_net = np.bincount(np.r_[net.u[inst], net.v[inst]], minlength=net.n_nodes)
    mult = g.required.astype(int) + x
    deg_work = np.bincount(np.r_[np.repeat(g.a, mult), np.repeat(g.b, mult)],
                           minlength=len(g.nodes))  # fmt: skip
    expect = np.zeros(net.n_nodes, dtype=int)
    expect[g.nodes] = deg_work % 2
    assert ((deg_net % 2) == expect).all()


def test_reduction_on_a_hub_falls_back_to_the_network():
    # Assigned spokes around a hub that is no lane's end: every pair of spoke
    # ends has a shortest path through the hub only, more paths than lanes.
    angles = np.linspace(0, 2 * np.pi, 9)[:-1]
    ring = np.c_[np.cos(angles), np.sin(angles)] * 100
    xy = np.vstack([[0.0, 0.0], ring, ring * 1.5])
    edges = [(0, i) for i in range(1, 9)] + [(i, i + 8) for i in range(1, 9)]
    net = _net(xy, edges)
    required = np.zeros(net.n_edges, dtype=bool)
    for i in range(1, 9):  # the outer spokes
        required[net.best_edge(i, i + 8)] = True
    base = net.nearest_node(150.0, 0.0)  # an outer end
    g = _reduced_graph(net, required, base)
    assert len(g.a) == net.n_edges  # the network itself
    route = rural_postman(net, required, base)
    _check_walk(route, route.base_node)
    assert route.optimal
    assert route.length_m == pytest.approx(2 * net.total_length)


def test_unfinished_loops_are_repaired_into_one_walk():
    # Two closed loops far apart, the base between them: the repair joins
    # them into one closed walk, no shorter than the optimum.
    net = build_network(grid_lanes(7, seed=4))
    xy = shapely.get_coordinates(shapely.centroid(net.geometry))
    two = (np.hypot(*(xy - 100).T) < 110) | (np.hypot(*(xy - 500).T) < 110)
    base = net.nearest_node(300.0, 300.0)
    loops = _finish(net, np.flatnonzero(two), two, base)  # parity fixed, not joined
    walk = _repair(net, loops, two, base)
    _walk_instances(net, walk, two, base)
    best = rural_postman(net, two, base)
    assert best.optimal
    assert net.length[walk].sum() >= best.length_m - 1e-6
