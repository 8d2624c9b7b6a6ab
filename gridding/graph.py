"""The household neighbour graph: who lives next to whom.

Edges come from a Delaunay triangulation of the household points (a planar graph
of natural neighbours, about 3 edges per household). Edges between villages are
dropped, because an area never crosses a village boundary. Every other edge is kept
and classified, because the partitioner needs to know which cuts are cheap:

- an edge that crosses a *barrier* (main road, river) is nearly free to cut and is
  "soft": areas join across it only when a village cannot be split otherwise;
- an edge longer than ``max_edge`` (a field between hamlets) is soft as well;
- an edge that crosses a street, or a lane that is not the lane both households
  live on, is cheap to cut (areas may end at a street);
- an edge between two households of the same lane is expensive to cut, so that a
  lane stays with one captain where the bounds allow (居住相邻、易于集中).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, QhullError

# Relative cut costs. Only the ratios matter: cutting one same-lane pair costs as
# much as cutting 16 pairs across a street, so cuts follow streets, not lanes.
COST_BASE = 1.0
COST_SAME_LANE = 1.5
COST_STREET = 0.25
COST_LONG = 0.1
COST_BARRIER = 0.02

#: How far a household may be from a lane line to count as living on it (metres).
LANE_REACH = 40.0


@dataclass
class NeighbourGraph:
    """Household nodes and their classified neighbour edges (metric coordinates).

    Attributes
    ----------
    xy : ndarray (n, 2)
        Node coordinates in metres.
    weight : ndarray (n,)
        Households per node (1 unless a weight column or merged duplicates say more).
    group : ndarray (n,)
        Village index of each node; areas never span two groups.
    u, v : ndarray (m,)
        Edge end points, ``u < v``, only within a group.
    length : ndarray (m,)
        Edge lengths in metres.
    barrier, street, same_lane, long : ndarray (m,) of bool
        Edge classes (see the module docstring).
    cost : ndarray (m,)
        Cost of cutting the edge, i.e. of putting its ends in different areas.
    border : ndarray (m,), optional
        Length (metres) of the Voronoi edge between the two households' cells,
        ``inf`` on the hull: what cutting the edge adds to the areas' perimeters.
    """

    xy: np.ndarray
    weight: np.ndarray
    group: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    barrier: np.ndarray
    street: np.ndarray
    same_lane: np.ndarray
    long: np.ndarray
    cost: np.ndarray
    border: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.xy)

    @property
    def soft(self) -> np.ndarray:
        """Edges that areas should not rely on for contiguity (barrier or long)."""
        return self.barrier | self.long

    def components(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Connected-component label per node, using the edges selected by ``mask``."""
        u, v = (self.u, self.v) if mask is None else (self.u[mask], self.v[mask])
        return component_labels(self.n, u, v)


