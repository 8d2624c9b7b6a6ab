"""Boundary shapes coming in from the browser: checked before GEOS ever sees them.

GEOS crashes the process on pathological nesting (research/reliability_security.md
§5.1), so the GeoJSON is walked by hand first: type allow-list, SRID, caps on
parts, rings and vertices, finite coordinates inside China (which also catches
swapped latitude and longitude). Only then is a shapely geometry built, and its
validity turned into a Chinese message with the *place* of the error, so the
map can point at it.
"""

from __future__ import annotations

import math
import re
from typing import Any

import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon

from layers.errors import Invalid

#: What may come in: GeometryCollection and anything non-areal are refused outright.
ACCEPTED_TYPES = ("Polygon", "MultiPolygon")
#: GeoJSON is RFC 7946 lon/lat; CGCS2000 and WGS-84 agree to centimetres at grid scale.
ACCEPTED_CRS = {
    "EPSG:4490",
    "EPSG:4326",
    "urn:ogc:def:crs:EPSG::4490",
    "urn:ogc:def:crs:EPSG::4326",
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
}
MAX_VERTICES = 5000
MAX_PARTS = 20
MAX_RINGS = 50
LON_RANGE, LAT_RANGE = (73.0, 136.0), (3.0, 54.0)


class ShapeRefused(Invalid):
    """A shape that cannot be stored; ``where`` is ``(lon, lat)`` of the problem, if known."""

    def __init__(self, message: str, where: tuple[float, float] | None = None, reason: str = ""):
        super().__init__(message, "geometry")
        self.where = where
        self.reason = reason


# --- parsing ---------------------------------------------------------------------------


def parse_polygon(obj: Any, srid: Any = None) -> MultiPolygon:
    """A GeoJSON (Multi)Polygon, checked piece by piece, as a shapely MultiPolygon.

    Parameters
    ----------
    obj : dict
        A GeoJSON geometry, or a Feature holding one. A ``crs`` member (GeoJSON
        2008) must name EPSG:4490, EPSG:4326 or CRS84.
    srid : int, optional
        The SRID the client says it used; only 4490 and 4326 are accepted.

    Raises
    ------
    ShapeRefused
        With a bilingual message, and the place of the error when there is one.
    """
    polygons = _parts(
        obj,
        srid,
        ACCEPTED_TYPES,
        MAX_PARTS,
        "边界须为多边形（Polygon/MultiPolygon），收到 {got} / a boundary must be a Polygon or"
        " MultiPolygon, got {got}",
        "多边形部分数应为 1–{n} / 1 to {n} parts",
    )
    vertices = 0
    parts = []
    for rings in polygons:
        if not isinstance(rings, list) or not 1 <= len(rings) <= MAX_RINGS:
            raise ShapeRefused(f"每个多边形应有 1–{MAX_RINGS} 个环 / 1 to {MAX_RINGS} rings")
        clean = []
        for ring in rings:
            points = _ring(ring)
            vertices += len(points)
            if vertices > MAX_VERTICES:
                raise ShapeRefused(
                    f"顶点超过 {MAX_VERTICES} 个 / more than {MAX_VERTICES} vertices"
                )
            clean.append(points)
        parts.append(Polygon(clean[0], clean[1:]))
    geom = MultiPolygon(parts)
    _check_valid(geom)
    return geom


def _parts(
    obj: Any, srid: Any, types: tuple[str, str], max_parts: int, wrong_type: str, count: str
) -> list:
    """The coordinates of each part of a single or multi geometry of ``types``.

    ``types`` is (single, multi), e.g. ("Polygon", "MultiPolygon"); a Feature is
    unwrapped and the SRID checked. ``wrong_type`` and ``count`` are the refusals,
    formatted with ``got`` and ``n``.
    """
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
    if not isinstance(obj, dict) or obj.get("type") not in types:
        got = obj.get("type") if isinstance(obj, dict) else type(obj).__name__
        raise ShapeRefused(wrong_type.format(got=got), reason="type")
    _check_srid(srid, obj.get("crs"))
    coords = obj.get("coordinates")
    parts = [coords] if obj["type"] == types[0] else coords
    if not isinstance(parts, list) or not 1 <= len(parts) <= max_parts:
        raise ShapeRefused(count.format(n=max_parts))
    return parts


def _check_srid(srid: Any, crs: Any) -> None:
    name = None
    if srid is not None and srid not in (4490, 4326, "4490", "4326"):
        name = f"EPSG:{srid}"
    if isinstance(crs, dict):
        crs_name = (crs.get("properties") or {}).get("name")
        if crs_name not in ACCEPTED_CRS:
            name = str(crs_name)
    elif crs is not None:
        name = str(crs)
    if name:
        raise ShapeRefused(
            f"坐标系 {name} 不受支持，请用 CGCS2000（EPSG:4490）经纬度 / coordinate system "
            f"{name} is not supported: send CGCS2000 (EPSG:4490) longitude/latitude",
            reason="srid",
        )


def _ring(ring: Any) -> list[tuple[float, float]]:
    if not isinstance(ring, list) or len(ring) < 4:
        raise ShapeRefused("每个环至少 4 个点（首尾相同） / a ring needs at least 4 positions")
    # Not rounded: a boundary sent back unchanged must match its neighbours exactly.
    points = [_position(p) for p in ring]
    if points[0] != points[-1]:
        raise ShapeRefused("环未闭合（首尾点不同） / a ring is not closed", where=points[0])
    return points


