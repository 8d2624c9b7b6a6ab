"""Cover routes: the exact Chinese postman tour, and the rural postman for assigned lanes.

Walking every lane and returning to the base is the undirected Chinese postman
problem, solvable exactly (Edmonds & Johnson 1973): the nodes of odd degree are
paired by a minimum-weight perfect matching on their shortest-path distances,
the paths of the pairs are walked twice, and the resulting Eulerian multigraph
is walked by Hierholzer's algorithm.

pgRouting's ``pgr_chinesePostman`` is directed-only: on two-way lanes it walks
every lane in both directions (1.67× the optimum here), and it returns nothing
on a disconnected network. Here each connected part gets its own closed walk
and the route says the network is split.

Walking only the assigned lanes (a grid's, say), using the others just to get
between them, is the rural postman problem: NP-hard when the assigned lanes
fall into several pieces. :func:`rural_postman` builds Frederickson's route
and proves a lower bound beside it (exact when the pieces are one).

The matching runs in rustworkx (Edmonds' blossom algorithm in Rust): the same
algorithm as networkx's, about 60× faster. Weights are integers, so distances
are rounded to the micrometre: the tour is optimal to within a micrometre per
odd-node pair.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import rustworkx as rx
import shapely
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csgraph

from layers.patrol.errors import PatrolInputError
from layers.patrol.network import LaneNetwork

#: Distance resolution of the matching (m): weights are integers in this unit.
_RESOLUTION = 1e-6


@dataclass(frozen=True)
class CoverPart:
    """The closed walk over one connected part of the network.

    Attributes
    ----------
    component : int
        Part number (0 = the longest part).
    start_node : int
        Where the walk starts and ends: the base, or the node nearest to it.
    steps : list of (int, bool)
        Edges in walking order with the direction (True = from ``u`` to ``v``).
    length_m, required_m, deadhead_m : float
        Walk length, length of the part's lanes, and the repeated length.
    geometry : shapely.LineString
        The walked line.
    """

    component: int
    start_node: int
    steps: list[tuple[int, bool]]
    length_m: float
    required_m: float
    deadhead_m: float
    geometry: shapely.LineString


@dataclass(frozen=True)
class CoverRoute:
    """A full-cover route: one closed walk per connected part of the network."""

    network: LaneNetwork
    base_node: int
    parts: list[CoverPart]

    @property
    def length_m(self) -> float:
        """Total walk length over all parts."""
        return float(sum(p.length_m for p in self.parts))

    @property
    def deadhead_m(self) -> float:
        """Length walked a second time."""
        return float(sum(p.deadhead_m for p in self.parts))

    @property
    def connected(self) -> bool:
        """Whether the network is one connected part (one walk from the base)."""
        return len(self.parts) <= 1

    @property
    def message(self) -> str | None:
        """Bilingual note when the network is split, else None."""
        if self.connected:
            return None
        n = len(self.parts)
        return (
            f"街巷网络不连通：路线分为 {n} 段，每段单独走完并回到起点 / "
            f"the lane network is disconnected: the route has {n} parts, "
            "each walked as its own closed loop"
        )

    @property
    def geometry(self) -> shapely.MultiLineString:
        """The walked lines, one per part."""
        return shapely.multilinestrings([p.geometry for p in self.parts])

    @property
    def steps(self) -> list[tuple[int, bool]]:
        """All (edge, forward) steps, part after part."""
        return [s for p in self.parts for s in p.steps]


def _matching(dist: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-weight perfect matching of a complete graph given its distance matrix."""
    k = len(dist)
    if k == 0:
        return []
    iu, ju = np.triu_indices(k, 1)
    w = np.rint(dist[iu, ju] / _RESOLUTION).astype(np.int64)
    # Maximum-weight matching of (M − w) with maximum cardinality = minimum total w.
    big = int(w.max()) + 1
    g = rx.PyGraph()
    g.add_nodes_from(range(k))
    g.add_edges_from(list(zip(iu.tolist(), ju.tolist(), (big - w).tolist(), strict=True)))
    pairs = rx.max_weight_matching(g, max_cardinality=True, weight_fn=int)
    if len(pairs) * 2 != k:
        raise RuntimeError("no perfect matching of the odd nodes")
    return sorted((min(a, b), max(a, b)) for a, b in pairs)


