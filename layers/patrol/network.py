"""The walkable lane network: streets and lanes snapped, split at junctions, in metres.

Lanes in the data leave a street at a point inside the street's line (a
T-junction), main streets cross each other (an X-junction), and drawn lines
often stop a little short of the line they should meet. :func:`build_network`
snaps such ends (within ``snap_m``), splits every line wherever another one
touches or crosses it, and merges coinciding ends into nodes. The result is an
undirected multigraph with one edge per piece of street or lane between two
junctions; edge geometries run from node ``u`` to node ``v``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from layers.patrol.errors import PatrolInputError

#: Ends closer than this (m) after snapping and splitting are one node.
_NODE_TOL = 0.01


@dataclass(frozen=True)
class LaneNetwork:
    """An undirected multigraph of lane pieces in a metric CRS.

    Attributes
    ----------
    node_xy : ndarray, shape ``(n, 2)``
        Node coordinates (m).
    u, v : ndarray of int, shape ``(m,)``
        End nodes of each edge; the geometry runs from ``u`` to ``v``.
    length : ndarray of float
        Edge length in metres.
    geometry : ndarray of LineString
    kind : ndarray of str
        'street' or 'lane' (the layer the piece came from).
    key : ndarray of object
        Key of the source street or lane (e.g. ``130999100201-L001``).
    crs : object
        The metric CRS of the coordinates.
    """

    node_xy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    geometry: np.ndarray
    kind: np.ndarray
    key: np.ndarray
    crs: object = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_xy)

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return len(self.u)

    @property
    def total_length(self) -> float:
        """Sum of edge lengths (m)."""
        return float(self.length.sum())

    def degree(self) -> np.ndarray:
        """Degree of each node (a self-loop counts twice)."""
        return np.bincount(np.r_[self.u, self.v], minlength=self.n_nodes)

    def edges_gdf(self) -> gpd.GeoDataFrame:
        """Edges as a GeoDataFrame (``edge``, ``u``, ``v``, ``length_m``, ``kind``, ``key``)."""
        return gpd.GeoDataFrame(
            {
                "edge": np.arange(self.n_edges),
                "u": self.u,
                "v": self.v,
                "length_m": self.length,
                "kind": self.kind,
                "key": self.key,
            },
            geometry=self.geometry,
            crs=self.crs,
        )

    def components(self) -> tuple[int, np.ndarray, np.ndarray]:
        """Connected parts: (count of parts with an edge, node label, edge label).

        Nodes without edges get label −1; parts are numbered by decreasing length.
        """
        if "components" not in self._cache:
            n = self.n_nodes
            adj = sparse.coo_matrix((np.ones(self.n_edges), (self.u, self.v)), shape=(n, n)).tocsr()
            _, lab = csgraph.connected_components(adj, directed=False)
            edge_lab = lab[self.u]
            used = np.unique(edge_lab)
            lengths = np.array([self.length[edge_lab == c].sum() for c in used])
            order = used[np.argsort(-lengths, kind="stable")]
            remap = np.full(lab.max() + 1, -1)
            remap[order] = np.arange(len(order))
            node_lab = remap[lab]
            self._cache["components"] = (len(order), node_lab, node_lab[self.u])
        return self._cache["components"]

    def matrix(self) -> sparse.csr_matrix:
        """Symmetric sparse adjacency with the shortest parallel edge's length."""
        if "matrix" not in self._cache:
            self._index_pairs()
        return self._cache["matrix"]

    def _index_pairs(self) -> None:
        a = np.minimum(self.u, self.v)
        b = np.maximum(self.u, self.v)
        keep = a != b
        ids = np.flatnonzero(keep)
        order = np.lexsort((self.length[ids], b[ids], a[ids]))
        ids = ids[order]
        first = np.r_[True, (a[ids][1:] != a[ids][:-1]) | (b[ids][1:] != b[ids][:-1])]
        best = ids[first]
        # Zero-length pieces must stay edges: scipy drops explicit zeros.
        w = np.maximum(self.length[best], 1e-9)
        n = self.n_nodes
        m = sparse.coo_matrix(
            (np.r_[w, w], (np.r_[a[best], b[best]], np.r_[b[best], a[best]])), shape=(n, n)
        ).tocsr()
        self._cache["matrix"] = m
        self._cache["best"] = {
            (int(x), int(y)): int(e) for x, y, e in zip(a[best], b[best], best, strict=True)
        }

    def best_edge(self, a: int, b: int) -> int:
        """The shortest edge joining nodes ``a`` and ``b``."""
        if "best" not in self._cache:
            self._index_pairs()
        return self._cache["best"][(min(a, b), max(a, b))]

    def shortest_paths(
        self, sources: np.ndarray, *, predecessors: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Network distances (m) from each source node to every node (Dijkstra)."""
        return csgraph.dijkstra(
            self.matrix(),
            directed=False,
            indices=np.asarray(sources, dtype=np.int64),
            return_predecessors=predecessors,
        )

    def path_nodes(self, pred_row: np.ndarray, source: int, target: int) -> list[int]:
        """Nodes of the shortest path from ``source`` to ``target`` (a predecessor row)."""
        path = [int(target)]
        while path[-1] != source:
            p = int(pred_row[path[-1]])
            if p < 0:
                raise ValueError(f"node {target} is not reachable from {source}")
            path.append(p)
        return path[::-1]

    def nodes_to_edges(self, nodes: Sequence[int]) -> list[tuple[int, bool]]:
        """(edge, forward) steps of a node path, taking the shortest parallel edge."""
        steps = []
        for a, b in pairwise(nodes):
            e = self.best_edge(a, b)
            steps.append((e, int(self.u[e]) == a))
        return steps

    def walk_geometry(self, steps: Sequence[tuple[int, bool]]) -> shapely.LineString:
        """The line walked along ``steps`` of (edge, forward)."""
        parts = []
        for e, fwd in steps:
            xy = shapely.get_coordinates(self.geometry[e])
            parts.append(xy if fwd else xy[::-1])
        if not parts:
            return shapely.LineString()
        xy = np.vstack([parts[0], *[p[1:] for p in parts[1:]]])
        return shapely.LineString(xy)

    def nearest_node(self, x: float, y: float) -> int:
        """The node closest to (x, y)."""
        return int(np.argmin(np.hypot(self.node_xy[:, 0] - x, self.node_xy[:, 1] - y)))

    def subnetwork(self, edges: np.ndarray) -> LaneNetwork:
        """The network of the selected edges (boolean mask or indices), nodes renumbered."""
        sel = np.asarray(edges)
        sel = np.flatnonzero(sel) if sel.dtype == bool else sel
        used, inv = np.unique(np.r_[self.u[sel], self.v[sel]], return_inverse=True)
        k = len(sel)
        return LaneNetwork(
            self.node_xy[used],
            inv[:k],
            inv[k:],
            self.length[sel],
            self.geometry[sel],
            self.kind[sel],
            self.key[sel],
            self.crs,
        )

    def insert_points(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        node_within_m: float = 1.0,
        return_source: bool = False,
    ) -> tuple:
        """Place points on the network, splitting the edge under each point.

        Parameters
        ----------
        x, y : ndarray
            Points (patrol base, hotspot stops, checkpoints) in the network's CRS.
        node_within_m : float
            A point whose foot is this close to an edge's end uses that node.

        Returns
        -------
        network : LaneNetwork
            The network with the split edges (pieces keep kind and key).
        nodes : ndarray of int
            Node of each point.
        offset_m : ndarray
            Distance from each point to the network (how far off a lane it is).
        source : ndarray of int
            Only with ``return_source``: the edge of ``self`` each new edge is
            (a piece of).
        """
        x = np.atleast_1d(np.asarray(x, dtype=float))
        y = np.atleast_1d(np.asarray(y, dtype=float))
        if self.n_edges == 0:
            raise PatrolInputError("巡逻区域内没有街巷", "the patrol area has no lanes")
        pts = shapely.points(x, y)
        tree = shapely.STRtree(self.geometry)
        idx, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        edge = np.empty(len(pts), dtype=np.int64)
        edge[idx[0]] = idx[1]
        offset = np.empty(len(pts))
        offset[idx[0]] = dist
        along = shapely.line_locate_point(self.geometry[edge], pts)
        node_xy = [self.node_xy]
        n_next = self.n_nodes
        nodes = np.empty(len(pts), dtype=np.int64)
        new_u, new_v, new_geom, new_len, new_src = [], [], [], [], []
        split = np.zeros(self.n_edges, dtype=bool)
        for e in np.unique(edge):
            members = np.flatnonzero(edge == e)
            length = self.length[e]
            cuts: list[float] = []
            cut_node: list[int] = []
            for i in members[np.argsort(along[members], kind="stable")]:
                d = along[i]
                if d <= node_within_m:
                    nodes[i] = self.u[e]
                elif d >= length - node_within_m:
                    nodes[i] = self.v[e]
                elif cuts and d - cuts[-1] <= node_within_m:
                    nodes[i] = cut_node[-1]
                else:
                    cuts.append(float(d))
                    cut_node.append(n_next)
                    nodes[i] = n_next
                    node_xy.append(np.zeros((1, 2)))  # set from the piece's end below
                    n_next += 1
            if not cuts:
                continue
            split[e] = True
            pieces = _split_coords(shapely.get_coordinates(self.geometry[e]), cuts)
            ends = [int(self.u[e]), *cut_node, int(self.v[e])]
            for k, piece in enumerate(pieces):
                if k < len(cut_node):
                    node_xy[-len(cut_node) + k] = piece[-1:].copy()
                new_u.append(ends[k])
                new_v.append(ends[k + 1])
                new_geom.append(shapely.LineString(piece))
                new_len.append(_length(piece))
                new_src.append(e)
        if not split.any():
            if return_source:
                return self, nodes, offset, np.arange(self.n_edges)
            return self, nodes, offset
        keep = np.flatnonzero(~split)
        src = np.asarray(new_src, dtype=np.int64)
        net = LaneNetwork(
            np.vstack(node_xy),
            np.r_[self.u[keep], new_u].astype(np.int64),
            np.r_[self.v[keep], new_v].astype(np.int64),
            np.r_[self.length[keep], new_len],
            np.r_[self.geometry[keep], np.asarray(new_geom, dtype=object)],
            np.r_[self.kind[keep], self.kind[src]],
            np.r_[self.key[keep], self.key[src]],
            self.crs,
        )
        if return_source:
            return net, nodes, offset, np.r_[keep, src]
        return net, nodes, offset

    def with_crs(self, crs: object) -> LaneNetwork:
        """The same network labelled with ``crs`` (no reprojection)."""
        return replace(self, crs=crs, _cache={})


def _length(xy: np.ndarray) -> float:
    return float(np.hypot(*np.diff(xy, axis=0).T).sum())


def _split_coords(xy: np.ndarray, cuts: Sequence[float]) -> list[np.ndarray]:
    """Pieces of a polyline cut at increasing distances along it."""
    seg = np.hypot(*np.diff(xy, axis=0).T)
    cum = np.r_[0.0, np.cumsum(seg)]
    pieces = []
    start = 0.0
    for d in [*cuts, cum[-1]]:
        inner = (cum > start) & (cum < d)
        a = np.array([np.interp(start, cum, xy[:, 0]), np.interp(start, cum, xy[:, 1])])
        b = np.array([np.interp(d, cum, xy[:, 0]), np.interp(d, cum, xy[:, 1])])
        pieces.append(np.vstack([a, xy[inner], b]))
        start = d
    return pieces


def _lines(gdf: gpd.GeoDataFrame, kind: str, key_column: str):
    geoms = np.asarray(gdf.geometry.values)
    keys = (
        np.asarray(gdf[key_column].values, dtype=object)
        if key_column in gdf.columns
        else np.asarray([f"{kind}-{i}" for i in range(len(gdf))], dtype=object)
    )
    parts, idx = shapely.get_parts(geoms, return_index=True)
    ok = (shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING) & ~shapely.is_empty(parts)
    return parts[ok], keys[idx[ok]], np.full(ok.sum(), kind, dtype=object)


def build_network(
    lanes: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame | None = None,
    *,
    area: shapely.Geometry | None = None,
    snap_m: float = 1.0,
    key_column: str = "key",
) -> LaneNetwork:
    """Build the lane network from the lanes and streets layers.

    Parameters
    ----------
    lanes : geopandas.GeoDataFrame
        Lane centre lines (LineString or MultiLineString) in a metric CRS.
    streets : geopandas.GeoDataFrame, optional
        Street centre lines, same CRS.
    area : shapely geometry, optional
        Patrol area: lines are clipped to it.
    snap_m : float
        A line end this close to another line is moved onto it (drawing slack).
    key_column : str
        Column naming each line, carried to its pieces.

    Returns
    -------
    LaneNetwork

    Raises
    ------
    PatrolInputError
        If the layers are in a geographic CRS or hold no lines.
    """
    layers = [(lanes, "lane")] + ([(streets, "street")] if streets is not None else [])
    crs = lanes.crs
    for gdf, _ in layers:
        if gdf.crs is not None and CRS.from_user_input(gdf.crs).is_geographic:
            raise PatrolInputError(
                "街巷图层须为米制坐标系（如 EPSG:4548）",
                "lanes and streets must be in a metric CRS (e.g. EPSG:4548)",
            )
        if gdf.crs != crs:
            raise PatrolInputError("街巷图层坐标系不一致", "lanes and streets differ in CRS")
    got = [_lines(gdf, kind, key_column) for gdf, kind in layers]
    geoms = np.concatenate([g[0] for g in got])
    keys = np.concatenate([g[1] for g in got])
    kinds = np.concatenate([g[2] for g in got])
    if area is not None:
        geoms = shapely.intersection(geoms, area)
        parts, idx = shapely.get_parts(geoms, return_index=True)
        ok = shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING
        geoms, keys, kinds = parts[ok], keys[idx[ok]], kinds[idx[ok]]
    geoms = shapely.line_merge(geoms) if len(geoms) else geoms
    keep = (shapely.get_type_id(geoms) == shapely.GeometryType.LINESTRING) & (
        shapely.length(geoms) > 0
    )
    geoms, keys, kinds = geoms[keep], keys[keep], kinds[keep]
    if len(geoms) == 0:
        raise PatrolInputError("巡逻区域内没有街巷", "the patrol area has no lanes")
    geoms = _snap_ends(geoms, snap_m)
    cuts = _cut_points(geoms)
    piece_xy, piece_key, piece_kind = [], [], []
    for i, g in enumerate(geoms):
        xy = shapely.get_coordinates(g)
        total = _length(xy)
        d = np.unique(np.round(np.asarray(cuts[i], dtype=float), 6))
        d = d[(d > _NODE_TOL) & (d < total - _NODE_TOL)]
        if len(d) > 1:  # cuts closer than the node tolerance are one junction
            d = d[np.r_[True, np.diff(d) > _NODE_TOL]]
        for piece in _split_coords(xy, d.tolist()):
            if _length(piece) > 1e-6:
                piece_xy.append(piece)
                piece_key.append(keys[i])
                piece_kind.append(kinds[i])
    ends = np.array([[p[0], p[-1]] for p in piece_xy]).reshape(-1, 2)
    node_of_end, node_xy = _merge_points(ends, _NODE_TOL)
    u, v = node_of_end[0::2], node_of_end[1::2]
    for k, p in enumerate(piece_xy):
        # Ends take the node's exact coordinate, so walked lines join seamlessly.
        p[0] = node_xy[u[k]]
        p[-1] = node_xy[v[k]]
    return LaneNetwork(
        node_xy,
        u.astype(np.int64),
        v.astype(np.int64),
        np.array([_length(p) for p in piece_xy]),
        np.asarray(shapely.linestrings(piece_xy) if piece_xy else [], dtype=object),
        np.asarray(piece_kind, dtype=object),
        np.asarray(piece_key, dtype=object),
        crs,
    )


def _merge_points(xy: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Cluster points closer than ``tol`` (transitively): label per point, cluster coords."""
    pairs = cKDTree(xy).query_pairs(tol, output_type="ndarray")
    n = len(xy)
    g = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, lab = csgraph.connected_components(g, directed=False)
    first = np.full(lab.max() + 1, -1)
    first[lab[::-1]] = np.arange(n)[::-1]
    return lab, xy[first]


def _snap_ends(geoms: np.ndarray, snap_m: float) -> np.ndarray:
    """Move each line end within ``snap_m`` of another line onto that line."""
    if snap_m <= 0:
        return geoms
    geoms = geoms.copy()
    tree = shapely.STRtree(geoms)
    for end in (0, -1):
        xy = np.array([shapely.get_coordinates(g)[end] for g in geoms])
        pts = shapely.points(xy)
        qi, qj = tree.query(pts, predicate="dwithin", distance=snap_m)
        other = qi != qj
        qi, qj = qi[other], qj[other]
        if not len(qi):
            continue
        d = shapely.distance(pts[qi], geoms[qj])
        order = np.lexsort((d, qi))
        first = np.r_[True, qi[order][1:] != qi[order][:-1]]
        for i, j, dd in zip(qi[order][first], qj[order][first], d[order][first], strict=True):
            if dd <= 1e-9:
                continue
            foot = shapely.line_interpolate_point(
                geoms[j], shapely.line_locate_point(geoms[j], pts[i])
            )
            coords = shapely.get_coordinates(geoms[i])
            coords[end] = shapely.get_coordinates(foot)[0]
            geoms[i] = shapely.LineString(coords)
    return geoms


def _cut_points(geoms: np.ndarray) -> list[list[float]]:
    """Distances along each line where another line touches or crosses it."""
    cuts: list[list[float]] = [[] for _ in geoms]
    tree = shapely.STRtree(geoms)
    qi, qj = tree.query(geoms, predicate="dwithin", distance=_NODE_TOL)
    sel = qi < qj
    qi, qj = qi[sel], qj[sel]
    if not len(qi):
        return cuts
    inter = shapely.intersection(geoms[qi], geoms[qj])
    for i, j, x in zip(qi, qj, inter, strict=True):
        pts = [shapely.get_coordinates(shapely.boundary(p)) if p.geom_type == "LineString"
               else shapely.get_coordinates(p) for p in shapely.get_parts(x)]  # fmt: skip
        # Ends that stop a hair off the other line (float noise) still make a junction.
        for a, b in ((i, j), (j, i)):
            for end in (0, -1):
                e = shapely.get_coordinates(geoms[a])[end]
                if shapely.distance(shapely.Point(e), geoms[b]) <= _NODE_TOL:
                    pts.append(e[None, :])
        if not pts:
            continue
        p = shapely.points(np.vstack(pts))
        cuts[i].extend(shapely.line_locate_point(geoms[i], p).tolist())
        cuts[j].extend(shapely.line_locate_point(geoms[j], p).tolist())
    return cuts
