"""The rural postman: walk only the assigned lanes, the others just to get between them.

NP-hard when the assigned lanes fall into several pieces. :func:`rural_postman`
builds Frederickson's route, solves the exact integer programme of
:mod:`layers.patrol.postman.exact` within a CPU budget, and keeps a proved
lower bound beside the walk (exact when the pieces are one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from layers.patrol.errors import PatrolInputError
from layers.patrol.network import LaneNetwork
from layers.patrol.postman.cover import CoverPart, CoverRoute, _euler_circuit, _matching
from layers.patrol.postman.exact import _exact_rpp


@dataclass(frozen=True)
class RuralRoute(CoverRoute):
    """A closed walk over the assigned lanes, the other lanes used only to connect them.

    Attributes
    ----------
    required : ndarray of bool
        The assigned edges of ``network``.
    lower_bound_m : float
        No closed walk from the base over all assigned edges is shorter.
    """

    required: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    lower_bound_m: float = 0.0

    @property
    def optimal(self) -> bool:
        """Whether the walk is proved shortest (its length meets the lower bound)."""
        return self.length_m <= self.lower_bound_m * (1 + 1e-9) + 1e-6

    @property
    def gap(self) -> float:
        """Length over the lower bound, as a share of the bound (0 when proved optimal)."""
        if self.optimal or self.lower_bound_m <= 0:
            return 0.0
        return self.length_m / self.lower_bound_m - 1


def _mst(w: np.ndarray) -> list[tuple[int, int]]:
    """Edges of a minimum spanning tree of the complete graph with weights ``w`` (Prim)."""
    k = len(w)
    if k < 2:
        return []
    inside = np.zeros(k, dtype=bool)
    inside[0] = True
    best = w[0].copy()
    frm = np.zeros(k, dtype=int)
    out = []
    for _ in range(k - 1):
        cand = np.where(inside, np.inf, best)
        j = int(np.argmin(cand))
        out.append((int(frm[j]), j))
        inside[j] = True
        better = w[j] < best
        best = np.where(better, w[j], best)
        frm = np.where(better, j, frm)
    return out


def _drop_spare_pairs(
    network: LaneNetwork, instances: np.ndarray, required: np.ndarray, base: int
) -> np.ndarray:
    """Remove two copies of an edge whenever the walk stays closed and connected without them.

    Dropping two copies keeps every degree's parity; an edge walked three
    times or more keeps a copy, an unassigned edge walked twice may go
    entirely when the rest still joins up (Frederickson's tree and the
    matching can both route over the same lane).
    """
    count = np.bincount(instances, minlength=network.n_edges)
    count = count - 2 * ((count - 1) // 2).clip(min=0)
    n = network.n_nodes

    def connected(c: np.ndarray) -> bool:
        use = np.flatnonzero(c)
        g = sparse.coo_matrix((np.ones(len(use)), (network.u[use], network.v[use])), shape=(n, n))
        _, lab = csgraph.connected_components(g, directed=False)
        ends = np.r_[network.u[use], network.v[use], base]
        return len(np.unique(lab[ends])) == 1

    for e in np.flatnonzero((count == 2) & ~required)[::-1]:
        count[e] = 0
        if not connected(count):
            count[e] = 2
    return np.repeat(np.arange(network.n_edges), count)


def _free_matrix(network: LaneNetwork, free: np.ndarray) -> sparse.csr_matrix:
    """The network's adjacency with the ``free`` edges costing (almost) nothing."""
    adj = network.matrix().tocoo()
    sel = free & (network.u != network.v)
    a, b = network.u[sel], network.v[sel]
    n = network.n_nodes
    hit = sparse.coo_matrix((np.ones(2 * len(a)), (np.r_[a, b], np.r_[b, a])), shape=(n, n))
    on = np.asarray(hit.tocsr()[adj.row, adj.col]).ravel() > 0
    # scipy drops explicit zeros, so "free" is a nanometre.
    return sparse.csr_matrix((np.where(on, 1e-9, adj.data), (adj.row, adj.col)), shape=(n, n))


