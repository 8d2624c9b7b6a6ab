"""Editing street and lane centre lines: validate, snap the ends, keep the network whole.

The lane network feeds patrol routes (layers/patrol/network.py) and lane-captain
areas, so a line is stored only if

1. it is a valid, simple line in lon/lat (:func:`~layers.boundaries.ingress.parse_line`);
2. it lies inside its village (a street or lane belongs to one village);
3. its ends, when within :data:`SNAP_M` of another street or lane of the village,
   are moved onto it (a vertex if one is that close, else the nearest point of
   the line), so junctions really meet instead of missing by a metre;
4. the village's network does not fall into more pieces than before: a new
   line must touch the network, and a reshape or delete may not strand lines
   that hung on the old one.

Versions: streets and lanes carry a ``version`` counter (migration 0009), bumped
by every reshape or rename in the same ``UPDATE … WHERE version = :v``; a save
or delete over a version that is no longer the stored one is a 409 carrying
the current line, like every boundary.
"""

from __future__ import annotations

import json
import math
from typing import Any

import shapely
from shapely.geometry import LineString, MultiLineString, mapping
from shapely.ops import nearest_points
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts.access import Principal
from layers.boundaries.editing import SNAP_M, Conflict, Forbidden, require_editor
from layers.boundaries.ingress import ShapeRefused, parse_line
from layers.boundaries.saving import audit_change, clean_name, last_edit, write_shape
from layers.errors import Invalid, NotFound

LINE_KINDS = ("street", "lane")
#: Length a line may run outside its village before it is refused (m): rounding, not more.
OUTSIDE_M = 1.0
_DEFAULT_NAME = {"street": "新街道", "lane": "新巷道"}
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQ = 111_320.0


def _table(kind: str) -> str:
    if kind not in LINE_KINDS:
        raise NotFound(kind)
    return kind


def _id(code: str) -> int:
    if not code.isdigit() or len(code) > 9:
        raise NotFound(code)
    return int(code)


def may_edit_line(principal: Principal | None, village_id: int) -> bool:
    """The town edits every line; a village grant edits the lines of that village."""
    scope = principal.edit if principal else None
    if scope is None or scope.empty:
        return False
    return scope.all or village_id in scope.villages


def line_feature(session: Session, kind: str, code: str) -> dict[str, Any]:
    """A street or lane as a GeoJSON Feature; ``code`` is its id."""
    table = _table(kind)
    extra = "street_id" if kind == "lane" else "is_main"
    row = session.execute(
        text(
            f"SELECT id, name, village_id, {extra}, version, ST_AsGeoJSON(geom, 7)"
            f" FROM {table} WHERE id = :i AND geom IS NOT NULL"
        ),
        {"i": _id(code)},
    ).one_or_none()
    if row is None:
        raise NotFound(code)
    return _feature(kind, row)


def _feature(kind: str, row) -> dict[str, Any]:
    geometry = json.loads(row[5])
    if geometry["type"] == "MultiLineString" and len(geometry["coordinates"]) == 1:
        geometry = {"type": "LineString", "coordinates": geometry["coordinates"][0]}
    props = {
        "kind": kind,
        "id": row[0],
        "code": str(row[0]),
        "name": row[1],
        "village_id": row[2],
        "level": None,
        "version": row[4],
    }
    props["street_id" if kind == "lane" else "is_main"] = row[3]
    return {"type": "Feature", "id": f"{kind}:{row[0]}", "geometry": geometry, "properties": props}


def line_features(session: Session, kind: str, edit) -> dict[str, Any]:
    """The streets or lanes the ``edit`` scope may change (a village has a few dozen)."""
    table = _table(kind)
    if edit is None or edit.empty or not (edit.all or edit.villages):
        return {"type": "FeatureCollection", "features": []}
    extra = "street_id" if kind == "lane" else "is_main"
    where = "" if edit.all else " AND village_id = ANY(:v)"
    rows = session.execute(
        text(
            f"SELECT id, name, village_id, {extra}, version, ST_AsGeoJSON(geom, 7)"
            f" FROM {table} WHERE geom IS NOT NULL{where} ORDER BY id"
        ),
        {"v": sorted(edit.villages)},
    )
    return {"type": "FeatureCollection", "features": [_feature(kind, r) for r in rows]}


