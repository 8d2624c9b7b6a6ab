"""Editing village and grid boundaries: validate, snap, version, audit, recount.

Every save goes through one pipeline (research/reliability_security.md §5–6):

1. :func:`parse_polygon` checks the GeoJSON by hand *before* shapely sees it
   (type allow-list, SRID, vertex caps, finite coordinates inside China), because
   GEOS crashes the process on pathological input;
2. validity, with the GEOS reason turned into a Chinese message *and the place*
   of the error, so the map can point at it;
3. snapping to the neighbours' and the parent's vertices and edges, so shared
   edges coincide instead of leaving slivers;
4. topology in PostGIS: inside the parent, no overlap with other current
   boundaries of the same level, children still inside (each beyond a small
   tolerance, measured in square metres on the ellipsoid);
5. optimistic locking: the caller sends the version it loaded; a stale one
   raises :class:`Conflict` carrying the current geometry, so the page can show
   the other edit while the officer keeps his draft.

Shapes are never "fixed" silently: a refused shape is the officer's to redraw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts.access import Principal
from layers.boundaries.ingress import ShapeRefused, parse_polygon
from layers.errors import NotFound

KINDS = ("village", "grid")
#: Overlap with a sibling, or spill over the parent, tolerated before refusing (m²).
#: The demo's generated grids already overlap by up to 0.15 m² along shared edges.
TOLERANCE_M2 = 1.0
#: Vertices within this distance of a neighbour's edge are snapped onto it (m).
SNAP_M = 2.0
_M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class SizeRule:
    """Households a boundary of a level should hold; advisory, never a reason to refuse.

    Real data bends the rules (domain.md): the editor shows where a rule is not
    met, it does not hide it or block the save.
    """

    min: int
    max: int

    def check(self, households: int) -> bool:
        return self.min <= households <= self.max


#: Defaults after the 三级网格 scheme: a level-3 grid is what one grid worker can
#: visit. Configuration, not a hard-coded scheme: replace entries to suit a town.
SIZE_RULES: dict[tuple[str, int | None], SizeRule] = {
    ("grid", 2): SizeRule(50, 300),
    ("grid", 3): SizeRule(30, 150),
}


class Forbidden(PermissionError):
    """The user may see the boundary but not change it (a 403)."""


class Conflict(Exception):
    """Someone saved the boundary since the caller loaded it; ``current`` is theirs."""

    def __init__(self, current: dict[str, Any], edited_by: str | None, edited_at: str | None):
        super().__init__("stale version")
        self.current = current
        self.edited_by = edited_by
        self.edited_at = edited_at


@dataclass(frozen=True)
class Boundary:
    """A current village or grid as the editor sees it."""

    kind: str
    id: int
    code: str
    name: str
    level: int | None
    version: int
    village_id: int
    parent_id: int | None


# --- reading ---------------------------------------------------------------------------


def get_boundary(session: Session, kind: str, code: str, *, lock: bool = False) -> Boundary:
    """The current village or grid ``code``; :class:`NotFound` otherwise."""
    if kind == "village":
        sql = "SELECT id, code, name, NULL, version, id, NULL FROM village WHERE code = :c"
    elif kind == "grid":
        sql = (
            "SELECT id, code, name, level, version, village_id, parent_id FROM grid"
            " WHERE code = :c AND valid_to IS NULL"
        )
    else:
        raise NotFound(kind)
    row = session.execute(text(sql + (" FOR UPDATE" if lock else "")), {"c": code}).one_or_none()
    if row is None:
        raise NotFound(code)
    return Boundary(kind, *row)


def may_edit(principal: Principal | None, b: Boundary) -> bool:
    """Town scope edits all; a village grant edits that village's grids (not its outline)."""
    scope = principal.edit if principal else None
    if scope is None or scope.empty:
        return False
    if scope.all:
        return True
    if b.kind == "village":
        return False
    return b.village_id in scope.villages or b.id in scope.grids


def require_editor(principal: Principal | None) -> None:
    """Refuse (403) a user who may edit nowhere."""
    if principal is None or principal.edit.empty:
        raise Forbidden()


def editable(session: Session, principal: Principal | None, kind: str, code: str) -> Boundary:
    """The boundary ``code``, locked for update, if ``principal`` may edit it.

    Raises
    ------
    NotFound
        No current boundary has the code.
    Forbidden
        The user may not edit there.
    """
    require_editor(principal)
    b = get_boundary(session, kind, code, lock=True)
    if not may_edit(principal, b):
        raise Forbidden()
    return b