def component_labels(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes joined by edges ``u``–``v``."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    a = coo_matrix((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n, n))
    _, labels = connected_components(a, directed=False)
    return labels.astype(np.int64)


def delaunay_edges(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique undirected Delaunay edges ``(u, v)`` with ``u < v``.

    Degenerate inputs (fewer than three points, or all on one line) get a path
    along the line, which is what a triangulation would give in the limit.
    """
    u, v, _ = triangulate(xy)
    return u, v


def triangulate(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Delaunay edges ``(u, v)``, ``u < v``, and the length of each one's Voronoi edge.

    The Voronoi edge dual to a Delaunay edge joins the circumcentres of the two
    triangles that share it; it is the border the two households' cells share,
    so cutting the edge adds that much to the areas' perimeters. Hull edges
    (one triangle) and degenerate inputs get ``inf``.
    """
    n = len(xy)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    # Centred coordinates: Qhull is about twice as fast on small numbers.
    p = np.asarray(xy, dtype=float) - np.asarray(xy, dtype=float).mean(axis=0)
    tri = None
    if n >= 3:
        try:
            tri = Delaunay(p)
        except QhullError:
            tri = None  # collinear: handled below
    if tri is None:
        axis = np.linalg.svd(p, full_matrices=False)[2][0]
        order = np.argsort(p @ axis, kind="stable")
        u, v = order[:-1], order[1:]
        lo, hi = np.minimum(u, v).astype(np.int64), np.maximum(u, v).astype(np.int64)
        key = np.unique(lo * n + hi)
        return key // n, key % n, np.full(len(key), np.inf)
    s = tri.simplices
    u = np.concatenate([s[:, 0], s[:, 1], s[:, 2]])
    v = np.concatenate([s[:, 1], s[:, 2], s[:, 0]])
    face = np.tile(np.arange(len(s)), 3)
    lo, hi = np.minimum(u, v).astype(np.int64), np.maximum(u, v).astype(np.int64)
    key = lo * n + hi
    order = np.argsort(key, kind="stable")
    key, face = key[order], face[order]
    head = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    pair = np.diff(np.r_[head, len(key)]) == 2  # shared by two triangles
    centre = _circumcentres(p[s])
    other = face[np.minimum(head + 1, len(key) - 1)]
    with np.errstate(invalid="ignore"):
        border = np.hypot(*(centre[face[head]] - centre[other]).T)
    border = np.where(pair & np.isfinite(border), border, np.inf)
    uniq = key[head]
    return uniq // n, uniq % n, border


def _circumcentres(t: np.ndarray) -> np.ndarray:
    """Circumcentres of triangles ``t`` (k, 3, 2); non-finite for flat ones."""
    a, b, c = t[:, 0], t[:, 1], t[:, 2]
    d = 2 * (a[:, 0] * (b[:, 1] - c[:, 1]) + b[:, 0] * (c[:, 1] - a[:, 1]))
    d += 2 * c[:, 0] * (a[:, 1] - b[:, 1])
    a2, b2, c2 = (a * a).sum(1), (b * b).sum(1), (c * c).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ux = (a2 * (b[:, 1] - c[:, 1]) + b2 * (c[:, 1] - a[:, 1]) + c2 * (a[:, 1] - b[:, 1])) / d
        uy = (a2 * (c[:, 0] - b[:, 0]) + b2 * (a[:, 0] - c[:, 0]) + c2 * (b[:, 0] - a[:, 0])) / d
    return np.c_[ux, uy]


def _crossings(segments: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (segment index, line index) where a segment (LineString) intersects a line."""
    if len(lines) == 0 or len(segments) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    tree = shapely.STRtree(lines)
    s, line = tree.query(segments, predicate="intersects")
    return s.astype(np.int64), line.astype(np.int64)


def nearest_line(xy: np.ndarray, lines: np.ndarray, reach: float = LANE_REACH) -> np.ndarray:
    """Index of the nearest line within ``reach`` metres of each point, else -1."""
    out = np.full(len(xy), -1, dtype=np.int64)
    if len(lines) == 0 or len(xy) == 0:
        return out
    tree = shapely.STRtree(lines)
    p, line = tree.query_nearest(shapely.points(xy), max_distance=reach, all_matches=False)
    out[p] = line
    return out


def build_graph(
    xy: np.ndarray,
    weight: np.ndarray,
    group: np.ndarray,
    *,
    lanes: np.ndarray | None = None,
    streets: np.ndarray | None = None,
    barriers: np.ndarray | None = None,
    lane_of: np.ndarray | None = None,
    max_edge: float = 150.0,
) -> NeighbourGraph:
    """Build the classified neighbour graph of household nodes.

    Parameters
    ----------
    xy : ndarray (n, 2)
        Metric coordinates, no duplicates (merge them first).
    weight : ndarray (n,)
        Households per node.
    group : ndarray (n,)
        Village index per node; edges between groups are dropped.
    lanes, streets, barriers : ndarray of shapely LineStrings, optional
        Lane lines (households live on them), other street lines, and barrier lines
        (main roads, rivers), all in the same metric CRS.
    lane_of : ndarray (n,), optional
        Lane index per node (-1 for none); by default the nearest lane line within
        :data:`LANE_REACH` metres.
    max_edge : float
        Edges longer than this (metres) are soft.

    Returns
    -------
    NeighbourGraph
    """
    xy = np.asarray(xy, dtype=float)
    u, v, border = triangulate(xy)
    keep = group[u] == group[v]
    u, v, border = u[keep], v[keep], border[keep]
    seg = np.stack([xy[u], xy[v]], axis=1)
    length = np.hypot(*(seg[:, 1] - seg[:, 0]).T)
    m = len(u)

    empty = np.zeros(0, dtype=object)
    lanes = empty if lanes is None else np.asarray(lanes, dtype=object)
    streets = empty if streets is None else np.asarray(streets, dtype=object)
    barriers = empty if barriers is None else np.asarray(barriers, dtype=object)
    if lane_of is None:
        lane_of = nearest_line(xy, lanes)

    # The edge segments are built once for the three crossing tests (the slow part).
    segments = shapely.linestrings(seg) if len(barriers) + len(lanes) + len(streets) else seg
    barrier = np.zeros(m, dtype=bool)
    s, _ = _crossings(segments, barriers)
    barrier[s] = True

    # Crossing a lane is fine when it is the lane both households live on (the
    # two sides of one lane belong together); any other lane or street is a
    # natural place for an area to end.
    street = np.zeros(m, dtype=bool)
    s, line = _crossings(segments, lanes)
    own = (lane_of[u[s]] == line) & (lane_of[v[s]] == line)
    street[s[~own]] = True
    s, _ = _crossings(segments, streets)
    street[s] = True

    same_lane = (lane_of[u] >= 0) & (lane_of[u] == lane_of[v]) & ~street
    long = length > max_edge

    cost = np.full(m, COST_BASE)
    cost[same_lane] = COST_SAME_LANE
    cost[street] = COST_STREET
    cost[long] = COST_LONG
    cost[barrier] = COST_BARRIER
    return NeighbourGraph(
        xy=xy,
        weight=np.asarray(weight, dtype=np.int64),
        group=np.asarray(group, dtype=np.int64),
        u=u,
        v=v,
        length=length,
        barrier=barrier,
        street=street,
        same_lane=same_lane,
        long=long,
        cost=cost,
        border=border,
    )