# --- checks ----------------------------------------------------------------------------


def _metres(lat: float) -> tuple[float, float]:
    return _M_PER_DEG_LON_EQ * math.cos(math.radians(lat)), _M_PER_DEG_LAT


def _dist_m(a, b, k: tuple[float, float]) -> float:
    return math.hypot((a[0] - b[0]) * k[0], (a[1] - b[1]) * k[1])


def _neighbours(session: Session, village_id: int, kind: str, self_id: int | None, geom):
    """Other streets and lanes of the village within the snap distance of ``geom``."""
    tol = SNAP_M / _M_PER_DEG_LAT * 2
    rows = session.scalars(
        text(
            "SELECT ST_AsBinary(geom) FROM street WHERE village_id = :v"
            " AND NOT (:k = 'street' AND id = :s)"
            " AND ST_DWithin(geom, ST_GeomFromText(:g, 4490), :t)"
            " UNION ALL SELECT ST_AsBinary(geom) FROM lane WHERE village_id = :v"
            " AND geom IS NOT NULL AND NOT (:k = 'lane' AND id = :s)"
            " AND ST_DWithin(geom, ST_GeomFromText(:g, 4490), :t)"
        ),
        {"v": village_id, "k": kind, "s": self_id or 0, "g": geom.wkt, "t": tol},
    ).all()
    return [shapely.from_wkb(bytes(r)) for r in rows]


def snap_ends(geom: MultiLineString, others: list) -> MultiLineString:
    """Move each end within :data:`SNAP_M` of another line onto it; pure geometry.

    A vertex of the other line is preferred (the junction then exists in both
    lines); otherwise the nearest point on it, which the patrol network splits
    at when it builds its graph.
    """
    if not others:
        return geom
    k = _metres(geom.centroid.y)
    vertices = [c for o in others for part in getattr(o, "geoms", [o]) for c in part.coords]
    parts = []
    for part in geom.geoms:
        coords = list(part.coords)
        for i in (0, -1):
            end = coords[i]
            best = min(vertices, key=lambda v, e=end: _dist_m(v, e, k))
            if _dist_m(best, end, k) <= SNAP_M:
                coords[i] = best
                continue
            near = None
            for o in others:
                p = nearest_points(o, shapely.Point(end))[0]
                d = _dist_m((p.x, p.y), end, k)
                if d <= SNAP_M and (near is None or d < near[0]):
                    near = (d, (p.x, p.y))
            if near is not None:
                coords[i] = near[1]
        if len(set(coords)) >= 2:
            parts.append(LineString(coords))
    if len(parts) != len(geom.geoms):
        raise ShapeRefused(
            "线太短，两端被吸附到了同一点 / the line is so short that both ends snapped together",
            where=(round(geom.centroid.x, 7), round(geom.centroid.y, 7)),
            reason="empty",
        )
    snapped = MultiLineString(parts)
    return snapped if snapped.is_simple else geom


def _village_of(session: Session, geom) -> int:
    vid = session.scalar(
        text(
            "SELECT id FROM village WHERE ST_Intersects(geom, ST_GeomFromText(:g, 4490))"
            " ORDER BY ST_Length(ST_Intersection(geom, ST_GeomFromText(:g, 4490))) DESC LIMIT 1"
        ),
        {"g": geom.wkt},
    )
    if vid is None:
        p = geom.interpolate(0.5, normalized=True)
        raise ShapeRefused(
            "线不在任何村/社区内 / the line lies in no village",
            where=(round(p.x, 7), round(p.y, 7)),
            reason="outside_parent",
        )
    return vid


def _check_inside(session: Session, geom, village_id: int) -> None:
    name, outside, at = session.execute(
        text(
            "WITH d AS (SELECT v.name, ST_Difference(ST_GeomFromText(:g, 4490), v.geom) AS geom"
            " FROM village v WHERE v.id = :v)"
            " SELECT name, ST_Length(geom::geography),"
            " ST_AsText(ST_PointOnSurface(geom)) FROM d"
        ),
        {"g": geom.wkt, "v": village_id},
    ).one()
    if outside > OUTSIDE_M:
        p = shapely.from_wkt(at)
        raise ShapeRefused(
            f"有约 {outside:.0f} 米超出所属村/社区「{name}」 / about {outside:.0f} m run outside"
            f" its village «{name}»",
            where=(round(p.x, 7), round(p.y, 7)),
            reason="outside_parent",
        )


