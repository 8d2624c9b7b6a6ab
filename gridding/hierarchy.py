"""Levels above the lane areas: street areas and party groups.

The lane areas form a graph of their own (two areas are adjacent when some of
their households are neighbours), weighted by how many neighbour pairs they
share. Street areas are made from it by the same engine, one level up (each lane
area weighs 1, bounds 6–8 by default). Party groups are made inside each street
area with bounds 2–3 and a preferred size of 2: pairs of adjacent lane areas,
with a group of three where a street area has an odd number of them.

Bisection can fail on these tiny graphs: the first cut of 8 lane areas into two
fours may leave a four that cannot be paired (one lane area touching the three
others, which touch only it), and a lone lane area becomes a party group of 1.
Street areas where that happens are grouped again by an exhaustive search over
their few lane areas, so a group of 1 remains only where adjacency leaves no
other choice (a street area of one lane area).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from gridding.graph import NeighbourGraph
from gridding.partition import Bounds
from gridding.units import UnitReport, partition_graph


@dataclass
class AreaGraph:
    """Lane areas as nodes: centroid, village, and weighted adjacency."""

    xy: np.ndarray
    group: np.ndarray
    u: np.ndarray
    v: np.ndarray
    cost: np.ndarray
    soft: np.ndarray


def area_graph(graph: NeighbourGraph, labels: np.ndarray) -> AreaGraph:
    """Contract the household graph to its areas."""
    k = int(labels.max()) + 1
    w = graph.weight.astype(float)
    cx = np.bincount(labels, w * graph.xy[:, 0], minlength=k)
    cy = np.bincount(labels, w * graph.xy[:, 1], minlength=k)
    tw = np.bincount(labels, w, minlength=k)
    xy = np.c_[cx / tw, cy / tw]
    group = np.zeros(k, dtype=np.int64)
    group[labels] = graph.group
    a, b = labels[graph.u], labels[graph.v]
    cross = a != b
    lo, hi = np.minimum(a[cross], b[cross]), np.maximum(a[cross], b[cross])
    key = lo * k + hi
    keys, inv = np.unique(key, return_inverse=True)
    inv = inv.ravel()
    soft_edges = graph.soft[cross]
    # Areas touch through many pairs along a shared border: the more pairs, the
    # longer the border and the worse it is to put the two in different groups.
    cost = np.bincount(inv, np.where(soft_edges, 0.0, 1.0), minlength=len(keys))
    hard = np.bincount(inv, ~soft_edges, minlength=len(keys))
    return AreaGraph(
        xy=xy,
        group=group,
        u=keys // k,
        v=keys % k,
        cost=np.maximum(cost, 0.05),
        soft=hard == 0,
    )


def street_areas(
    ag: AreaGraph, bounds: Bounds, seed: int = 0
) -> tuple[np.ndarray, list[UnitReport]]:
    """Group lane areas into street areas (label per lane area, and reports)."""
    weight = np.ones(len(ag.xy), dtype=np.int64)
    return partition_graph(ag.xy, weight, ag.group, ag.u, ag.v, ag.cost, ag.soft, bounds, seed)


def party_groups(
    ag: AreaGraph, streets: np.ndarray, bounds: Bounds, seed: int = 0
) -> tuple[np.ndarray, list[UnitReport]]:
    """Pair adjacent lane areas inside each street area (label per lane area, reports)."""
    weight = np.ones(len(ag.xy), dtype=np.int64)
    inside = streets[ag.u] == streets[ag.v]
    labels, reports = partition_graph(
        ag.xy,
        weight,
        streets,
        ag.u[inside],
        ag.v[inside],
        ag.cost[inside],
        ag.soft[inside],
        bounds,
        seed,
    )
    return _mend_groups(ag, streets, labels, reports, bounds)


#: Street areas with more lane areas than this are not searched exhaustively.
MEND_LIMIT = 12


def _mend_groups(
    ag: AreaGraph,
    streets: np.ndarray,
    labels: np.ndarray,
    reports: list[UnitReport],
    bounds: Bounds,
) -> tuple[np.ndarray, list[UnitReport]]:
    """Regroup the street areas where bisection left a group out of bounds."""
    size = np.bincount(labels)
    bad = (size < bounds.lo) | (size > bounds.hi)
    if not bad.any():
        return labels, reports
    labels = labels.copy()
    fresh = len(size)
    for s in np.unique(streets[bad[labels]]).tolist():
        members = np.flatnonzero(streets == s)
        if len(members) > MEND_LIMIT:
            continue
        local = {a: i for i, a in enumerate(members.tolist())}
        inside = (streets[ag.u] == s) & (streets[ag.v] == s)
        edges = tuple(
            (local[a], local[b], float(c))
            for a, b, c in zip(
                ag.u[inside].tolist(), ag.v[inside].tolist(), ag.cost[inside].tolist(), strict=True
            )
        )
        before = int(bad[labels[members]].sum())
        score, groups = _best_grouping(len(members), edges, bounds.lo, bounds.hi, bounds.preferred)
        if score[0] >= before:
            continue  # already as good as adjacency allows
        old = sorted(set(labels[members].tolist()))
        for j, group in enumerate(groups):
            code = old[j] if j < len(old) else fresh + j - len(old)
            labels[members[list(group)]] = code
        fresh += max(0, len(groups) - len(old))
        for r in reports:
            if r.group == s:
                r.notes.append("party groups chosen by exhaustive search")
                r.exact = r.feasible = score[0] == 0
    return np.unique(labels, return_inverse=True)[1].ravel(), reports


def _best_grouping(
    m: int, edges: tuple, lo: int, hi: int, target: float
) -> tuple[tuple[int, float, float], list[tuple[int, ...]]]:
    """Best split of ``m`` nodes into connected groups of at most ``hi``.

    Groups are scored by, in order: how many are out of ``lo..hi``, how far
    their sizes are from ``target`` (so pairs, and one three for an odd count),
    and how little of the shared border they keep inside (``edges`` carry it).
    A group of one is always possible, so there is always an answer.
    """
    adj = [0] * m
    weight: dict[tuple[int, int], float] = {}
    for a, b, c in edges:
        adj[a] |= 1 << b
        adj[b] |= 1 << a
        weight[(min(a, b), max(a, b))] = weight.get((min(a, b), max(a, b)), 0.0) + c

    def kept(group: int) -> float:
        nodes = [i for i in range(m) if group >> i & 1]
        return sum(weight.get((a, b), 0.0) for a in nodes for b in nodes if a < b)

    @cache
    def best(mask: int) -> tuple[tuple[int, float, float], tuple[int, ...]]:
        if mask == 0:
            return (0, 0.0, 0.0), ()
        first = mask & -mask
        # Connected groups holding the lowest remaining node, grown a node at a time.
        groups, frontier = {first}, {first}
        for _ in range(hi - 1):
            grown = set()
            for g in frontier:
                nbrs = 0
                for i in range(m):
                    if g >> i & 1:
                        nbrs |= adj[i]
                nbrs &= mask & ~g
                while nbrs:
                    bit = nbrs & -nbrs
                    grown.add(g | bit)
                    nbrs ^= bit
            grown -= groups
            groups |= grown
            frontier = grown
        out = None
        for g in sorted(groups):
            n = g.bit_count()
            rest, chosen = best(mask & ~g)
            score = (
                rest[0] + (not lo <= n <= hi),
                rest[1] + abs(n - target),
                rest[2] - kept(g),
            )
            if out is None or score < out[0]:
                out = (score, (g, *chosen))
        return out

    score, masks = best((1 << m) - 1)
    return score, [tuple(i for i in range(m) if g >> i & 1) for g in masks]
