"""Levels above the lane areas: street areas and party groups.

The lane areas form a graph of their own (two areas are adjacent when some of
their households are neighbours), weighted by how many neighbour pairs they
share. Street areas are made from it by the same engine, one level up (each lane
area weighs 1, bounds 6–8 by default). Party groups are made inside each street
area with bounds 2–3 and a preferred size of 2: pairs of adjacent lane areas,
with a group of three where a street area has an odd number of them.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    return partition_graph(
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
