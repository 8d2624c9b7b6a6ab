"""The rural postman solved exactly: a reduced graph and an integer programme with cuts.

Reduction (Christofides et al. 1981): only the ends of the assigned lanes and
the base matter. They are joined by the assigned lanes themselves and by one
edge per pair whose shortest path passes no other such node (a pair whose
every shortest path does is served by the two shorter edges it passes; a pair
with an assigned lane at most as long is served by a second walk of that
lane). Any covering walk maps onto this graph at no greater length (cut it at
the nodes that matter: every stretch between two of them becomes one edge or a
chain of them), and back again by walking each edge's shortest path, so both
have the same optimum. On a town network with a few assigned lanes the graph
has a few dozen edges instead of a thousand.

Programme (after Ghiani & Laporte 2000): extra copies x_e of each edge make
every degree even (assigned + extra at node v = 2 z_v) at least cost. An
optimal walk never needs a third walk of an edge, and never two extra walks of
an edge whose ends are already joined by assigned lanes (dropping both keeps
parity and connection), so x_e ≤ 1 there and x_e ≤ 2 elsewhere. Connection is
enforced by cuts: a node set holding some of the nodes that matter but not all
is crossed at least twice. Cuts are found first on the linear relaxation (its
support graph's parts, cheap linear programmes) and then on each integer
solution (each of its loops, and each loop merged with its one and two
nearest loops), which is solved again until it is one walk or the time runs
out. The rings of cuts around each piece that the programme on the whole
network needed are single cuts here: no node that matters lies near a piece.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csgraph

from layers.patrol.network import LaneNetwork

#: Sources per Dijkstra batch in the reduction (bounds the memory of a batch).
_BATCH = 256
#: Rounds of cuts on the linear relaxation before the first integer programme
#: (more rounds make the first programme nearer one walk but slower to solve:
#: on grids of 1,000+ lanes it then often finds no solution within 2 s).
_LP_ROUNDS = 2
#: Support thresholds whose parts are tried as cuts on the relaxation.
_THRESHOLDS = (1e-6, 0.25, 0.5, 0.99)
#: Neighbouring parts merged into the extra cuts of each part of an integer solution.
_GROW = 2


@dataclass(frozen=True)
class _WorkGraph:
    """The graph the programme runs on, and how its edges map back to lanes.

    Attributes
    ----------
    nodes : ndarray of int
        Network node of each work node.
    a, b : ndarray of int
        Work-node ends of each work edge.
    cost : ndarray of float
        Length of each work edge (m).
    lane : ndarray of int
        The network edge a work edge is, or −1 for a shortest-path edge.
    required : ndarray of bool
        Work edges that are assigned lanes.
    must : ndarray of bool
        Work nodes the walk must reach (ends of assigned lanes, the base).
    """

    nodes: np.ndarray
    a: np.ndarray
    b: np.ndarray
    cost: np.ndarray
    lane: np.ndarray
    required: np.ndarray
    must: np.ndarray

    def instances(self, network: LaneNetwork, x: np.ndarray) -> np.ndarray:
        """Network edge instances of the walk: assigned lanes plus ``x`` extra copies.

        A shortest-path edge is replaced by the lanes of its shortest path,
        which are together exactly as long (zero-length pieces aside).
        """
        x = np.rint(x).astype(int)
        lanes = self.lane >= 0
        out = [self.lane[self.required], np.repeat(self.lane[lanes], x[lanes])]
        paths = np.flatnonzero(~lanes & (x > 0))
        if len(paths):
            src = np.unique(self.a[paths])
            _, pred = csgraph.dijkstra(
                network.matrix(),
                directed=False,
                indices=self.nodes[src],
                return_predecessors=True,
            )
            row = {int(s): i for i, s in enumerate(src)}
            for p in paths:
                s, t = int(self.nodes[self.a[p]]), int(self.nodes[self.b[p]])
                walk = network.path_nodes(pred[row[int(self.a[p])]], s, t)
                edges = [e for e, _ in network.nodes_to_edges(walk)]
                out.append(np.tile(np.asarray(edges, dtype=int), int(x[p])))
        return np.concatenate(out).astype(int)


def _identity_graph(network: LaneNetwork, mask: np.ndarray, must: np.ndarray) -> _WorkGraph:
    """The network itself as the work graph (when the reduction would not shrink it)."""
    return _WorkGraph(
        nodes=np.arange(network.n_nodes),
        a=network.u.copy(),
        b=network.v.copy(),
        cost=network.length.astype(float),
        lane=np.arange(network.n_edges),
        required=mask.copy(),
        must=must,
    )


def _reduced_graph(network: LaneNetwork, mask: np.ndarray, base: int) -> _WorkGraph:
    """The nodes that matter, joined by assigned lanes and undominated shortest paths.

    Falls back to the network itself when that has fewer edges (a non-assigned
    hub between many nodes that matter can give more shortest paths than lanes).
    """
    n = network.n_nodes
    u, v = network.u, network.v
    key = np.zeros(n, dtype=bool)
    key[u[mask]] = key[v[mask]] = True
    key[base] = True
    nodes = np.flatnonzero(key)
    k = len(nodes)
    idx = np.full(n, -1)
    idx[nodes] = np.arange(k)
    adj = network.matrix()
    # A directed copy where a node that matters only receives arcs and its
    # twin (numbered n + idx) only sends them: distances from the twins are
    # over paths with no node that matters inside.
    arcs = adj.tocoo()
    tail = np.where(key[arcs.row], n + idx[arcs.row], arcs.row)
    split = sparse.csr_matrix((arcs.data, (tail, arcs.col)), shape=(n + k, n + k))
    dist = np.empty((k, k))
    direct = np.empty((k, k))
    for lo in range(0, k, _BATCH):
        rows = np.arange(lo, min(lo + _BATCH, k))
        dist[rows] = csgraph.dijkstra(adj, directed=False, indices=nodes[rows])[:, nodes]
        direct[rows] = csgraph.dijkstra(split, directed=True, indices=n + rows)[:, nodes]
    tol = 1e-9 * (1.0 + dist)
    keep = np.triu(direct <= dist + tol, 1) & np.isfinite(dist)
    req = np.flatnonzero(mask)
    ra, rb = idx[u[req]], idx[v[req]]
    # An assigned lane at most as long as the shortest path serves the pair itself.
    lane_len = np.full((k, k), np.inf)
    np.minimum.at(lane_len, (np.minimum(ra, rb), np.maximum(ra, rb)), network.length[req])
    keep &= ~(lane_len <= dist + tol)
    si, sj = np.nonzero(keep)
    if len(req) + len(si) >= network.n_edges:
        return _identity_graph(network, mask, key)
    return _WorkGraph(
        nodes=nodes,
        a=np.r_[ra, si],
        b=np.r_[rb, sj],
        cost=np.r_[network.length[req], dist[si, sj]],
        lane=np.r_[req, np.full(len(si), -1)],
        required=np.r_[np.ones(len(req), dtype=bool), np.zeros(len(si), dtype=bool)],
        must=np.ones(k, dtype=bool),
    )


@dataclass(frozen=True)
class ExactResult:
    """What the integer programme reached within its time.

    Attributes
    ----------
    instances : ndarray of int or None
        Network edge instances of its last integer solution (a closed walk
        when ``proved``; else possibly several closed walks that still need
        joining), or None when it found none.
    proved : bool
        ``instances`` is a shortest covering walk.
    bound : float
        Proved lower bound on the deadhead (walk length − assigned length).
    """

    instances: np.ndarray | None
    proved: bool
    bound: float


def _exact_rpp(
    network: LaneNetwork, mask: np.ndarray, base: int, time_s: float, *, reduce: bool = True
) -> ExactResult:
    """The shortest closed walk by an integer programme with connection cuts.

    See the module docstring for the reduction and the programme. ``time_s``
    counts this thread's CPU time; HiGHS, which limits wall time, gets what is
    left (the same on a quiet machine; under load it stops earlier).
    ``reduce=False`` runs the same programme on the network itself (a check
    of the reduction).
    """
    start = time.thread_time()
    if reduce:
        g = _reduced_graph(network, mask, base)
    else:
        must = np.zeros(network.n_nodes, dtype=bool)
        must[network.u[mask]] = must[network.v[mask]] = must[base] = True
        g = _identity_graph(network, mask, must)
    k, m = len(g.nodes), len(g.a)
    ra, rb = g.a[g.required], g.b[g.required]
    _, piece = csgraph.connected_components(
        sparse.coo_matrix((np.ones(len(ra)), (ra, rb)), shape=(k, k)), directed=False
    )
    must_pieces = np.unique(piece[g.must])
    # Second walks only where needed (see the module docstring).
    joined = g.must[g.a] & g.must[g.b] & (piece[g.a] == piece[g.b])
    ub_x = np.where(g.required | joined, 1.0, 2.0) * (g.a != g.b)
    inc = sparse.coo_matrix(
        (np.ones(2 * m), (np.r_[g.a, g.b], np.r_[np.arange(m), np.arange(m)])), shape=(k, m)
    ).tocsr()
    req_deg = np.bincount(np.r_[ra, rb], minlength=k).astype(float)
    parity = sparse.hstack([inc, -2 * sparse.identity(k)]).tocsr()
    cost = np.r_[g.cost, np.zeros(k)]
    bounds = Bounds(np.zeros(m + k), np.r_[ub_x, np.full(k, np.inf)])
    cuts: list[np.ndarray] = []
    cut_lo: list[float] = []
    seen: set[bytes] = set()

    def add_cut(inside: np.ndarray, lo: float) -> bool:
        sig = bytes([int(lo)]) + np.packbits(inside).tobytes()
        if sig in seen:
            return False
        seen.add(sig)
        cuts.append(inside[g.a] != inside[g.b])
        cut_lo.append(lo)
        return True

    def constraints() -> LinearConstraint:
        r, c = np.nonzero(np.array(cuts, dtype=bool).reshape(len(cuts), m))
        cut_rows = sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(cuts), m + k))
        a = sparse.vstack([parity, cut_rows]).tocsr()
        lo = np.r_[-req_deg, cut_lo]
        hi = np.r_[-req_deg, np.full(len(cuts), np.inf)]
        return LinearConstraint(a, lo, hi)

    def separate(x: np.ndarray, thresholds: tuple[float, ...], grow: int = 0) -> int:
        """Cuts from the parts of assigned + (x > t) edges that the walk leaves apart.

        With ``grow``, each part also gives the cuts of itself joined with
        its nearest one, two, … parts: the next solution tends to join a
        part to its neighbour and stop there.
        """
        found = 0
        for t in thresholds:
            use = g.required | (x[:m] > t)
            ends = sparse.coo_matrix((np.ones(use.sum()), (g.a[use], g.b[use])), shape=(k, k))
            _, lab = csgraph.connected_components(ends, directed=False)
            parts = np.unique(lab[g.must])
            if len(parts) < 2:
                continue
            for c in parts:
                inside = lab == c
                cross = inside[g.a] != inside[g.b]
                if x[:m][cross].sum() < 2 - 1e-6:
                    found += add_cut(inside, 2.0)
            if grow and len(parts) > 2:
                # Part-to-part distance: the shortest work edge between them.
                pos = np.full(lab.max() + 1, -1)
                pos[parts] = np.arange(len(parts))
                pa, pb = pos[lab[g.a]], pos[lab[g.b]]
                ok = (pa >= 0) & (pb >= 0) & (pa != pb)
                near = np.full((len(parts), len(parts)), np.inf)
                np.minimum.at(near, (pa[ok], pb[ok]), g.cost[ok])
                np.minimum.at(near, (pb[ok], pa[ok]), g.cost[ok])
                for i in range(len(parts)):
                    group = np.zeros(len(parts), dtype=bool)
                    group[i] = True
                    for _ in range(min(grow, len(parts) - 2)):
                        reach = np.where(group, np.inf, near[group].min(axis=0))
                        if not np.isfinite(reach).any():
                            break
                        group[int(np.argmin(reach))] = True
                        found += add_cut(np.isin(lab, parts[group]), 2.0)
        return found

    # Each piece (and the base alone) must be left and re-entered; a node of
    # odd assigned degree needs a second walk of some edge there.
    if len(must_pieces) > 1:
        for c in must_pieces:
            add_cut(piece == c, 2.0)
    for node in np.flatnonzero(req_deg % 2 == 1):
        inside = np.zeros(k, dtype=bool)
        inside[node] = True
        add_cut(inside, 1.0)
    # The linear relaxation, cut until its support joins up: its optimum is
    # a bound, and its cuts spare the integer programme rounds.
    bound = 0.0
    for _ in range(_LP_ROUNDS):
        if time.thread_time() - start > time_s / 4:
            break
        res = milp(cost, constraints=constraints(), bounds=bounds)
        if res.status != 0:
            break
        bound = max(bound, float(res.fun))
        if not separate(res.x, _THRESHOLDS):
            break
    best: np.ndarray | None = None
    while time.thread_time() - start < time_s:
        # HiGHS limits wall time; on a quiet machine that is the CPU time left.
        left = max(time_s - (time.thread_time() - start), 0.05)
        res = milp(
            cost,
            constraints=constraints(),
            integrality=np.ones(m + k),
            bounds=bounds,
            options={"time_limit": left, "mip_rel_gap": 0.0},
        )
        dual = getattr(res, "mip_dual_bound", None)
        if res.status == 0:
            # Optimal within HiGHS's absolute gap (a micrometre).
            bound = max(bound, float(res.fun))
        elif dual is not None and np.isfinite(dual):
            bound = max(bound, float(dual))
        if res.x is None:
            break
        x = np.rint(res.x)
        best = x
        if res.status != 0:
            break
        if not separate(x, (0.5,), grow=_GROW):
            return ExactResult(g.instances(network, x[:m]), True, bound)
    instances = None if best is None else g.instances(network, best[:m])
    return ExactResult(instances, False, bound)
