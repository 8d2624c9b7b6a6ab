"""Area polygons: the union of the households' Voronoi cells, clipped.

Each household gets the Voronoi cell of its point within its village (computed
per village, so cells never reach into another village). The cells of an area
are dissolved (a coverage union, exact) and clipped to one region per village:
the village polygon cut to ``reach`` metres around the village's households (a
grown concave hull), so that fields do not stretch the edge areas; households
outside every village add a disc around themselves. One clip region per village
keeps the borders that neighbouring areas share identical. Cells of different
areas never overlap and each point lies inside its own cell, so the polygons do
not overlap and contain their households.

An area that is connected in the Delaunay graph has a connected union of cells
(Delaunay edges are exactly the Voronoi adjacencies), but the clip can cut a
thin neck. Such an area falls back to its unclipped cells
within the village; if that still has several parts the part holding most of its
households is kept and the area is reported in ``multipart``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely


@dataclass
class AreaPolygons:
    """Polygons per area, and the areas whose polygon needed a fallback."""

    geoms: np.ndarray
    multipart: list[int] = field(default_factory=list)
    fallback: list[int] = field(default_factory=list)


def voronoi_cells(xy: np.ndarray, group: np.ndarray, extent_pad: float = 500.0) -> np.ndarray:
    """The Voronoi cell of each node among the nodes of its own group."""
    cells = np.empty(len(xy), dtype=object)
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    for idx in np.split(order, bounds):
        if len(idx) == 1:
            x, y = xy[idx[0]]
            cells[idx[0]] = shapely.box(
                x - extent_pad, y - extent_pad, x + extent_pad, y + extent_pad
            )
            continue
        pts = shapely.multipoints(xy[idx])
        x0, y0 = xy[idx].min(axis=0) - extent_pad
        x1, y1 = xy[idx].max(axis=0) + extent_pad
        parts = shapely.get_parts(
            shapely.voronoi_polygons(pts, extend_to=shapely.box(x0, y0, x1, y1), ordered=True)
        )
        if len(parts) != len(idx):  # collinear or degenerate input: nearest-cell fallback
            parts = _strip_cells(xy[idx], (x0, y0, x1, y1))
        cells[idx] = parts
    return cells


def _strip_cells(xy: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Cells of nearly collinear points: perpendicular strips along their line."""
    c = xy.mean(axis=0)
    axis = np.linalg.svd(xy - c, full_matrices=False)[2][0]
    t = (xy - c) @ axis
    order = np.argsort(t, kind="stable")
    cuts = np.r_[-1e7, (t[order][1:] + t[order][:-1]) / 2, 1e7]
    normal = np.array([-axis[1], axis[0]])
    out = np.empty(len(xy), dtype=object)
    frame = shapely.box(*box)
    for j, i in enumerate(order):
        a, b = c + axis * cuts[j], c + axis * cuts[j + 1]
        strip = shapely.Polygon(
            [a - normal * 1e7, b - normal * 1e7, b + normal * 1e7, a + normal * 1e7]
        )
        out[i] = shapely.intersection(strip, frame)
    return out


def clip_regions(
    xy: np.ndarray, group: np.ndarray, village_geoms: np.ndarray | None, reach: float
) -> dict[int, shapely.Geometry]:
    """Per village index: where its areas may lie.

    The land within ``reach`` of the village's households (a concave hull grown by
    ``reach``, so fields do not stretch the edge areas), cut to the village
    polygon; households outside their village polygon add a disc around
    themselves, outside every village and outside earlier villages' discs.

    Parameters
    ----------
    xy, group : ndarray
        Node coordinates (metres) and village index.
    village_geoms : ndarray, optional
        Village polygon per village index (None entries: no village polygon).
    reach : float
        How far (metres) areas reach beyond their outermost households.

    Returns
    -------
    dict
        Clip region (a polygonal geometry) per village index present in ``group``.
    """
    present = []
    if village_geoms is not None:
        present = [g for g in village_geoms if g is not None]
    everything = shapely.union_all(present) if present else None
    regions: dict[int, shapely.Geometry] = {}
    taken = None
    for gi in np.unique(group).tolist():
        pts = xy[group == gi]
        mp = shapely.multipoints(pts)
        hull = shapely.buffer(shapely.concave_hull(mp, ratio=0.3), reach, quad_segs=4)
        village = None if village_geoms is None else village_geoms[gi]
        if village is None:
            region = hull
            if everything is not None:
                region = shapely.difference(region, everything)
        else:
            region = shapely.intersection(hull, village)
            out = ~shapely.covers(village, shapely.points(pts))
            if out.any():
                discs = shapely.buffer(shapely.multipoints(pts[out]), reach / 2, quad_segs=4)
                extra = shapely.difference(discs, everything)
                if taken is not None:
                    extra = shapely.difference(extra, taken)
                taken = extra if taken is None else shapely.union(taken, extra)
                region = shapely.union(region, extra)
        regions[gi] = region
    return regions


