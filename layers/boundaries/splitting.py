"""Splitting a grid in two along a line the officer draws across it.

The cut is exact: both parts come out of one ``shapely.ops.split``, so they
share the cut edge vertex for vertex and together cover the old shape. The
part holding more households keeps the grid's code, its team and its history;
the other part becomes a new sibling with the next free code of its level
(:func:`layers.boundaries.saving.next_code`, the 三级网格 scheme the demo uses:
village code + two digits per level). Everything happens in the caller's
transaction: the old shape goes to the audit log, households are re-assigned,
and a refusal raises before anything is written.

What is refused, and why
------------------------
* a line that does not cross the shape from outside to outside (nothing to cut);
* a line that cuts it into more than two parts (a split makes exactly two);
* a part thinner than :data:`MIN_WIDTH_M` or smaller than :data:`MIN_AREA_M2`:
  a sliver is a drawing slip, not a grid;
* a level-1 grid (one per village: split the village instead,
  :mod:`layers.boundaries.village_split`);
* a level-2 grid whose children would be cut (split the child first).

A level-2 grid whose children lie on both sides is split: the children on the
new side move under the new grid and are recoded under its code
(:mod:`layers.boundaries.recoding`), keeping their ids, so their households,
incidents, teams and history stay with them.
* a stale version (:class:`~layers.boundaries.editing.Conflict`), or a grid
  outside the user's areas (:class:`~layers.boundaries.editing.Forbidden`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.ops import split as shapely_split
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts.access import Principal
from layers.boundaries.editing import (
    TOLERANCE_M2,
    Boundary,
    SizeRule,
    count_households,
    editable,
    feature,
    rule_for,
)
from layers.boundaries.ingress import ShapeRefused, parse_line
from layers.boundaries.recoding import Recode, apply_recodes, child_code, plan_recodes
from layers.boundaries.saving import (
    audit_change,
    check_version,
    clean_name,
    default_grid_name,
    next_code,
    reassign_households,
    write_shape,
)

#: A part smaller than this is a slip of the mouse, not a grid (m²).
MIN_AREA_M2 = 100.0
#: A part must be at least this wide somewhere (m): a strip along an edge is a sliver.
MIN_WIDTH_M = 3.0
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQ = 111_320.0


@dataclass(frozen=True)
class Part:
    """One side of a split: its shape, households inside, and whether it keeps the code."""

    geom: MultiPolygon
    households: int
    area_m2: float
    keeps: bool


@dataclass(frozen=True)
class Split:
    """The two parts (the one keeping the code first) and, once stored, their features."""

    boundary: Boundary
    parts: tuple[Part, Part]
    rule: SizeRule | None
    new_code: str
    features: tuple[dict[str, Any], dict[str, Any]] | None = None
    #: Children of a level-2 grid that move under the new grid, with their new codes.
    recodes: tuple[Recode, ...] = ()


def _metric(geom, lat0: float):
    """``geom`` in local metres (equirectangular at ``lat0``): exact enough within a grid."""
    kx = _M_PER_DEG_LON_EQ * math.cos(math.radians(lat0))
    return shapely.transform(geom, lambda xy: xy * [kx, _M_PER_DEG_LAT])


def _point(p) -> tuple[float, float]:
    return (round(p.x, 7), round(p.y, 7))


def cut(shape: MultiPolygon, line) -> tuple[MultiPolygon, MultiPolygon]:
    """Cut ``shape`` in two along ``line``; pure geometry, no database.

    Parts of a multi-part shape that the line does not touch go with the piece
    nearest to them.

    Raises
    ------
    ShapeRefused
        When the line does not cross the shape fully (``reason="not_crossing"``),
        makes more than two pieces (``"too_many_parts"``), or leaves a sliver
        (``"sliver"``); ``where`` points at the problem.
    """
    pieces: list[Polygon] = []
    untouched: list[Polygon] = []
    for part in shape.geoms:
        out = [g for g in shapely_split(part, line).geoms if g.area > 0]
        if len(out) == 1:
            untouched.append(part)
        else:
            pieces += out
    if not pieces:
        # Either it stops inside (then say where it ends) or it misses the shape.
        inside = [p for p in _ends(line) if shape.contains(shapely.Point(p))]
        where = inside[0] if inside else _point(line.interpolate(0.5, normalized=True))
        raise ShapeRefused(
            "分割线须从边界外穿过整个区域到另一侧边界外 / the cut line must cross the whole"
            " shape, from outside to outside",
            where=where,
            reason="not_crossing",
        )
    if len(pieces) > 2:
        where = _point(shapely.intersection(line, pieces[2].boundary).representative_point())
        raise ShapeRefused(
            f"分割线把区域分成了 {len(pieces)} 块，一次只能分成两块 / the line cuts the shape into"
            f" {len(pieces)} pieces; a split makes exactly two",
            where=where,
            reason="too_many_parts",
        )
    a, b = [pieces[0]], [pieces[1]]
    for part in untouched:
        (a if part.distance(pieces[0]) <= part.distance(pieces[1]) else b).append(part)
    lat0 = shape.centroid.y
    for group in (a, b):
        merged = shapely.union_all(group)
        m = _metric(merged, lat0)
        thin = m.buffer(-MIN_WIDTH_M / 2).is_empty
        if m.area < MIN_AREA_M2 or thin:
            raise ShapeRefused(
                f"分割后有一块太小或太窄（约 {m.area:.0f} 平方米），请重画分割线"
                f" / one part would be a sliver (about {m.area:.0f} m², under"
                f" {MIN_WIDTH_M:.0f} m wide or under {MIN_AREA_M2:.0f} m²): draw the line again",
                where=_point(merged.representative_point()),
                reason="sliver",
            )
    return MultiPolygon(a), MultiPolygon(b)


def _ends(line) -> list[tuple[float, float]]:
    out = []
    for part in getattr(line, "geoms", [line]):
        out += [part.coords[0], part.coords[-1]]
    return out


def _area_m2(session: Session, geom: MultiPolygon) -> float:
    return session.scalar(
        text("SELECT ST_Area(ST_GeomFromText(:g, 4490)::geography)"), {"g": geom.wkt}
    )


def _children_sides(
    session: Session, b: Boundary, a: MultiPolygon, c: MultiPolygon
) -> list[tuple[int, int]]:
    """``(child id, part 0 or 1)`` for each current child of a level-2 grid, in code order.

    Raises
    ------
    ShapeRefused
        When the line cuts a child (``reason="child_cut"``, ``where`` on the cut).
    """
    out = []
    for gid, name, code, in_a, in_b, at in session.execute(
        text(
            "SELECT c.id, c.name, c.code,"
            " ST_Area(ST_Intersection(c.geom, ST_GeomFromText(:a, 4490))::geography),"
            " ST_Area(ST_Intersection(c.geom, ST_GeomFromText(:b, 4490))::geography),"
            " ST_AsText(ST_PointOnSurface(ST_Intersection(c.geom,"
            "   ST_Boundary(ST_GeomFromText(:b, 4490)))))"
            " FROM grid c WHERE c.parent_id = :i AND c.valid_to IS NULL ORDER BY c.code"
        ),
        {"a": a.wkt, "b": c.wkt, "i": b.id},
    ):
        if in_a > TOLERANCE_M2 and in_b > TOLERANCE_M2:
            p = shapely.from_wkt(at) if at else None
            raise ShapeRefused(
                f"分割线穿过下级网格「{name}」（{code}），请先分割它 / the line cuts the child grid"
                f" «{name}» ({code}): split it first",
                where=_point(p) if p is not None and not p.is_empty else None,
                reason="child_cut",
            )
        out.append((gid, 0 if in_a >= in_b else 1))
    return out


def plan_split(
    session: Session, principal: Principal, kind: str, code: str, body: dict[str, Any]
) -> Split:
    """Check a split of ``kind``/``code`` along ``body["line"]`` and work out its parts.

    Nothing is written; :func:`split_boundary` stores what this returns.

    Parameters
    ----------
    body : dict
        ``version`` (the one the officer loaded), ``line`` (a GeoJSON LineString in
        lon/lat), optionally ``srid``.

    Raises
    ------
    Forbidden, NotFound
        Outside the user's areas; no such current boundary.
    Conflict
        The version is stale.
    ShapeRefused
        For a line or a result that cannot be stored (see the module notes).
    """
    b = editable(session, principal, kind, code)
    check_version(session, b, body.get("version"))
    if kind != "grid" or b.level == 1:
        raise ShapeRefused(
            "一级网格每村只有一个，请分割村/社区本身 / a village has one level-1 grid: split"
            " the village itself instead",
            reason="not_splittable",
        )
    line = parse_line(body.get("line"), body.get("srid"))
    shape = shapely.from_wkt(
        session.scalar(text("SELECT ST_AsText(geom) FROM grid WHERE id = :i"), {"i": b.id})
    )
    first, second = cut(shape, line)
    children = _children_sides(session, b, first, second) if b.level == 2 else []
    counts = [count_households(session, g) for g in (first, second)]
    areas = [_area_m2(session, g) for g in (first, second)]
    sides = {side for _, side in children}
    if len(sides) == 1:
        # All children on one side: that side keeps the code, and no child is recoded.
        side = sides.pop()
    else:
        # The side with more households keeps the code: most people keep their grid team.
        side = 0 if (counts[0], areas[0]) >= (counts[1], areas[1]) else 1
    order = (side, 1 - side)
    geoms = (first, second)
    parts = tuple(Part(geoms[i], counts[i], areas[i], keeps=(n == 0)) for n, i in enumerate(order))
    new_code = next_code(session, b.level, "grid", b.parent_id)
    moving = [gid for gid, s in children if s != side]
    village = session.scalar(text("SELECT name FROM village WHERE id = :i"), {"i": b.village_id})
    recodes = plan_recodes(
        session,
        [(gid, child_code(new_code, b.level + 1, n)) for n, gid in enumerate(moving, start=1)],
        village_names=(village, village),
    )
    return Split(b, parts, rule_for(kind, b.level), new_code, recodes=tuple(recodes))


def split_boundary(
    session: Session,
    principal: Principal,
    kind: str,
    code: str,
    body: dict[str, Any],
    ip: str | None = None,
) -> Split:
    """Split a grid in two along ``body["line"]`` and store both parts, in one transaction.

    The grid keeps its code, id, team and history on the part returned first;
    the other part is inserted as a new grid (``body["name"]`` or a default name).

    Raises
    ------
    Forbidden, NotFound, Conflict, ShapeRefused
        As :func:`plan_split`; nothing is written then.
    """
    plan = plan_split(session, principal, kind, code, body)
    b, (keep, new) = plan.boundary, plan.parts
    old = session.scalar(text("SELECT ST_AsText(geom) FROM grid WHERE id = :i"), {"i": b.id})
    village = session.execute(
        text("SELECT id, name FROM village WHERE id = :i"), {"i": b.village_id}
    ).one()
    name = clean_name(body.get("name"), default_grid_name(village.name, plan.new_code, b.level))
    if not write_shape(session, "grid", b.id, b.version, keep.geom):
        # The row is locked FOR UPDATE by editable(): this cannot race.
        raise RuntimeError("grid changed under a row lock")
    new_id = session.scalar(
        text(
            "INSERT INTO grid (code, level, parent_id, parent_level, village_id, name, geom)"
            " VALUES (:c, :l, :p, :pl, :v, :n, ST_GeomFromText(:g, 4490)) RETURNING id"
        ),
        {
            "c": plan.new_code,
            "l": b.level,
            "p": b.parent_id,
            "pl": b.level - 1,
            "v": b.village_id,
            "n": name,
            "g": new.geom.wkt,
        },
    )
    if plan.recodes:
        roots = {r.id for r in plan.recodes if r.level == b.level + 1}
        apply_recodes(
            session,
            principal,
            list(plan.recodes),
            parent_of=dict.fromkeys(roots, new_id),
            village_id=b.village_id,
            reason=f"split of {b.code}",
            ip=ip,
        )
    reassign_households(session, b.level, old)
    households = [count_households(session, p.geom) for p in (keep, new)]
    audit_change(
        session,
        principal,
        "boundary.split",
        "grid",
        b.code,
        {
            "version": b.version + 1,
            "households": households[0],
            "new_code": plan.new_code,
            "moved_children": {r.old_code: r.new_code for r in plan.recodes},
            "previous": mapping(shapely.from_wkt(old)),
        },
        ip,
    )
    audit_change(
        session,
        principal,
        "boundary.split",
        "grid",
        plan.new_code,
        {"version": 1, "households": households[1], "split_from": b.code},
        ip,
    )
    parts = (
        Part(keep.geom, households[0], keep.area_m2, True),
        Part(new.geom, households[1], new.area_m2, False),
    )
    features = (feature(session, "grid", b.code), feature(session, "grid", plan.new_code))
    return Split(b, parts, plan.rule, plan.new_code, features, plan.recodes)


def part_features(
    kind: str, parts: tuple[Part, Part], codes: tuple[str, str], names: tuple, level, version
) -> tuple[dict[str, Any], dict[str, Any]]:
    """GeoJSON features of the two planned parts (the one keeping the code first).

    ``version`` goes to the part that keeps the code; the new part has none yet.
    """
    out = []
    for part, code, name in zip(parts, codes, names, strict=True):
        geometry = mapping(part.geom.geoms[0] if len(part.geom.geoms) == 1 else part.geom)
        out.append(
            {
                "type": "Feature",
                "id": f"{kind}:{code}",
                "geometry": geometry,
                "properties": {
                    "kind": kind,
                    "code": code,
                    "name": name,
                    "level": level,
                    "version": version if part.keeps else None,
                },
            }
        )
    return out[0], out[1]


def preview_features(plan: Split) -> tuple[dict[str, Any], dict[str, Any]]:
    """GeoJSON features of planned parts, for the page to draw before the officer confirms."""
    b = plan.boundary
    return part_features(
        "grid", plan.parts, (b.code, plan.new_code), (b.name, None), b.level, b.version
    )