def feature(session: Session, kind: str, code: str) -> dict[str, Any]:
    """The boundary as a GeoJSON Feature (single parts sent as Polygon, for Leaflet.draw)."""
    table = "village" if kind == "village" else "grid"
    extra = "level" if kind == "grid" else "NULL"
    alive = " AND valid_to IS NULL" if kind == "grid" else ""
    row = session.execute(
        text(
            f"SELECT id, code, name, {extra}, version, ST_AsGeoJSON(geom, 7)"
            f" FROM {table} WHERE code = :c{alive}"
        ),
        {"c": code},
    ).one_or_none()
    if row is None:
        raise NotFound(code)
    geometry = json.loads(row[5])
    if geometry["type"] == "MultiPolygon" and len(geometry["coordinates"]) == 1:
        geometry = {"type": "Polygon", "coordinates": geometry["coordinates"][0]}
    return {
        "type": "Feature",
        "id": f"{kind}:{row.code}",
        "geometry": geometry,
        "properties": {
            "kind": kind,
            "id": row.id,
            "code": row.code,
            "name": row.name,
            "level": row[3],
            "version": row.version,
        },
    }


def rule_for(kind: str, level: int | None) -> SizeRule | None:
    return SIZE_RULES.get((kind, level))


def count_households(session: Session, geom: MultiPolygon) -> int:
    """Households inside ``geom`` that the session's user may see (row-level security)."""
    return session.scalar(
        text("SELECT count(*) FROM household WHERE ST_Intersects(geom, ST_GeomFromText(:g, 4490))"),
        {"g": geom.wkt},
    )


# --- topology --------------------------------------------------------------------------


def _snap(session: Session, geom: MultiPolygon, kind: str, level: int | None, self_id: int | None):
    """Snap to the vertices and edges of the same-level neighbours and the parents nearby."""
    tol = SNAP_M / _M_PER_DEG
    table = "village" if kind == "village" else "grid"
    where = "" if kind == "village" else " AND valid_to IS NULL AND level <= :level"
    rows = session.scalars(
        text(
            f"SELECT ST_AsBinary(ST_Boundary(geom)) FROM {table}"
            f" WHERE ST_DWithin(geom, ST_GeomFromText(:g, 4490), :tol)"
            f" AND id IS DISTINCT FROM :self{where}"
        ),
        {"g": geom.wkt, "tol": tol, "self": self_id, "level": level},
    ).all()
    if not rows:
        return geom
    snapped = shapely.snap(geom, shapely.union_all(shapely.from_wkb([bytes(r) for r in rows])), tol)
    # Snapping can fold a thin part onto itself; then the drawn shape stands as it is.
    if isinstance(snapped, MultiPolygon) and snapped.is_valid and not snapped.is_empty:
        return snapped
    if isinstance(snapped, Polygon) and snapped.is_valid:
        return MultiPolygon([snapped])
    return geom


def _point(wkt: str | None) -> tuple[float, float] | None:
    if not wkt:
        return None
    p = shapely.from_wkt(wkt)
    return (round(p.x, 7), round(p.y, 7))