def area_polygons(
    xy: np.ndarray,
    labels: np.ndarray,
    group: np.ndarray,
    village_geoms: np.ndarray | None = None,
    reach: float = 40.0,
    cells: np.ndarray | None = None,
    regions: dict[int, shapely.Geometry] | None = None,
) -> AreaPolygons:
    """One polygon per area label.

    Parameters
    ----------
    xy, labels, group : ndarray
        Node coordinates (metres), area label (``0..k-1``) and village index.
    village_geoms : ndarray, optional
        Village polygon per village index (None entries: no village polygon).
    reach : float
        How far (metres) areas reach beyond their outermost households.
    cells, regions : optional
        :func:`voronoi_cells` and :func:`clip_regions` of the same nodes, when the
        caller has them already (the polish pass measures the same cells).

    Returns
    -------
    AreaPolygons
    """
    n = len(xy)
    if cells is None:
        cells = voronoi_cells(xy, group)
    if regions is None:
        regions = clip_regions(xy, group, village_geoms, reach)
    k = int(labels.max()) + 1 if n else 0
    order = np.argsort(labels, kind="stable")
    splits = np.searchsorted(labels[order], np.arange(k + 1))
    area_group = np.zeros(k, dtype=np.int64)
    area_group[labels] = group
    dissolved = np.array(
        [_dissolve(cells[order[splits[a] : splits[a + 1]]]) for a in range(k)], dtype=object
    )
    # One clip region per village keeps neighbouring areas' shared borders exact.
    region = np.array([regions[g] for g in area_group.tolist()], dtype=object)
    geoms = shapely.intersection(dissolved, region)
    out = AreaPolygons(np.empty(k, dtype=object))
    for a in range(k):
        geom = _polygon(geoms[a])
        if geom is None:
            idx = order[splits[a] : splits[a + 1]]
            out.fallback.append(a)
            # The neck was cut by the clip: keep the unclipped cells inside the village.
            village = None if village_geoms is None else village_geoms[area_group[a]]
            geom = dissolved[a] if village is None else shapely.intersection(dissolved[a], village)
            if _polygon(geom) is None:
                out.multipart.append(a)
                geom = _largest_part(geom, shapely.points(xy[idx]))
            else:
                geom = _polygon(geom)
        out.geoms[a] = geom
    return out


def _polygon(geom: shapely.Geometry) -> shapely.Geometry | None:
    """The geometry as one Polygon, or None if it has several (or no) polygon parts."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
    if len(parts) == 1:
        return parts[0]
    if len(parts) > 1 and geom.geom_type == "GeometryCollection":
        merged = shapely.union_all(parts)
        return merged if merged.geom_type == "Polygon" else None
    return None


def _dissolve(cells: np.ndarray) -> shapely.Geometry:
    if len(cells) == 1:
        return cells[0]
    # Cells tile the plane, so a coverage union is exact and much faster.
    try:
        return shapely.coverage_union_all(cells)
    except shapely.errors.GEOSException:
        return shapely.union_all(cells)


def _largest_part(geom: shapely.Geometry, pts: np.ndarray) -> shapely.Geometry:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    if not parts:
        return geom
    held = [int(shapely.covers(p, pts).sum()) for p in parts]
    return parts[int(np.argmax(held))]