_REASONS = {
    "Self-intersection": ("边界自相交", "the boundary crosses itself"),
    "Ring Self-intersection": ("边界环自相交", "a ring touches itself"),
    "Too few points": ("点数太少", "too few points"),
    "Hole lies outside shell": ("内洞在外环之外", "a hole lies outside its shell"),
    "Nested shells": ("多边形相互嵌套", "parts lie inside each other"),
    "Nested holes": ("内洞相互嵌套", "holes lie inside each other"),
    "Interior is disconnected": ("内洞把多边形分成了几块", "holes cut the polygon apart"),
    "Invalid Coordinate": ("坐标无效", "invalid coordinate"),
}
_REASON_AT = re.compile(r"^(?P<what>[^\[]+?)\s*\[(?P<x>[-\d.eE+]+) (?P<y>[-\d.eE+]+)")


def _check_valid(geom: MultiPolygon) -> None:
    reason = shapely.is_valid_reason(geom)
    if reason == "Valid Geometry":
        if geom.is_empty or geom.area == 0:
            raise ShapeRefused("边界面积为零 / the boundary has no area", reason="empty")
        return
    m = _REASON_AT.match(reason)
    what = m.group("what") if m else reason
    where = (round(float(m.group("x")), 7), round(float(m.group("y")), 7)) if m else None
    zh, en = _REASONS.get(what, ("边界无效", what))
    at_zh = f"，位置 {where[0]:.6f}, {where[1]:.6f}" if where else ""
    at_en = f" at {where[0]:.6f}, {where[1]:.6f}" if where else ""
    raise ShapeRefused(f"{zh}{at_zh} / {en}{at_en}", where=where, reason=what)


#: Street and lane centre lines: the same caps, one line (or a few parts) at a time.
LINE_TYPES = ("LineString", "MultiLineString")
MAX_LINE_PARTS = 20


def parse_line(obj: Any, srid: Any = None) -> MultiLineString:
    """A GeoJSON (Multi)LineString, checked piece by piece, as a shapely MultiLineString.

    Used for street and lane centre lines and for the cut line of a split.

    Parameters
    ----------
    obj : dict
        A GeoJSON geometry, or a Feature holding one (lon/lat, EPSG:4490 or 4326).
    srid : int, optional
        The SRID the client says it used; only 4490 and 4326 are accepted.

    Raises
    ------
    ShapeRefused
        With a bilingual message, and the place of the error when there is one: a
        line that crosses itself is refused (``reason="self_crossing"``) because a
        lane that loops over itself makes no sense in the lane network.
    """
    lines = _parts(
        obj,
        srid,
        LINE_TYPES,
        MAX_LINE_PARTS,
        "应为线（LineString/MultiLineString），收到 {got} / a line must be a LineString or"
        " MultiLineString, got {got}",
        "线的部分数应为 1–{n} / 1 to {n} parts",
    )
    vertices = 0
    parts = []
    for line in lines:
        if not isinstance(line, list) or len(line) < 2:
            raise ShapeRefused("每条线至少 2 个点 / a line needs at least 2 positions")
        points = [_position(p) for p in line]
        vertices += len(points)
        if vertices > MAX_VERTICES:
            raise ShapeRefused(f"顶点超过 {MAX_VERTICES} 个 / more than {MAX_VERTICES} vertices")
        if len(set(points)) < 2:
            raise ShapeRefused(
                "线的长度为零 / the line has no length", where=points[0], reason="empty"
            )
        parts.append(LineString(points))
    geom = MultiLineString(parts)
    if not geom.is_simple:
        # Where two segments cross: the first intersection point that is not a shared vertex.
        where = _self_crossing(geom)
        at_zh = f"，位置 {where[0]:.6f}, {where[1]:.6f}" if where else ""
        at_en = f" at {where[0]:.6f}, {where[1]:.6f}" if where else ""
        raise ShapeRefused(
            f"线自相交{at_zh} / the line crosses itself{at_en}", where=where, reason="self_crossing"
        )
    return geom


def _position(p: Any) -> tuple[float, float]:
    if not (isinstance(p, list) and len(p) in (2, 3)):
        raise ShapeRefused("坐标应为 [经度, 纬度] / positions must be [lon, lat]")
    lon, lat = p[0], p[1]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat)):
        raise ShapeRefused("坐标应为数字 / coordinates must be numbers")
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise ShapeRefused("坐标不是有限数 / coordinates must be finite")
    if not (LON_RANGE[0] <= lon <= LON_RANGE[1] and LAT_RANGE[0] <= lat <= LAT_RANGE[1]):
        raise ShapeRefused(
            f"坐标 {lon}, {lat} 不在中国境内，经纬度是否颠倒？ / position {lon}, {lat} is "
            "outside China: are longitude and latitude swapped?",
            reason="range",
        )
    return (float(lon), float(lat))


def _self_crossing(geom: MultiLineString) -> tuple[float, float] | None:
    # Segments in an STR-tree: a 5,000-vertex line is checked in milliseconds, not a
    # Python double loop an attacker could make last minutes.
    segments, ends = [], []
    for line in geom.geoms:
        c = list(line.coords)
        segments += [LineString([c[i], c[i + 1]]) for i in range(len(c) - 1)]
        ends += [(c[i], c[i + 1]) for i in range(len(c) - 1)]
    tree = shapely.STRtree(segments)
    left, right = tree.query(segments, predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if j <= i:
            continue
        hit = segments[i].intersection(segments[j])
        p = hit.representative_point()
        shared = set(ends[i]) & set(ends[j])
        # Consecutive segments meet at their shared vertex: that is no crossing.
        if hit.geom_type == "Point" and (p.x, p.y) in shared:
            continue
        return (round(p.x, 7), round(p.y, 7))
    return None
