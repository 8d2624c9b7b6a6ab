"""The drawn line of a village split against the village's grids.

It is snapped to their edges (:func:`snap_line`), and refused where it still
cuts a level-2 or level-3 grid (:func:`_grid_sides`).
"""

from __future__ import annotations

import shapely
from shapely.geometry import MultiPolygon
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.boundaries.editing import SNAP_M, TOLERANCE_M2
from layers.boundaries.ingress import ShapeRefused

_M_PER_DEG = 111_320.0


def _point(p) -> tuple[float, float] | None:
    if p is None or p.is_empty:
        return None
    return (round(p.x, 7), round(p.y, 7))


def snap_line(session: Session, village_id: int, line):
    """The drawn line with its vertices and segments snapped to the village's grid edges.

    GEOS snapping also inserts edge vertices lying within the tolerance of a
    segment, so a line drawn along an edge follows it exactly.
    """
    tol = SNAP_M / _M_PER_DEG
    rows = session.scalars(
        text(
            "SELECT ST_AsBinary(ST_Boundary(geom)) FROM grid WHERE village_id = :v"
            " AND valid_to IS NULL AND level > 1"
            " AND ST_DWithin(geom, ST_GeomFromText(:g, 4490), :t)"
        ),
        {"v": village_id, "g": line.wkt, "t": tol},
    ).all()
    if not rows:
        return line
    snapped = shapely.snap(line, shapely.union_all(shapely.from_wkb([bytes(r) for r in rows])), tol)
    # A snap that folds the line onto itself would make a worse cut than the drawing.
    return snapped if snapped.is_valid and snapped.is_simple and not snapped.is_empty else line


def _grid_sides(
    session: Session, village_id: int, parts: tuple[MultiPolygon, MultiPolygon], line
) -> dict[int, int]:
    """Part (0 or 1) of each current level-2 grid of the village, by area.

    Raises
    ------
    ShapeRefused
        When the line cuts a level-2 or level-3 grid (``reason="grid_cut"``).
    """
    sides: dict[int, int] = {}
    for gid, level, name, code, in_a, in_b, at in session.execute(
        text(
            "SELECT g.id, g.level, g.name, g.code,"
            " ST_Area(ST_Intersection(g.geom, ST_GeomFromText(:a, 4490))::geography),"
            " ST_Area(ST_Intersection(g.geom, ST_GeomFromText(:b, 4490))::geography),"
            " ST_AsText(ST_PointOnSurface(ST_Intersection(g.geom, ST_GeomFromText(:l, 4490))))"
            " FROM grid g WHERE g.village_id = :v AND g.valid_to IS NULL AND g.level > 1"
            " ORDER BY g.level, g.code"
        ),
        {"a": parts[0].wkt, "b": parts[1].wkt, "l": line.wkt, "v": village_id},
    ):
        if in_a > TOLERANCE_M2 and in_b > TOLERANCE_M2:
            raise ShapeRefused(
                f"分割线穿过{level}级网格「{name}」（{code}），请先沿这条线分割该网格"
                f" / the line cuts the level-{level} grid «{name}» ({code}): split that grid"
                " along the line first",
                where=_point(shapely.from_wkt(at)) if at else None,
                reason="grid_cut",
            )
        if level == 2:
            sides[gid] = 0 if in_a >= in_b else 1
    return sides