def _join(
    network: LaneNetwork,
    instances: np.ndarray,
    base: int,
    metric: sparse.csr_matrix,
) -> tuple[np.ndarray, np.ndarray]:
    """The walk's pieces joined by the paths of a spanning tree over their distances.

    The pieces are the parts of ``instances`` (the base is one of its own when
    no instance touches it); their distances are taken in ``metric``. Lanes
    already in ``instances`` are not added again where a joining path runs
    over them (they are walked anyway). Returns (joined instances, the
    pieces' distance matrix).
    """
    n = network.n_nodes
    walked = np.zeros(network.n_edges, dtype=bool)
    walked[instances] = True
    use = np.flatnonzero(walked)
    adj = sparse.coo_matrix((np.ones(len(use)), (network.u[use], network.v[use])), shape=(n, n))
    _, lab = csgraph.connected_components(adj, directed=False)
    touched = np.zeros(n, dtype=bool)
    touched[network.u[use]] = touched[network.v[use]] = True
    touched[base] = True
    piece_nodes = [np.flatnonzero(touched & (lab == c)) for c in np.unique(lab[touched])]
    k = len(piece_nodes)
    w = np.zeros((k, k))
    trees = []
    for i, nodes_i in enumerate(piece_nodes):
        d, pred, _ = csgraph.dijkstra(
            metric, directed=False, indices=nodes_i, min_only=True, return_predecessors=True
        )
        trees.append((d, pred))
        for j, nodes_j in enumerate(piece_nodes):
            w[i, j] = d[nodes_j].min()
    if k < 2 or not np.isfinite(w).all():
        return instances, w
    join: list[int] = []
    for i, j in _mst(w):
        d, pred = trees[i]
        end = int(piece_nodes[j][np.argmin(d[piece_nodes[j]])])
        inside = set(piece_nodes[i].tolist())
        path = [end]
        while path[-1] not in inside:
            path.append(int(pred[path[-1]]))
        join.extend(e for e, _ in network.nodes_to_edges(path[::-1]))
    join_arr = np.asarray(join, dtype=int)
    return np.r_[instances, join_arr[~walked[join_arr]]], w


def _finish(
    network: LaneNetwork, instances: np.ndarray, required: np.ndarray, base: int
) -> np.ndarray:
    """Make every degree even by a minimum-weight matching, then drop spare pairs."""
    deg = np.bincount(np.r_[network.u[instances], network.v[instances]], minlength=network.n_nodes)
    odd = np.flatnonzero(deg % 2 == 1)
    extra: list[int] = []
    if len(odd):
        dist, pred = network.shortest_paths(odd, predecessors=True)
        for a, b in _matching(dist[:, odd]):
            path = network.path_nodes(pred[a], int(odd[a]), int(odd[b]))
            extra.extend(e for e, _ in network.nodes_to_edges(path))
    inst = np.r_[instances, np.asarray(extra, dtype=int)]
    return _drop_spare_pairs(network, inst, required, base)


def _repair(
    network: LaneNetwork, instances: np.ndarray, required: np.ndarray, base: int
) -> np.ndarray:
    """A closed walk from the programme's unfinished solution (possibly several loops).

    Its loops are joined as Frederickson joins the pieces (a spanning tree in
    the plain metric, and one where its lanes cost nothing: the shorter walk).
    """
    walked = np.zeros(network.n_edges, dtype=bool)
    walked[instances] = True
    options = [
        _finish(network, _join(network, instances, base, metric)[0], required, base)
        for metric in (network.matrix(), _free_matrix(network, walked))
    ]
    return min(options, key=lambda c: float(network.length[c].sum()))


