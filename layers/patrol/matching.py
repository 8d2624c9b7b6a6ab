"""Map matching of sparse GPS fixes to the lane network (hidden Markov model, Viterbi).

With a fix every 15 s a walker covers 15–20 m between fixes: straight lines
between noisy fixes cut corners, miss short dead ends and stray onto the
parallel lane 35–45 m away. Matching follows Newson & Krumm (2009): each fix's
candidates are its projections on the lanes within ``radius_m``; a candidate is
as likely as its distance allows (Gaussian, σ = the GPS noise), and a move
between consecutive candidates as likely as its walking distance over the
network agrees with the straight distance between the fixes (exponential,
scale β). The most likely sequence (Viterbi) is then walked along the network
between consecutive matches, which gives the stretch of every lane walked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import csgraph

from layers.patrol.network import LaneNetwork

#: Candidates farther than this from a fix are not considered (m).
RADIUS_M = 40.0
#: Candidates kept per fix (nearest first).
MAX_CANDIDATES = 6
#: Network walk minus straight line between consecutive fixes beyond which a move is ruled out (m).
MAX_DETOUR_M = 60.0
#: Fixes skipped in a row as outliers before the match starts over.
MAX_SKIP = 3


@dataclass(frozen=True)
class Matched:
    """A matched walk.

    Attributes
    ----------
    covered_m : ndarray
        Length of each network edge walked (the union of the walked stretches).
    edge, along : ndarray
        Matched edge and position along it (m) of each fix (−1 / NaN: unmatched).
    """

    covered_m: np.ndarray
    edge: np.ndarray
    along: np.ndarray


def _union_length(iv: list[tuple[float, float]]) -> float:
    iv.sort()
    total, lo, hi = 0.0, iv[0][0], iv[0][1]
    for a, b in iv[1:]:
        if a > hi:
            total += hi - lo
            lo, hi = a, b
        else:
            hi = max(hi, b)
    return total + hi - lo


def match_track(
    network: LaneNetwork,
    xy: np.ndarray,
    *,
    sigma_m: float = 10.0,
    beta_m: float = 10.0,
    radius_m: float = RADIUS_M,
    max_detour_m: float = MAX_DETOUR_M,
) -> Matched:
    """Match fixes (metric, in time order, outliers removed) to ``network``.

    Parameters
    ----------
    network : LaneNetwork
    xy : ndarray, shape ``(n, 2)``
    sigma_m : float
        GPS noise (m).
    beta_m : float
        Scale of the disagreement between network and straight distance (m).
    radius_m : float
        Search radius for candidates (m).
    max_detour_m : float
        Largest disagreement between the network walk and the straight line
        between two fixes that is still a move (m); fixes that only fit worse
        are outliers and skipped (up to :data:`MAX_SKIP` in a row).

    Returns
    -------
    Matched
    """
    n_e = network.n_edges
    covered = np.zeros(n_e)
    n = len(xy)
    edge_of = np.full(n, -1)
    along_of = np.full(n, np.nan)
    if n == 0 or n_e == 0:
        return Matched(covered, edge_of, along_of)
    if "apsp" not in network._cache:
        network._cache["apsp"] = csgraph.dijkstra(
            network.matrix(), directed=False, return_predecessors=True
        )
        network._cache["tree"] = shapely.STRtree(network.geometry)
    dist, pred = network._cache["apsp"]
    tree = network._cache["tree"]
    pts = shapely.points(xy)
    qi, qe = tree.query(pts, predicate="dwithin", distance=radius_m)
    d = shapely.distance(pts[qi], network.geometry[qe])
    order = np.lexsort((d, qi))
    qi, qe, d = qi[order], qe[order], d[order]
    rank = np.arange(len(qi)) - np.searchsorted(qi, qi)
    keep = rank < MAX_CANDIDATES
    qi, qe, d = qi[keep], qe[keep], d[keep]
    pos = shapely.line_locate_point(network.geometry[qe], pts[qi])
    rank = rank[keep]
    length = network.length
    u, v = network.u, network.v
    # Candidates padded to K per fix (slot k of fix f); missing ones score −inf.
    k_max = MAX_CANDIDATES
    ce = np.zeros((n, k_max), dtype=np.int64)
    ca = np.zeros((n, k_max))
    emis = np.full((n, k_max), -np.inf)
    ce[qi, rank] = qe
    ca[qi, rank] = pos
    emis[qi, rank] = -0.5 * (d / sigma_m) ** 2
    has = np.isfinite(emis).any(axis=1)

    def route(e1, a1, e2, a2):
        """Network walking distances between candidate slots: (..., K) × (..., K) → (..., K, K)."""
        e1, a1 = e1[..., :, None], a1[..., :, None]
        e2, a2 = e2[..., None, :], a2[..., None, :]
        to_v1, to_v2 = length[e1] - a1, length[e2] - a2
        best = np.minimum(
            np.minimum(a1 + dist[u[e1], u[e2]] + a2, a1 + dist[u[e1], v[e2]] + to_v2),
            np.minimum(to_v1 + dist[v[e1], u[e2]] + a2, to_v1 + dist[v[e1], v[e2]] + to_v2),
        )
        return np.where(e1 == e2, np.abs(a1 - a2), best)

    def transition(f0: np.ndarray, f1: np.ndarray) -> np.ndarray:
        r = route(ce[f0], ca[f0], ce[f1], ca[f1])
        straight = np.hypot(*(xy[f1] - xy[f0]).T)
        gap = np.abs(r - np.asarray(straight)[..., None, None])
        # A walk that disagrees this much with the fixes is no walk: the fix is
        # an outlier (skipped), or after a few such fixes the match starts over.
        return np.where(gap <= max_detour_m, -gap / beta_m, -np.inf)

    # Moves between consecutive fixes, all at once; skips are computed as met.
    steps = transition(np.arange(n - 1), np.arange(1, n)) if n > 1 else np.zeros((0,))
    chains: list[list[tuple[int, int]]] = []  # per chain: (fix, slot)
    score = None
    back: list[np.ndarray] = []
    fixes: list[int] = []
    prev = None
    skipped = 0
    cols = np.arange(k_max)

    def close():
        if score is None or not fixes:
            return
        k = int(np.argmax(score))
        seq = [k]
        for b in back[::-1]:
            k = int(b[k])
            seq.append(k)
        chains.append(list(zip(fixes, seq[::-1], strict=True)))

    for f in range(n):
        if not has[f]:
            close()
            score, back, fixes, prev = None, [], [], None
            continue
        if prev is None:
            score = emis[f].copy()
            back, fixes, prev = [], [f], f
            continue
        trans = steps[f - 1] if prev == f - 1 else transition(np.array(prev), np.array(f))
        total = score[:, None] + trans
        arg = np.argmax(total, axis=0)
        new = total[arg, cols] + emis[f]
        if not np.isfinite(new).any():
            skipped += 1
            if skipped <= MAX_SKIP:
                continue
            close()
            score = emis[f].copy()
            back, fixes, prev, skipped = [], [f], f, 0
            continue
        score, prev, skipped = new, f, 0
        back.append(arg)
        fixes.append(f)
    close()

    pieces: dict[int, list[tuple[float, float]]] = {}

    def add(e: int, a: float, b: float) -> None:
        pieces.setdefault(int(e), []).append((min(a, b), max(a, b)))

    for chain in chains:
        for (f, c), (f2, c2) in zip(chain, [*chain[1:], (None, None)], strict=True):
            edge_of[f], along_of[f] = ce[f, c], ca[f, c]
            if c2 is None:
                continue
            e1, a1, e2, a2 = int(ce[f, c]), float(ca[f, c]), int(ce[f2, c2]), float(ca[f2, c2])
            if e1 == e2:
                add(e1, a1, a2)
                continue
            opts = [
                (a1 + dist[u[e1], u[e2]] + a2, u[e1], u[e2], 0.0, 0.0),
                (a1 + dist[u[e1], v[e2]] + length[e2] - a2, u[e1], v[e2], 0.0, length[e2]),
                (length[e1] - a1 + dist[v[e1], u[e2]] + a2, v[e1], u[e2], length[e1], 0.0),
                (length[e1] - a1 + dist[v[e1], v[e2]] + length[e2] - a2, v[e1], v[e2],
                 length[e1], length[e2]),
            ]  # fmt: skip
            total, n1, n2, end1, end2 = min(opts, key=lambda o: o[0])
            if not np.isfinite(total):
                continue
            add(e1, a1, end1)
            add(e2, end2, a2)
            path = network.path_nodes(pred[n1], int(n1), int(n2))
            for e, _ in network.nodes_to_edges(path):
                add(e, 0.0, float(length[e]))
    for e, iv in pieces.items():
        covered[e] = min(_union_length(iv), float(length[e]))
    return Matched(covered, edge_of, along_of)
