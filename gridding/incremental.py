"""Incremental re-gridding: repair only the areas that changes broke.

Given the current area of each household that still exists, the areas an officer
has pinned, and the new households:

1. new households join the neighbouring unpinned area they are most strongly
   tied to (breadth first, never into a pinned area);
2. an unpinned area that is now out of bounds first trades single households
   with its unpinned neighbours (the cheapest repair: one or two households
   change captain); an area still out of bounds, not contiguous, or spanning
   villages is *broken*; untouched areas keep every household;
3. each cluster of broken areas is re-divided by the engine; if it cannot be
   divided within bounds, the ring of unpinned areas around it is added and the
   division tried again (a few rings at most);
4. the new areas take over the ids of the old areas they overlap most (a greedy
   matching by shared households), so few households change captain.

Pinned areas are never changed: not their members, not their id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gridding.graph import NeighbourGraph, component_labels
from gridding.partition import Bounds
from gridding.refine import _csr, _stays_connected
from gridding.units import UnitReport, partition_graph

#: Rings of neighbouring areas added around a broken cluster before giving up.
MAX_RINGS = 3


@dataclass
class IncrementalResult:
    """Node labels after re-gridding, as indices into the old areas or new ones.

    Attributes
    ----------
    labels : ndarray
        Area code per node: ``0..old-1`` keep an old area's id, ``old..`` are new areas.
    rebuilt : list of int
        Old area codes that were re-divided (their members may have changed).
    reports : list of UnitReport
        Engine reports of the re-divided regions.
    """

    labels: np.ndarray
    rebuilt: list[int] = field(default_factory=list)
    reports: list[UnitReport] = field(default_factory=list)


def _attach_new(graph: NeighbourGraph, labels: np.ndarray, frozen: np.ndarray) -> None:
    """Give unlabelled nodes the label of their strongest labelled, unfrozen neighbour."""
    u, v, c = graph.u, graph.v, graph.cost
    while True:
        lu, lv = labels[u], labels[v]
        a = (lu < 0) & (lv >= 0) & ~frozen[v]
        b = (lv < 0) & (lu >= 0) & ~frozen[u]
        node = np.r_[u[a], v[b]]
        lab = np.r_[lv[a], lu[b]]
        cost = np.r_[c[a], c[b]]
        if len(node) == 0:
            return
        # Strongest tie first; ties by label for determinism.
        order = np.lexsort((lab, -cost, node))
        node, lab = node[order], lab[order]
        first = np.r_[True, node[1:] != node[:-1]]
        labels[node[first]] = lab[first]


def _broken(graph: NeighbourGraph, labels: np.ndarray, k: int, bounds: Bounds) -> np.ndarray:
    size = np.bincount(labels, graph.weight, minlength=k)
    bad = (size < bounds.lo) | (size > bounds.hi)
    same = labels[graph.u] == labels[graph.v]
    comp = component_labels(graph.n, graph.u[same], graph.v[same])
    m = int(comp.max()) + 1
    pairs = np.unique(labels * m + comp)
    bad |= np.bincount(pairs // m, minlength=k) > 1
    gmin = np.full(k, np.iinfo(np.int64).max)
    gmax = np.full(k, -1)
    np.minimum.at(gmin, labels, graph.group)
    np.maximum.at(gmax, labels, graph.group)
    bad |= (gmax >= 0) & (gmin != gmax)
    return bad & (size > 0)


def regrid(
    graph: NeighbourGraph,
    current: np.ndarray,
    pinned: np.ndarray,
    bounds: Bounds,
    seed: int = 0,
) -> IncrementalResult:
    """Re-grid incrementally.

    Parameters
    ----------
    graph : NeighbourGraph
        Graph of the households as they are now.
    current : ndarray (n,)
        Current area code per node (``0..old-1``), -1 for new households.
    pinned : ndarray (old,) of bool
        Areas that must not change.
    bounds : Bounds
        Lane-area bounds.
    seed : int
        Seed for the engine.

    Returns
    -------
    IncrementalResult
    """
    old = len(pinned)
    labels = current.astype(np.int64).copy()
    frozen = np.zeros(graph.n, dtype=bool)
    held = labels >= 0
    frozen[held] = pinned[labels[held]]
    _attach_new(graph, labels, frozen)
    # Households no area could reach (an island of new houses) form a new area.
    orphans = labels < 0
    k = old
    if orphans.any():
        labels[orphans] = old
        k = old + 1
    result = IncrementalResult(labels)
    pin_k = np.r_[pinned, np.zeros(k - old, dtype=bool)]
    _balance(graph, labels, k, pin_k, bounds)
    broken = _broken(graph, labels, k, bounds)
    broken &= ~pin_k
    if not broken.any():
        return result

    # Clusters of broken areas that touch each other are re-divided together.
    a, b = labels[graph.u], labels[graph.v]
    touch = (a != b) & ~pin_k[a] & ~pin_k[b]
    both = touch & broken[a] & broken[b]
    cluster = component_labels(k, a[both], b[both])
    next_code = k
    done = np.zeros(k, dtype=bool)
    for c in np.unique(cluster[broken]):
        region = (cluster == c) & broken & ~done
        if not region.any():
            continue
        for ring in range(MAX_RINGS + 1):
            nodes = np.flatnonzero(region[labels])
            sub, reports = _divide_region(graph, nodes, bounds, seed)
            if all(r.feasible for r in reports) or ring == MAX_RINGS:
                break
            near = np.zeros(k, dtype=bool)
            near[b[touch & region[a]]] = True
            near[a[touch & region[b]]] = True
            near &= ~region & ~pin_k & ~done
            if not near.any():
                break
            region |= near
        codes = _match(labels[nodes], sub, graph.weight[nodes], np.flatnonzero(region), next_code)
        next_code = max(next_code, int(codes.max()) + 1)
        labels[nodes] = codes
        done |= region
        result.rebuilt += np.flatnonzero(region & (np.arange(k) < old)).tolist()
        result.reports += reports
    return result


def _balance(
    graph: NeighbourGraph, labels: np.ndarray, k: int, pinned: np.ndarray, bounds: Bounds
) -> None:
    """Bring areas back into bounds by moving single boundary households (in place).

    An area below the minimum takes the household it is most tied to from a
    neighbour that can spare it; an area above the maximum gives one to a
    neighbour with room. Each move keeps both areas connected.
    """
    keep = ~graph.soft
    ip, nb, nc = (a.tolist() for a in _csr(graph.n, graph.u[keep], graph.v[keep], graph.cost[keep]))
    fp, fn, _ = (a.tolist() for a in _csr(graph.n, graph.u, graph.v, graph.cost))
    w = graph.weight.tolist()
    size = np.bincount(labels, graph.weight, minlength=k).astype(np.int64)
    for _ in range(3):
        bad = np.flatnonzero(((size < bounds.lo) | (size > bounds.hi)) & ~pinned & (size > 0))
        if len(bad) == 0:
            return
        moved = False
        for a in bad.tolist():
            members = np.flatnonzero(labels == a).tolist()
            while size[a] < bounds.lo or size[a] > bounds.hi:
                best = None
                for x in members:
                    for j in range(ip[x], ip[x + 1]):
                        y, t = nb[j], int(labels[nb[j]])
                        if t == a or pinned[t]:
                            continue
                        if size[a] < bounds.lo:  # take y from t
                            ok = size[t] - w[y] >= bounds.lo and size[a] + w[y] <= bounds.hi
                            cand = (nc[j], y, t, a)
                        else:  # give x to t
                            ok = size[t] + w[x] <= bounds.hi and size[a] - w[x] >= bounds.lo
                            cand = (nc[j], x, a, t)
                        if ok and (best is None or cand[0] > best[0]):
                            src, node = cand[2], cand[1]
                            if _stays_connected(node, src, labels, fp, fn):
                                best = cand
                if best is None:
                    break
                _, node, src, dst = best
                labels[node] = dst
                size[src] -= w[node]
                size[dst] += w[node]
                members = np.flatnonzero(labels == a).tolist()
                moved = True
        if not moved:
            return


def _divide_region(
    graph: NeighbourGraph, nodes: np.ndarray, bounds: Bounds, seed: int
) -> tuple[np.ndarray, list[UnitReport]]:
    local = np.full(graph.n, -1, dtype=np.int64)
    local[nodes] = np.arange(len(nodes))
    keep = (local[graph.u] >= 0) & (local[graph.v] >= 0)
    return partition_graph(
        graph.xy[nodes],
        graph.weight[nodes],
        graph.group[nodes],
        local[graph.u[keep]],
        local[graph.v[keep]],
        graph.cost[keep],
        graph.soft[keep],
        bounds,
        seed,
    )


def _match(
    before: np.ndarray, after: np.ndarray, weight: np.ndarray, olds: np.ndarray, fresh: int
) -> np.ndarray:
    """Codes for the new areas: the old area each overlaps most, else fresh codes."""
    na = int(after.max()) + 1
    pairs: dict[tuple[int, int], int] = {}
    for x, y, w in zip(after.tolist(), before.tolist(), weight.tolist(), strict=True):
        pairs[(x, y)] = pairs.get((x, y), 0) + w
    ranked = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
    allowed = set(olds.tolist())
    new_code: dict[int, int] = {}
    used: set[int] = set()
    for (x, y), _ in ranked:
        if x not in new_code and y not in used and y in allowed:
            new_code[x] = y
            used.add(y)
    for x in range(na):
        if x not in new_code:
            new_code[x] = fresh
            fresh += 1
    return np.array([new_code[x] for x in after.tolist()], dtype=np.int64)
