"""Units: the connected pieces of a village that are divided on their own.

A village's graph without its soft edges (those across a barrier or a field)
falls into pieces: the two banks of a river, a hamlet. Each piece that can be
divided within bounds is divided on its own, so no area straddles the river.
A piece that cannot (12 households on the far bank) is merged across the
barrier with its best-connected neighbour until it can: crossing a barrier is
soft, the bounds are hard. A village part that cannot be divided even as a
whole gets the closest feasible answer and a report saying so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridding.graph import component_labels
from gridding.partition import Bounds, divide_units, plan


@dataclass
class UnitReport:
    """What happened to one connected unit of a village.

    Attributes
    ----------
    group : int
        Village index.
    nodes, total : int
        Nodes and summed weight (households) in the unit.
    areas : int
        Number of areas made.
    feasible : bool
        Whether the unit can be divided within the bounds at all.
    exact : bool
        Whether every area came out within the (possibly widened) bounds.
    lo, hi : int
        Bounds used; wider than asked when not feasible (the closest answer).
    pieces : int
        Barrier-separated pieces merged into this unit (1 = none crossed).
    notes : list of str
        Human-readable remarks.
    """

    group: int
    nodes: int
    total: int
    areas: int
    feasible: bool
    exact: bool
    lo: int
    hi: int
    pieces: int
    notes: list[str]


class _Sets:
    """Union–find over pieces."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> int:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[max(a, b)] = min(a, b)
        return min(a, b)


def form_units(
    n: int,
    u: np.ndarray,
    v: np.ndarray,
    soft: np.ndarray,
    weight: np.ndarray,
    bounds: Bounds,
) -> tuple[np.ndarray, np.ndarray]:
    """Label each node with its unit; say which units were merged across soft edges.

    Returns
    -------
    unit : ndarray (n,)
        Unit label per node.
    pieces : ndarray (units,)
        Number of soft-separated pieces in each unit.
    """
    piece = component_labels(n, u[~soft], v[~soft])
    npieces = int(piece.max()) + 1 if n else 0
    pw = np.bincount(piece, weight, minlength=npieces).astype(np.int64)
    pu, pv = piece[u[soft]], piece[v[soft]]
    cross = pu != pv
    pu, pv = pu[cross], pv[cross]
    sets = _Sets(npieces)
    total = pw.tolist()
    bad = [p for p in range(npieces) if not plan(total[p], bounds).feasible]
    if bad and len(pu):
        # Soft links between pieces, counted, so the best-connected neighbour wins.
        key = np.minimum(pu, pv) * npieces + np.maximum(pu, pv)
        keys, counts = np.unique(key, return_counts=True)
        links: dict[int, dict[int, int]] = {}
        for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
            a, b = divmod(k, npieces)
            links.setdefault(a, {})[b] = c
            links.setdefault(b, {})[a] = c
        pending = sorted(bad, key=lambda p: (total[p], p))
        while pending:
            p = sets.find(pending.pop(0))
            if plan(total[p], bounds).feasible or p not in links or not links[p]:
                continue
            nbrs = links[p]
            q = max(
                nbrs,
                key=lambda q: (plan(total[p] + total[q], bounds).feasible, nbrs[q], -q),
            )
            r = sets.union(p, q)
            o = q if r == p else p
            total[r] = total[p] + total[q]
            # Fold the absorbed set's links into the root's.
            merged = links.pop(o, {})
            links[r] = links.get(r, {})
            for x, c in merged.items():
                if x in (r, o):
                    continue
                links[r][x] = links[r].get(x, 0) + c
                links[x].pop(o, None)
                links[x][r] = links[x].get(r, 0) + c
            links[r].pop(o, None)
            links[r].pop(r, None)
            if not plan(total[r], bounds).feasible:
                pending.append(r)
                pending.sort(key=lambda p: (total[sets.find(p)], p))
    roots = np.array([sets.find(p) for p in range(npieces)], dtype=np.int64)
    _, unit_of_piece = np.unique(roots, return_inverse=True)
    pieces = np.bincount(unit_of_piece)
    return unit_of_piece[piece], pieces


def partition_graph(
    xy: np.ndarray,
    weight: np.ndarray,
    group: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    cost: np.ndarray,
    soft: np.ndarray,
    bounds: Bounds,
    seed: int = 0,
) -> tuple[np.ndarray, list[UnitReport]]:
    """Partition all nodes into contiguous areas within bounds, unit by unit.

    Parameters
    ----------
    xy, weight, group : ndarray
        Node coordinates, weights and village index.
    u, v, cost, soft : ndarray
        Edges (within villages only), their cut cost and softness.
    bounds : Bounds
        Area size bounds.
    seed : int
        Seed for tie-breaking; the result is deterministic for a seed.

    Returns
    -------
    labels : ndarray (n,)
        Area index per node, ``0..areas-1``, numbered unit by unit.
    reports : list of UnitReport
        One per unit, in label order.
    """
    n = len(xy)
    rng = np.random.default_rng(seed)
    unit, pieces = form_units(n, u, v, soft, weight, bounds)
    nunits = len(pieces)
    merged = pieces > 1
    # Inside a merged unit the soft edges are what holds it together.
    same = unit[u] == unit[v]
    use = same & (~soft | merged[unit[u]])
    eu, ev, ec = u[use], v[use], cost[use]
    totals = np.bincount(unit, weight, minlength=nunits).astype(np.int64).tolist()
    plans = [plan(t, bounds) for t in totals]
    ks = np.array([p.k for p in plans], dtype=np.int64)
    local, exact, unit_notes = divide_units(
        xy,
        weight,
        eu,
        ev,
        ec,
        unit,
        ks,
        np.array([p.lo for p in plans], dtype=np.int64),
        np.array([p.hi for p in plans], dtype=np.int64),
        rng,
    )
    offset = np.cumsum(ks) - ks
    labels = local + offset[unit]
    # One node of each unit, for its village.
    first = np.full(nunits, n, dtype=np.int64)
    np.minimum.at(first, unit, np.arange(n))
    nodes_of = np.bincount(unit, minlength=nunits)
    reports: list[UnitReport] = []
    for t in range(nunits):
        p = plans[t]
        notes = list(unit_notes[t])
        if not p.feasible:
            notes.insert(
                0,
                f"{p.total} households cannot be split into areas of "
                f"{bounds.lo}..{bounds.hi}; made {p.k} of {p.lo}..{p.hi}",
            )
        if pieces[t] > 1:
            notes.append(f"joined {pieces[t]} pieces across a barrier or gap to fit the bounds")
        reports.append(
            UnitReport(
                group=int(group[first[t]]),
                nodes=int(nodes_of[t]),
                total=p.total,
                areas=p.k,
                feasible=p.feasible and bool(exact[t]),
                exact=bool(exact[t]),
                lo=p.lo,
                hi=p.hi,
                pieces=int(pieces[t]),
                notes=notes,
            )
        )
    return labels, reports


def area_bounds(reports: list[UnitReport]) -> tuple[np.ndarray, np.ndarray]:
    """Bounds per area label (widened where a unit was infeasible), from the reports."""
    counts = [r.areas for r in reports]
    lo = np.repeat([r.lo for r in reports], counts).astype(np.int64)
    hi = np.repeat([r.hi for r in reports], counts).astype(np.int64)
    return lo, hi