def _euler_circuit(
    network: LaneNetwork,
    instances: np.ndarray,
    start: int,
    rng: np.random.Generator | None,
) -> list[tuple[int, bool]]:
    """Hierholzer's algorithm over edge instances (an edge listed twice is walked twice)."""
    u = network.u[instances]
    v = network.v[instances]
    ends = np.r_[u, v]
    inst = np.r_[np.arange(len(instances)), np.arange(len(instances))]
    order = np.argsort(ends, kind="stable")
    bounds = np.searchsorted(ends[order], np.arange(network.n_nodes + 1))
    adj = [inst[order[bounds[n] : bounds[n + 1]]].tolist() for n in range(network.n_nodes)]
    if rng is not None:
        # A random Euler circuit each day: same length, different order.
        for lst in adj:
            rng.shuffle(lst)
    ptr = [0] * network.n_nodes
    used = np.zeros(len(instances), dtype=bool)
    stack: list[tuple[int, int, bool]] = [(start, -1, True)]
    out: list[tuple[int, bool]] = []
    while stack:
        node = stack[-1][0]
        lst = adj[node]
        p = ptr[node]
        while p < len(lst) and used[lst[p]]:
            p += 1
        ptr[node] = p
        if p == len(lst):
            _, i, fwd = stack.pop()
            if i >= 0:
                out.append((int(instances[i]), fwd))
        else:
            i = lst[p]
            used[i] = True
            fwd = bool(u[i] == node)
            stack.append((int(v[i]) if fwd else int(u[i]), i, fwd))
    if not used.all():
        raise RuntimeError("the multigraph is not connected")
    return out[::-1]


def chinese_postman(
    network: LaneNetwork,
    base: tuple[float, float] | int | None = None,
    *,
    seed: int | None = None,
) -> CoverRoute:
    """The shortest closed walk(s) over every edge of ``network``, from the base.

    Parameters
    ----------
    network : LaneNetwork
        The patrol area's lanes (see :func:`~layers.patrol.network.build_network`).
    base : (x, y) or int, optional
        Base point in the network's CRS (placed on the nearest lane, which is
        split there) or a node number; default node 0.
    seed : int, optional
        When given, a random Euler circuit of the same (optimal) length is
        drawn: use the day number for a different order every day.

    Returns
    -------
    CoverRoute
        One :class:`CoverPart` per connected part; parts not holding the base
        start at their node nearest to the base. ``route.message`` says when
        the network is disconnected.
    """
    if isinstance(base, tuple):
        network, nodes, _ = network.insert_points(np.array([base[0]]), np.array([base[1]]))
        base_node = int(nodes[0])
    else:
        base_node = 0 if base is None else int(base)
    n_parts, node_lab, edge_lab = network.components()
    deg = network.degree()
    odd = np.flatnonzero(deg % 2 == 1)
    extra: list[np.ndarray] = []
    if len(odd):
        dist, pred = network.shortest_paths(odd, predecessors=True)
        for c in range(n_parts):
            rows = np.flatnonzero(node_lab[odd] == c)
            if not len(rows):
                continue
            for a, b in _matching(dist[np.ix_(rows, odd[rows])]):
                ra, rb = rows[a], rows[b]
                path = network.path_nodes(pred[ra], int(odd[ra]), int(odd[rb]))
                extra.append(np.array([e for e, _ in network.nodes_to_edges(path)], dtype=int))
    dup = np.concatenate(extra) if extra else np.zeros(0, dtype=int)
    rng = None if seed is None else np.random.default_rng(seed)
    bx, by = network.node_xy[base_node]
    parts = []
    for c in range(n_parts):
        members = np.flatnonzero(edge_lab == c)
        instances = np.r_[members, dup[edge_lab[dup] == c]]
        nodes_c = np.flatnonzero(node_lab == c)
        if node_lab[base_node] == c:
            start = base_node
        else:
            d = np.hypot(network.node_xy[nodes_c, 0] - bx, network.node_xy[nodes_c, 1] - by)
            start = int(nodes_c[np.argmin(d)])
        steps = _euler_circuit(network, instances, start, rng)
        length = float(network.length[instances].sum())
        required = float(network.length[members].sum())
        parts.append(
            CoverPart(
                component=c,
                start_node=start,
                steps=steps,
                length_m=length,
                required_m=required,
                deadhead_m=length - required,
                geometry=network.walk_geometry(steps),
            )
        )
    # The base's part first: that is where the patrol sets off.
    parts.sort(key=lambda p: (node_lab[base_node] != p.component, p.component))
    return CoverRoute(network=network, base_node=base_node, parts=parts)


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
        return self.length_m / self.lower_bound_m - 1 if self.lower_bound_m > 0 else 0.0


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