def _pieces(session: Session, village_id: int, kind: str, self_id: int | None, geom) -> int:
    """Connected pieces of the village's street and lane network, with ``geom`` in place of
    line ``self_id`` (``geom`` None: without it)."""
    return session.scalar(
        text(
            "WITH net AS ("
            " SELECT geom FROM street WHERE village_id = :v AND NOT (:k = 'street' AND id = :s)"
            " UNION ALL SELECT geom FROM lane WHERE village_id = :v AND geom IS NOT NULL"
            " AND NOT (:k = 'lane' AND id = :s)"
            " UNION ALL SELECT ST_GeomFromText(:g, 4490) WHERE CAST(:g AS text) IS NOT NULL)"
            " SELECT count(DISTINCT c) FROM ("
            " SELECT ST_ClusterDBSCAN(geom, eps := :eps, minpoints := 1) OVER () c FROM net) x"
        ),
        {
            "v": village_id,
            "k": kind,
            "s": self_id or 0,
            "g": geom.wkt if geom is not None else None,
            # About a centimetre: snapped ends meet up to floating-point rounding.
            "eps": 1e-7,
        },
    )


def _check_network(
    session: Session, village_id: int, kind: str, self_id: int | None, geom, *, before: int
) -> None:
    after = _pieces(session, village_id, kind, self_id, geom)
    if after <= max(before, 1):
        return
    if geom is not None and self_id is None:
        p = geom.geoms[0].coords[0]
        raise ShapeRefused(
            f"新线没有连到任何街巷（两端 {SNAP_M:.0f} 米内没有其他线）/ the new line touches no"
            f" street or lane (no other line within {SNAP_M:.0f} m of its ends)",
            where=(round(p[0], 7), round(p[1], 7)),
            reason="disconnected",
        )
    raise ShapeRefused(
        f"这样会把本村街巷网分成 {after} 块（原为 {before} 块），请先调整连在它上面的线 /"
        f" this would break the village's network into {after} pieces (now {before}):"
        " move the lines hanging on it first",
        reason="disconnected",
    )


def _prepare(session: Session, kind: str, body: dict[str, Any], village_id: int | None, self_id):
    geom = parse_line(body.get("geometry"), body.get("srid"))
    if village_id is None:
        village_id = _village_of(session, geom)
    geom = snap_ends(geom, _neighbours(session, village_id, kind, self_id, geom))
    _check_inside(session, geom, village_id)
    return geom, village_id


# --- writing ---------------------------------------------------------------------------


def _locked(session: Session, kind: str, code: str):
    row = session.execute(
        text(
            "SELECT id, village_id, name, version, ST_AsText(geom) AS wkt"
            f" FROM {_table(kind)} WHERE id = :i AND geom IS NOT NULL FOR UPDATE"
        ),
        {"i": _id(code)},
    ).one_or_none()
    if row is None:
        raise NotFound(code)
    return row


def _version(value: Any) -> int:
    """The version the editor loaded: an integer in JSON, or digits in a query string."""
    if isinstance(value, str) and value.isdigit() and len(value) <= 9:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise Invalid("缺少版本号 version / the version you loaded is required", "version")
    return value


def _editable(session: Session, principal: Principal | None, kind: str, code: str, version):
    require_editor(principal)
    row = _locked(session, kind, code)
    if not may_edit_line(principal, row.village_id):
        raise Forbidden()
    version = _version(version)
    if version != row.version:
        raise Conflict(line_feature(session, kind, code), *last_edit(session, kind, code))
    return row


