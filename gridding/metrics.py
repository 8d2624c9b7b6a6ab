"""Quality figures of a partition, the same for our engine and the baselines.

- share in bounds: areas whose household count is within the bounds;
- contiguity: areas whose households are connected by neighbour-graph edges
  (Delaunay edges within a village, any length, across barriers too);
- compactness: mean Polsby–Popper ``4πA / P²`` of the area polygons (1 = disc);
- barrier share: of all neighbour pairs inside one area, the share whose
  connecting segment crosses a barrier (main road, river);
- street share: the same for streets and lanes other than the pair's own lane.
"""

from __future__ import annotations

import numpy as np
import shapely

from gridding.graph import NeighbourGraph, component_labels


def contiguous_areas(graph: NeighbourGraph, labels: np.ndarray) -> np.ndarray:
    """Bool per area label: are its nodes connected by edges inside the area?"""
    k = int(labels.max()) + 1 if len(labels) else 0
    same = labels[graph.u] == labels[graph.v]
    comp = component_labels(graph.n, graph.u[same], graph.v[same])
    pairs = np.unique(labels * (int(comp.max()) + 1) + comp)
    per_area = np.bincount(pairs // (int(comp.max()) + 1), minlength=k)
    return per_area == 1


def polsby_popper(geoms: np.ndarray) -> np.ndarray:
    """Polsby–Popper compactness of each polygon (NaN for empty ones)."""
    area = shapely.area(geoms)
    perim = shapely.length(geoms)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(perim > 0, 4 * np.pi * area / perim**2, np.nan)


def evaluate(
    graph: NeighbourGraph,
    labels: np.ndarray,
    lo: int,
    hi: int,
    geoms: np.ndarray | None = None,
) -> dict:
    """Summary figures of a node partition.

    Parameters
    ----------
    graph : NeighbourGraph
        The graph the partition is judged on.
    labels : ndarray
        Area label per node, ``0..k-1``.
    lo, hi : int
        Bounds on households per area.
    geoms : ndarray, optional
        Area polygons, for compactness.

    Returns
    -------
    dict
        ``areas``, ``share_in_bounds``, ``share_contiguous``, ``mean_polsby_popper``,
        ``barrier_share``, ``street_share``, ``min_size``, ``max_size``.
    """
    labels = np.unique(labels, return_inverse=True)[1].ravel()
    sizes = np.bincount(labels, graph.weight)
    same = labels[graph.u] == labels[graph.v]
    inside = max(int(same.sum()), 1)
    out = {
        "areas": len(sizes),
        "share_in_bounds": round(float(((sizes >= lo) & (sizes <= hi)).mean()), 4),
        "share_contiguous": round(float(contiguous_areas(graph, labels).mean()), 4),
        "min_size": int(sizes.min()),
        "max_size": int(sizes.max()),
        "barrier_share": round(float(graph.barrier[same].sum() / inside), 4),
        "street_share": round(float(graph.street[same].sum() / inside), 4),
    }
    if geoms is not None:
        out["mean_polsby_popper"] = round(float(np.nanmean(polsby_popper(geoms))), 4)
    return out