def _exact_rpp(
    network: LaneNetwork, mask: np.ndarray, base: int, time_s: float
) -> tuple[np.ndarray | None, float]:
    """The shortest closed walk by an integer programme with connection cuts.

    Extra copies x_e (0–1 of an assigned edge, 0–2 of another: an optimal walk
    never needs more) make every degree even (Σ (r_e + x_e) = 2 z_v at every
    node) at least length; while the walked edges fall apart, each part with
    assigned edges (or the base) gets the cut "cross my boundary at least
    twice" (any walk joining it to the rest does) and the programme is solved
    again. Returns (edge instances of the optimal walk, or None when the time
    ran out; the best proved lower bound on the deadhead length).
    """
    n, m = network.n_nodes, network.n_edges
    u, v = network.u, network.v
    loop = u == v
    # Parity rows: node × (x | z).
    inc = sparse.coo_matrix(
        (np.ones(2 * m), (np.r_[u, v], np.r_[np.arange(m), np.arange(m)])), shape=(n, m)
    ).tocsr()
    req_deg = np.bincount(np.r_[u[mask], v[mask]], minlength=n).astype(float)
    rows = [sparse.hstack([inc, -2 * sparse.identity(n)]).tocsr()]
    lo = [-req_deg]
    hi = [-req_deg]
    cost = np.r_[network.length, np.zeros(n)]
    ub = np.r_[np.where(mask, 1, 2) * ~loop, np.full(n, np.inf)]
    must = np.zeros(n, dtype=bool)
    must[u[mask]] = must[v[mask]] = True
    must[base] = True
    # Ring cuts up front: the nodes nearer than r to a piece (r short of the
    # other pieces) form a set any walk must cross at least twice.
    _, lab_r = csgraph.connected_components(
        sparse.coo_matrix((np.ones(mask.sum()), (u[mask], v[mask])), shape=(n, n)),
        directed=False,
    )
    lab_r = np.where(must, lab_r, -1)
    lab_r[base] = -2 if not (mask & ((u == base) | (v == base))).any() else lab_r[base]
    pieces = [np.flatnonzero(lab_r == c) for c in np.unique(lab_r[must])]
    dist = csgraph.dijkstra(network.matrix(), directed=False)
    for nodes in pieces:
        d = dist[nodes].min(axis=0)
        others = must & (d > 0)
        if not others.any():
            continue
        gap = d[others].min()
        for share in (0.0, 0.25, 0.5, 0.75):
            inside = d <= share * gap + 1e-9
            cross = inside[u] != inside[v]
            rows.append(sparse.csr_matrix(np.r_[cross.astype(float), np.zeros(n)][None, :]))
            lo.append(np.array([2.0]))
            hi.append(np.array([np.inf]))
    bound = 0.0
    start = time.thread_time()
    while time.thread_time() - start < time_s:
        left = max(time_s - (time.thread_time() - start), 0.05)
        res = milp(
            cost,
            constraints=LinearConstraint(
                sparse.vstack(rows).tocsr(), np.concatenate(lo), np.concatenate(hi)
            ),
            integrality=np.ones(m + n),
            bounds=Bounds(np.zeros(m + n), ub),
            options={"time_limit": left, "mip_rel_gap": 0.0},
        )
        if res.status != 0:
            return None, bound
        bound = max(bound, float(res.fun))
        x = np.rint(res.x[:m]).astype(int)
        use = np.flatnonzero(mask | (x > 0))
        g = sparse.coo_matrix((np.ones(len(use)), (u[use], v[use])), shape=(n, n))
        _, lab = csgraph.connected_components(g, directed=False)
        parts = np.unique(lab[must])
        if len(parts) == 1:
            return np.r_[np.flatnonzero(mask), np.repeat(np.arange(m), x)], bound
        for c in parts:
            inside = lab == c
            cross = inside[u] != inside[v]
            rows.append(sparse.csr_matrix(np.r_[cross.astype(float), np.zeros(n)][None, :]))
            lo.append(np.array([2.0]))
            hi.append(np.array([np.inf]))
    return None, bound


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
    programme with connection cuts (:func:`_exact_rpp`) if that finishes
    within ``exact_s``; a proved lower bound is kept beside it. Construction:

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

    When the required edges and the base form one piece, step 1 adds nothing
    and the walk is optimal (the matching is an exact minimum T-join). The
    lower bound is the larger of required length + that T-join (any covering
    walk must repair the parity of the required edges' odd nodes) and
    required length + the spanning tree of the pieces in the network where
    required edges cost nothing (a closed walk through all pieces is at least
    a spanning tree of them), raised to the integer programme's best solved
    relaxation. :attr:`RuralRoute.optimal` says when the walk meets it (always
    after the exact programme finishes).

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
    # Pieces of the required edges; the base is a piece of its own when untouched.
    adj = sparse.coo_matrix(
        (np.ones(len(req_edges)), (network.u[req_edges], network.v[req_edges])), shape=(n, n)
    )
    _, lab = csgraph.connected_components(adj, directed=False)
    touched = np.zeros(n, dtype=bool)
    touched[network.u[req_edges]] = True
    touched[network.v[req_edges]] = True
    touched[base_node] = True
    pieces = np.unique(lab[touched])
    piece_nodes = [np.flatnonzero(touched & (lab == c)) for c in pieces]
    k = len(piece_nodes)
    full = network.matrix()
    # Distances between pieces, plain (to join them) and with required edges
    # free (for the lower bound).
    free = full.copy().tolil()
    for e in req_edges:
        a, b = int(network.u[e]), int(network.v[e])
        if a != b:
            free[a, b] = free[b, a] = 1e-9
    free = free.tocsr()
    w = np.zeros((k, k))
    w_free = np.zeros((k, k))
    preds, preds_free = [], []
    for i, nodes_i in enumerate(piece_nodes):
        d, pred, _ = csgraph.dijkstra(
            full, directed=False, indices=nodes_i, min_only=True, return_predecessors=True
        )
        d_free, pred_free, _ = csgraph.dijkstra(
            free, directed=False, indices=nodes_i, min_only=True, return_predecessors=True
        )
        preds.append((d, pred))
        preds_free.append((d_free, pred_free))
        for j, nodes_j in enumerate(piece_nodes):
            w[i, j] = d[nodes_j].min()
            w_free[i, j] = d_free[nodes_j].min()
    if not np.isfinite(w).all():
        raise PatrolInputError(
            "有指定街巷与起点不连通，无法走到",
            "some assigned lanes are not connected to the base by any lane",
        )
    tree_free = float(sum(w_free[i, j] for i, j in _mst(w_free)))

    def joined(weights, trees) -> np.ndarray:
        """Required edges plus the paths of a spanning tree of the pieces."""
        join: list[int] = []
        for i, j in _mst(weights):
            d, pred = trees[i]
            end = int(piece_nodes[j][np.argmin(d[piece_nodes[j]])])
            inside = set(piece_nodes[i].tolist())
            path = [end]
            while path[-1] not in inside:
                path.append(int(pred[path[-1]]))
            join.extend(e for e, _ in network.nodes_to_edges(path[::-1]))
        join_arr = np.asarray(join, dtype=int)
        # Required edges on a joining path are walked anyway (the free metric uses them).
        return np.r_[req_edges, join_arr[~mask[join_arr]]] if len(join_arr) else req_edges

    def finished(base_inst: np.ndarray) -> np.ndarray:
        """Make every degree even by a minimum-weight matching, then drop spare pairs."""
        deg = np.bincount(np.r_[network.u[base_inst], network.v[base_inst]], minlength=n)
        odd = np.flatnonzero(deg % 2 == 1)
        extra: list[int] = []
        if len(odd):
            dist, pred = network.shortest_paths(odd, predecessors=True)
            for a, b in _matching(dist[:, odd]):
                path = network.path_nodes(pred[a], int(odd[a]), int(odd[b]))
                extra.extend(e for e, _ in network.nodes_to_edges(path))
        inst = np.r_[base_inst, np.asarray(extra, dtype=int)]
        return _drop_spare_pairs(network, inst, mask, base_node)

    # Frederickson's tree in the plain metric, and one in the metric where the
    # assigned lanes cost nothing (joining through other pieces): the shorter walk.
    candidates = [finished(joined(w, preds)), finished(joined(w_free, preds_free))]
    instances = min(candidates, key=lambda c: float(network.length[c].sum()))
    exact_deadhead = 0.0
    if k > 1 and exact_s > 0:
        exact, exact_deadhead = _exact_rpp(network, mask, base_node, exact_s)
        if exact is not None:
            instances = exact
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