def _check_topology(
    session: Session,
    geom: MultiPolygon,
    b: Boundary | None,
    kind: str,
    level: int | None,
    parent_table: str,
    parent_id: int,
) -> None:
    params = {"g": geom.wkt, "pid": parent_id, "self": b.id if b else None, "level": level}
    outside = session.execute(
        text(
            "WITH g AS (SELECT ST_GeomFromText(:g, 4490) AS geom),"
            f" d AS (SELECT p.name, ST_CollectionExtract(ST_Difference(g.geom, p.geom), 3) AS geom"
            f" FROM g, {parent_table} p WHERE p.id = :pid)"
            " SELECT name, ST_Area(geom::geography), ST_AsText(ST_PointOnSurface(geom)) FROM d"
            " WHERE NOT ST_IsEmpty(geom)"
        ),
        params,
    ).one_or_none()
    if outside is not None and outside[1] > TOLERANCE_M2:
        raise ShapeRefused(
            f"超出上级边界「{outside[0]}」约 {outside[1]:.0f} 平方米 / reaches {outside[1]:.0f} m²"
            f" outside its parent «{outside[0]}»",
            where=_point(outside[2]),
            reason="outside_parent",
        )
    table = "village" if kind == "village" else "grid"
    same = "" if kind == "village" else " AND s.level = :level AND s.valid_to IS NULL"
    for name, code, area, at in session.execute(
        text(
            "WITH g AS (SELECT ST_GeomFromText(:g, 4490) AS geom)"
            " SELECT name, code, ST_Area(i::geography), ST_AsText(ST_PointOnSurface(i)) FROM ("
            "  SELECT s.name, s.code, ST_CollectionExtract(ST_Intersection(s.geom, g.geom), 3) i"
            f" FROM {table} s, g WHERE ST_Intersects(s.geom, g.geom)"
            f" AND s.id IS DISTINCT FROM :self{same}) x WHERE NOT ST_IsEmpty(i) ORDER BY 3 DESC"
        ),
        params,
    ):
        if area > TOLERANCE_M2:
            raise ShapeRefused(
                f"与「{name}」（{code}）重叠约 {area:.0f} 平方米 / overlaps «{name}» ({code}) by"
                f" {area:.0f} m²",
                where=_point(at),
                reason="overlap",
            )
    if b is None:
        return
    # Children must stay inside: a reshaped parent may not strand its grids.
    child_sql = (
        "SELECT c.name, c.code, ST_Area(d::geography), ST_AsText(ST_PointOnSurface(d)) FROM ("
        " SELECT c.name, c.code, ST_CollectionExtract(ST_Difference(c.geom,"
        " ST_GeomFromText(:g, 4490)), 3) d FROM grid c WHERE c.valid_to IS NULL AND "
        + ("c.level = 1 AND c.village_id = :self" if kind == "village" else "c.parent_id = :self")
        + ") c WHERE NOT ST_IsEmpty(d) ORDER BY 3 DESC LIMIT 1"
    )
    child = session.execute(text(child_sql), params).one_or_none()
    if child is not None and child[2] > TOLERANCE_M2:
        raise ShapeRefused(
            f"下级网格「{child[0]}」（{child[1]}）有约 {child[2]:.0f} 平方米落在新边界外，"
            "请先调整它"
            f" / the child grid «{child[0]}» ({child[1]}) would have {child[2]:.0f} m² outside:"
            " reshape it first",
            where=_point(child[3]),
            reason="child_outside",
        )


def _parent_of(session: Session, kind: str, level: int | None, b: Boundary | None, geom):
    """``(table, id)`` of the parent: kept on update, found by largest overlap on create."""
    if kind == "village" and b is not None:
        town = session.scalar(text("SELECT town_id FROM village WHERE id = :i"), {"i": b.id})
        return "town", town
    if b is not None:
        return ("village", b.village_id) if level == 1 else ("grid", b.parent_id)
    if kind == "village":  # a new village: the town holding most of it
        table, cond = "town", "TRUE"
    else:
        table = "village" if level == 1 else "grid"
        cond = "TRUE" if level == 1 else "level = :up AND valid_to IS NULL"
    parent = session.scalar(
        text(
            f"SELECT id FROM {table} WHERE {cond}"
            " AND ST_Intersects(geom, ST_GeomFromText(:g, 4490))"
            " ORDER BY ST_Area(ST_Intersection(geom, ST_GeomFromText(:g, 4490))) DESC LIMIT 1"
        ),
        {"g": geom.wkt, "up": (level or 1) - 1},
    )
    if parent is None:
        raise ShapeRefused(
            "边界不在任何上级区域内 / the boundary lies in no parent area",
            where=_point(geom.representative_point().wkt),
            reason="outside_parent",
        )
    return table, parent


def prepare(
    session: Session,
    kind: str,
    level: int | None,
    geometry: Any,
    *,
    srid: Any = None,
    current: Boundary | None = None,
) -> tuple[MultiPolygon, str, int]:
    """Parse, snap and check a shape; returns ``(geometry, parent_table, parent_id)``."""
    geom = parse_polygon(geometry, srid)
    parent_table, parent_id = _parent_of(session, kind, level, current, geom)
    geom = _snap(session, geom, kind, level, current.id if current else None)
    _check_topology(session, geom, current, kind, level, parent_table, parent_id)
    return geom, parent_table, parent_id