def rural_postman(
    network: LaneNetwork,
    required: np.ndarray,
    base: tuple[float, float] | int | None = None,
    *,
    seed: int | None = None,
    exact_s: float = 2.0,
) -> RuralRoute:
    """A short closed walk from the base over every required edge (rural postman).

    The rural postman problem is NP-hard when the required edges fall into
    several pieces. The walk is first built by Frederickson's construction,
    then, when there are several pieces, solved exactly by an integer
    programme on the reduced graph with connection cuts (see
    :mod:`layers.patrol.postman.exact`) within ``exact_s`` CPU seconds; a
    proved lower bound is kept beside it. Construction:

    1. the pieces of required edges (and the base, when no required edge
       touches it) are joined by a minimum spanning tree over their
       shortest-path distances; the paths of its edges are walked once (two
       trees are tried: plain distances, and distances where assigned lanes
       cost nothing; the shorter finished walk is kept);
    2. the odd nodes of required + joining edges are paired by a minimum-weight
       perfect matching on shortest paths (as for the Chinese postman);
    3. pairs of copies of an edge that the walk can do without (parity and
       connection kept) are dropped, and the Eulerian multigraph is walked by
       Hierholzer's algorithm.

    When the programme runs out of time, its last integer solution (closed
    loops that may not yet join up) is finished the same way (its loops are
    the pieces) and kept when shorter than the construction's walk.

    When the required edges and the base form one piece, step 1 adds nothing
    and the walk is optimal (the matching is an exact minimum T-join). The
    lower bound is the larger of required length + that T-join (any covering
    walk must repair the parity of the required edges' odd nodes) and
    required length + the spanning tree of the pieces in the network where
    required edges cost nothing (a closed walk through all pieces is at least
    a spanning tree of them), raised to the integer programme's proved bound.
    :attr:`RuralRoute.optimal` says when the walk meets it (always after the
    exact programme finishes).

    Parameters
    ----------
    network : LaneNetwork
    required : ndarray
        Boolean mask or indices of the edges to walk (e.g. a grid's lanes).
    base : (x, y) or int, optional
        Base point (placed on the nearest lane) or node; default: a node of
        the first required edge.
    seed : int, optional
        Draw a random Euler circuit of the same length (vary the order by day).
    exact_s : float
        CPU seconds for the exact integer programme (0: construction only).

    Returns
    -------
    RuralRoute
        One part (the walk); ``network`` is the network with the base inserted.

    Raises
    ------
    PatrolInputError
        When no edge is required, or the required edges cannot all be reached
        from the base over the network.
    """
    req = np.asarray(required)
    mask = np.zeros(network.n_edges, dtype=bool)
    if req.dtype == bool:
        if len(req) != network.n_edges:
            raise PatrolInputError(
                "指定街巷与路网不符", "the required mask does not fit the network"
            )
        mask[:] = req
    else:
        mask[req.astype(int)] = True
    if not mask.any():
        raise PatrolInputError("没有指定要走的街巷", "no lanes to walk were given")
    if isinstance(base, tuple):
        network, nodes, _, src = network.insert_points(
            np.array([base[0]]), np.array([base[1]]), return_source=True
        )
        mask = mask[src]
        base_node = int(nodes[0])
    else:
        base_node = int(network.u[np.flatnonzero(mask)[0]]) if base is None else int(base)
    n = network.n_nodes
    req_edges = np.flatnonzero(mask)
    # Frederickson's tree in the plain metric, and one in the metric where the
    # assigned lanes cost nothing (joining through other pieces): the shorter walk.
    plain, w = _join(network, req_edges, base_node, network.matrix())
    if not np.isfinite(w).all():
        raise PatrolInputError(
            "有指定街巷与起点不连通，无法走到",
            "some assigned lanes are not connected to the base by any lane",
        )
    free, w_free = _join(network, req_edges, base_node, _free_matrix(network, mask))
    tree_free = float(sum(w_free[i, j] for i, j in _mst(w_free)))
    candidates = [_finish(network, plain, mask, base_node), _finish(network, free, mask, base_node)]
    exact_deadhead = 0.0
    if len(w) > 1 and exact_s > 0:
        exact = _exact_rpp(network, mask, base_node, exact_s)
        exact_deadhead = exact.bound
        if exact.instances is not None:
            # First, so that it wins a tie with the construction.
            walk = (
                _drop_spare_pairs(network, exact.instances, mask, base_node)
                if exact.proved
                else _repair(network, exact.instances, mask, base_node)
            )
            candidates.insert(0, walk)
    instances = min(candidates, key=lambda c: float(network.length[c].sum()))
    # The T-join bound: the odd nodes of the required edges alone.
    deg_r = np.bincount(np.r_[network.u[req_edges], network.v[req_edges]], minlength=n)
    odd_r = np.flatnonzero(deg_r % 2 == 1)
    tjoin = 0.0
    if len(odd_r):
        dist_r = network.shortest_paths(odd_r)[:, odd_r]
        tjoin = float(sum(dist_r[a, b] for a, b in _matching(dist_r)))
    rng = None if seed is None else np.random.default_rng(seed)
    steps = _euler_circuit(network, instances, base_node, rng)
    length = float(network.length[instances].sum())
    required_m = float(network.length[req_edges].sum())
    part = CoverPart(
        component=0,
        start_node=base_node,
        steps=steps,
        length_m=length,
        required_m=required_m,
        deadhead_m=length - required_m,
        geometry=network.walk_geometry(steps),
    )
    return RuralRoute(
        network=network,
        base_node=base_node,
        parts=[part],
        required=mask,
        lower_bound_m=required_m + max(tjoin, tree_free, exact_deadhead),
    )