def create_line(
    session: Session, principal: Principal, kind: str, body: dict[str, Any], ip: str | None = None
) -> dict[str, Any]:
    """Store a new street or lane in the village that holds most of it; returns its feature.

    A new lane is attached to the street it touches, if any.

    Raises
    ------
    Forbidden
        When the user may not edit in that village.
    ShapeRefused, Invalid
        For a line that cannot be stored (outside the village, touching no
        street or lane, invalid) or a bad name.
    """
    table = _table(kind)
    require_editor(principal)
    geom, village_id = _prepare(session, kind, body, None, None)
    if not may_edit_line(principal, village_id):
        raise Forbidden()
    before = _pieces(session, village_id, kind, None, None)
    _check_network(session, village_id, kind, None, geom, before=before)
    name = clean_name(body.get("name"), _DEFAULT_NAME[kind])
    if kind == "lane":
        new_id = session.scalar(
            text(
                "INSERT INTO lane (village_id, street_id, name, geom) VALUES (:v, (SELECT s.id"
                " FROM street s WHERE s.village_id = :v AND ST_DWithin(s.geom,"
                " ST_GeomFromText(:g, 4490), 1e-7) ORDER BY s.id LIMIT 1), :n,"
                " ST_GeomFromText(:g, 4490)) RETURNING id"
            ),
            {"v": village_id, "n": name, "g": geom.wkt},
        )
    else:
        new_id = session.scalar(
            text(
                f"INSERT INTO {table} (village_id, name, geom)"
                " VALUES (:v, :n, ST_GeomFromText(:g, 4490)) RETURNING id"
            ),
            {"v": village_id, "n": name, "g": geom.wkt},
        )
    audit_change(
        session,
        principal,
        "boundary.create",
        kind,
        new_id,
        {"village_id": village_id, "version": 1},
        ip,
    )
    return line_feature(session, kind, str(new_id))


def update_line(
    session: Session,
    principal: Principal,
    kind: str,
    code: str,
    body: dict[str, Any],
    ip: str | None = None,
) -> dict[str, Any]:
    """Reshape (and optionally rename) the street or lane ``code`` loaded at ``body["version"]``.

    The line stays in its village. Raises :class:`Conflict` when the stored
    line changed since it was loaded (nothing is written then).
    """
    row = _editable(session, principal, kind, code, body.get("version"))
    geom, _ = _prepare(session, kind, body, row.village_id, row.id)
    before = _pieces(session, row.village_id, kind, None, None)
    _check_network(session, row.village_id, kind, row.id, geom, before=before)
    name = clean_name(body.get("name"), row.name)
    # The row is locked FOR UPDATE by _editable: the version cannot move under us.
    write_shape(session, kind, row.id, row.version, geom, name)
    audit_change(
        session,
        principal,
        "boundary.update",
        kind,
        code,
        {
            "version": row.version + 1,
            "previous": mapping(shapely.from_wkt(row.wkt)),
            "name": row.name,
        },
        ip,
    )
    return line_feature(session, kind, code)


def delete_line(
    session: Session,
    principal: Principal,
    kind: str,
    code: str,
    version: Any,
    ip: str | None = None,
) -> None:
    """Delete a street or lane nothing else refers to, if the network stays in one piece.

    Raises
    ------
    Invalid
        When households are addressed on the lane, or lanes belong to the street:
        move them first (deleting would silently drop their address).
    ShapeRefused
        When lines hanging on it would be left on their own.
    """
    row = _editable(session, principal, kind, code, version)
    if kind == "lane":
        users = session.scalar(
            text("SELECT count(*) FROM household WHERE lane_id = :i"), {"i": row.id}
        )
        what = ("户", "households")
    else:
        users = session.scalar(
            text("SELECT count(*) FROM lane WHERE street_id = :i"), {"i": row.id}
        )
        what = ("条巷道", "lanes")
    if users:
        raise Invalid(
            f"还有 {users} {what[0]}登记在「{row.name}」上，请先改到别处 / {users} {what[1]}"
            f" are recorded on «{row.name}»: move them first",
            "code",
        )
    before = _pieces(session, row.village_id, kind, None, None)
    _check_network(session, row.village_id, kind, row.id, None, before=before)
    session.execute(text(f"DELETE FROM {kind} WHERE id = :i"), {"i": row.id})
    audit_change(
        session,
        principal,
        "boundary.delete",
        kind,
        code,
        {"version": row.version, "previous": mapping(shapely.from_wkt(row.wkt)), "name": row.name},
        ip,
    )
