"""Splitting a village (村/社区) in two along a line: the town administrator's tool.

The outline is cut exactly as a grid is (:func:`layers.boundaries.splitting.cut`).
The part holding more households keeps the village's code, id and everything
that hangs on them; the other part becomes a new village with the next free
village code of the town (:func:`layers.boundaries.villages.next_village_code`).

What moves to the new village, keeping ids:

* level-2 grids entirely on the new side, with their children, recoded under
  the new village's level-1 grid (:mod:`layers.boundaries.recoding`);
* households on the new side (their level-3 grid is re-pointed when it stayed
  behind), the persons of those households, and incidents in moved grids or
  lying on the new side;
* captain areas entirely on the new side (recoded to the new village's prefix);
  captain areas the line cuts are re-made for both villages by the gridding
  engine (:func:`layers.captains.gridrun.run_gridding`, incremental: areas
  not touched keep their codes and captains);
* streets and lanes with most of their length on the new side. A line crossing
  the new boundary is reported, not cut: its households and junctions would
  otherwise change under the officer.

The line is snapped to the grid edges within :data:`~layers.boundaries.editing.SNAP_M`,
since nobody draws exactly on an edge. A grid the line still cuts is refused,
naming the grid and marking the place: split that grid first. Patrol routes,
tracks, plans, gridding runs, grants and duties on the village stay with the
old village: they are its history. Everything happens in the caller's
transaction; the audit log keeps the old shapes and codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, mapping
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts.access import Principal
from layers.boundaries.editing import (
    SNAP_M,
    TOLERANCE_M2,
    Boundary,
    Forbidden,
    count_households,
    editable,
    feature,
)
from layers.boundaries.ingress import ShapeRefused, parse_line
from layers.boundaries.recoding import Recode, apply_recodes, child_code, plan_recodes
from layers.boundaries.saving import audit_change, check_version, clean_name
from layers.boundaries.splitting import Part, cut, part_features
from layers.boundaries.villages import VILLAGE_KINDS, next_village_code
from layers.captains.gridrun import run_gridding
from layers.errors import Invalid

#: Length a street or lane may run on the other side before it is reported (m).
CROSSING_M = 1.0
_M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class VillageSplit:
    """A planned (or stored) village split.

    ``parts`` holds the part keeping the code first; ``moves`` counts what goes
    to the new village; ``crossing`` lists streets and lanes on both sides;
    ``regrid`` is the gridding summary once stored (``None`` when no captain
    area was cut).
    """

    village: Boundary
    parts: tuple[Part, Part]
    new_code: str
    new_name: str
    new_kind: str
    recodes: tuple[Recode, ...]
    moves: dict[str, int]
    crossing: tuple[dict[str, Any], ...]
    features: tuple[dict[str, Any], dict[str, Any]] | None = None
    regrid: dict[str, Any] | None = field(default=None)


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


def _moves(
    session: Session, b: Boundary, keep: MultiPolygon, new: MultiPolygon, grids: list[int]
) -> dict:
    """What goes to the new village (counts), and the streets and lanes on both sides.

    The same rules as :func:`split_village` applies, read without writing.
    """
    p = {"v": b.id, "k": keep.wkt, "n": new.wkt, "t": TOLERANCE_M2, "g": grids}
    counts = session.execute(
        text(
            "WITH k AS (SELECT ST_GeomFromText(:k, 4490) g),"
            " n AS (SELECT ST_GeomFromText(:n, 4490) g) SELECT"
            " (SELECT count(*) FROM household h, k, n WHERE h.village_id = :v"
            "   AND (h.grid_id = ANY(:g) OR (ST_Intersects(h.geom, n.g)"
            "   AND NOT ST_Intersects(h.geom, k.g)))),"
            " (SELECT count(*) FROM person p JOIN household h ON h.id = p.household_id, k, n"
            "   WHERE p.village_id = :v AND h.village_id = :v AND (h.grid_id = ANY(:g)"
            "   OR (ST_Intersects(h.geom, n.g) AND NOT ST_Intersects(h.geom, k.g)))),"
            " (SELECT count(*) FROM incident i, k, n WHERE i.village_id = :v"
            "   AND (i.grid_id = ANY(:g) OR (ST_Intersects(i.geom, n.g)"
            "   AND NOT ST_Intersects(i.geom, k.g)))),"
            " (SELECT count(*) FROM captain_area a, k WHERE a.village_id = :v"
            "   AND ST_Area(ST_Intersection(a.geom, k.g)::geography) <= :t),"
            " (SELECT count(*) FROM captain_area a, k, n WHERE a.village_id = :v"
            "   AND ST_Area(ST_Intersection(a.geom, k.g)::geography) > :t"
            "   AND ST_Area(ST_Intersection(a.geom, n.g)::geography) > :t)"
        ),
        p,
    ).one()
    crossing = []
    lines_moving = {"street": 0, "lane": 0}
    for kind in ("street", "lane"):
        for lid, name, on_k, on_n in session.execute(
            text(
                "WITH k AS (SELECT ST_GeomFromText(:k, 4490) g),"
                " n AS (SELECT ST_GeomFromText(:n, 4490) g)"
                " SELECT x.id, x.name, ST_Length(ST_Intersection(x.geom, k.g)::geography),"
                " ST_Length(ST_Intersection(x.geom, n.g)::geography)"
                f" FROM {kind} x, k, n WHERE x.village_id = :v AND x.geom IS NOT NULL"
                " AND ST_Intersects(x.geom, n.g) ORDER BY x.id"
            ),
            p,
        ):
            if on_n > on_k:
                lines_moving[kind] += 1
            if on_k > CROSSING_M and on_n > CROSSING_M:
                crossing.append({"kind": kind, "id": lid, "name": name})
    moves = {
        "households": counts[0],
        "persons": counts[1],
        "incidents": counts[2],
        "captain_areas": counts[3],
        "captain_areas_cut": counts[4],
        "streets": lines_moving["street"],
        "lanes": lines_moving["lane"],
    }
    return {"moves": moves, "crossing": tuple(crossing)}


def plan_village_split(
    session: Session, principal: Principal, code: str, body: dict[str, Any]
) -> VillageSplit:
    """Check a split of village ``code`` along ``body["line"]`` and work out what moves.

    Nothing is written; :func:`split_village` stores what this returns.

    Parameters
    ----------
    body : dict
        ``version`` (the one loaded), ``line`` (a GeoJSON LineString in lon/lat),
        optionally ``name`` and ``kind`` of the new village and ``srid``.

    Raises
    ------
    Forbidden
        Unless the user edits the whole town (town administrator).
    NotFound, Conflict
        No such village; a stale version.
    ShapeRefused
        For a line that does not cut the village in two proper parts, or cuts a grid.
    """
    b = editable(session, principal, "village", code)
    if not principal.edit.all:  # a village outline is the town's business
        raise Forbidden()
    check_version(session, b, body.get("version"))
    kind = body.get("kind")
    if kind is not None and kind not in VILLAGE_KINDS:
        raise Invalid("类型应为 village 或 community / kind must be village or community", "kind")
    line = snap_line(session, b.id, parse_line(body.get("line"), body.get("srid")))
    # The village's grids are read to decide what moves and then rewritten: hold them.
    session.execute(
        text("SELECT id FROM grid WHERE village_id = :v AND valid_to IS NULL FOR UPDATE"),
        {"v": b.id},
    )
    shape = shapely.from_wkt(
        session.scalar(text("SELECT ST_AsText(geom) FROM village WHERE id = :i"), {"i": b.id})
    )
    pieces = cut(shape, line)
    sides = _grid_sides(session, b.id, pieces, line)
    counts = [count_households(session, g) for g in pieces]
    areas = [
        session.scalar(text("SELECT ST_Area(ST_GeomFromText(:g, 4490)::geography)"), {"g": g.wkt})
        for g in pieces
    ]
    # The side with more households keeps the code: most people keep their village.
    side = 0 if (counts[0], areas[0]) >= (counts[1], areas[1]) else 1
    keep, new = pieces[side], pieces[1 - side]
    parts = (
        Part(keep, counts[side], areas[side], True),
        Part(new, counts[1 - side], areas[1 - side], False),
    )
    town_id, old_name, old_kind = session.execute(
        text("SELECT town_id, name, kind FROM village WHERE id = :i"), {"i": b.id}
    ).one()
    new_code = next_village_code(session, town_id)
    new_name = clean_name(body.get("name"), f"新建村{int(new_code[10:]):02d}")
    moving = [gid for gid, s in sides.items() if s != side]
    codes = dict(
        session.execute(text("SELECT id, code FROM grid WHERE id = ANY(:i)"), {"i": moving}).all()
    )
    moving.sort(key=lambda g: codes[g])
    recodes = plan_recodes(
        session,
        [(gid, child_code(new_code + "0000", 2, n)) for n, gid in enumerate(moving, start=1)],
        village_names=(old_name, new_name),
    )
    extra = _moves(session, b, keep, new, [r.id for r in recodes])
    extra["moves"]["grids"] = len(recodes)
    return VillageSplit(
        b,
        parts,
        new_code,
        new_name,
        kind or old_kind,
        tuple(recodes),
        extra["moves"],
        extra["crossing"],
    )


def split_village(
    session: Session,
    principal: Principal,
    code: str,
    body: dict[str, Any],
    ip: str | None = None,
) -> VillageSplit:
    """Split village ``code`` in two along ``body["line"]`` and store everything that moves.

    One transaction (the caller's): the village keeps its code, id and version
    history on the part returned first; the new village gets its level-1 grid,
    the grids, households, persons, incidents, captain areas, streets and lanes
    of its side, and captain areas cut by the line are re-made for both.

    Raises
    ------
    Forbidden, NotFound, Conflict, ShapeRefused
        As :func:`plan_village_split`; nothing is written then.
    Invalid
        When the gridding engine cannot re-make the cut captain areas.
    """
    plan = plan_village_split(session, principal, code, body)
    b, (keep, new) = plan.village, plan.parts
    old_id = b.id
    old_wkt, town_id = session.execute(
        text("SELECT ST_AsText(geom), town_id FROM village WHERE id = :i"), {"i": old_id}
    ).one()
    done = session.execute(
        text(
            "UPDATE village SET geom = ST_GeomFromText(:g, 4490), version = version + 1"
            " WHERE id = :i AND version = :v"
        ),
        {"g": keep.geom.wkt, "i": old_id, "v": b.version},
    ).rowcount
    if done != 1:  # the row is locked FOR UPDATE by editable(): this cannot race
        raise RuntimeError("village changed under a row lock")
    new_id = session.scalar(
        text(
            "INSERT INTO village (town_id, code, name, kind, geom)"
            " VALUES (:t, :c, :n, :k, ST_GeomFromText(:g, 4490)) RETURNING id"
        ),
        {
            "t": town_id,
            "c": plan.new_code,
            "n": plan.new_name,
            "k": plan.new_kind,
            "g": new.geom.wkt,
        },
    )
    # Level-1 grids: one per village, the village's outline.
    level1 = session.execute(
        text(
            "SELECT id, code, ST_AsText(geom) FROM grid WHERE village_id = :v AND level = 1"
            " AND valid_to IS NULL"
        ),
        {"v": old_id},
    ).one_or_none()
    if level1 is not None:
        session.execute(
            text(
                "UPDATE grid SET geom = ST_GeomFromText(:g, 4490), version = version + 1"
                " WHERE id = :i"
            ),
            {"g": keep.geom.wkt, "i": level1.id},
        )
        audit_change(
            session,
            principal,
            "boundary.update",
            "grid",
            level1.code,
            {"split_of": b.code, "previous": mapping(shapely.from_wkt(level1[2]))},
            ip,
        )
    new_level1 = session.scalar(
        text(
            "INSERT INTO grid (code, level, village_id, name, geom)"
            " VALUES (:c, 1, :v, :n, ST_GeomFromText(:g, 4490)) RETURNING id"
        ),
        {
            "c": plan.new_code + "0000",
            "v": new_id,
            "n": plan.new_name + "网格",
            "g": new.geom.wkt,
        },
    )
    roots = {r.id for r in plan.recodes if r.level == 2}
    apply_recodes(
        session,
        principal,
        list(plan.recodes),
        parent_of=dict.fromkeys(roots, new_level1),
        village_id=new_id,
        reason=f"split of village {b.code}",
        ip=ip,
    )
    moved_grids = [r.id for r in plan.recodes]
    p = {"old": old_id, "new": new_id, "k": keep.geom.wkt, "n": new.geom.wkt, "g": moved_grids}
    # Households: where they are (and those whose grid moved), then their grid put right.
    households = session.execute(
        text(
            "UPDATE household SET village_id = :new, version = version + 1"
            " WHERE village_id = :old AND (grid_id = ANY(:g)"
            " OR (ST_Intersects(geom, ST_GeomFromText(:n, 4490))"
            "     AND NOT ST_Intersects(geom, ST_GeomFromText(:k, 4490))))"
        ),
        p,
    ).rowcount
    session.execute(
        text(
            "UPDATE household h SET grid_id = (SELECT g.id FROM grid g WHERE g.level = 3"
            " AND g.valid_to IS NULL AND g.village_id = h.village_id"
            " AND ST_Intersects(g.geom, h.geom) ORDER BY g.id LIMIT 1), version = h.version + 1"
            " FROM grid old WHERE old.id = h.grid_id AND h.village_id IN (:old, :new)"
            " AND old.village_id <> h.village_id"
        ),
        p,
    )
    persons = session.execute(
        text(
            "UPDATE person p SET village_id = h.village_id FROM household h"
            " WHERE h.id = p.household_id AND p.village_id = :old AND h.village_id = :new"
        ),
        p,
    ).rowcount
    # Incidents follow their grid; those on the new side in a grid that stayed (a retired
    # one) go to the deepest current grid of the new village holding them.
    incidents = session.execute(
        text("UPDATE incident SET village_id = :new WHERE grid_id = ANY(:g)"), p
    ).rowcount
    incidents += session.execute(
        text(
            "UPDATE incident i SET village_id = :new, grid_id = coalesce((SELECT g.id FROM grid g"
            " WHERE g.village_id = :new AND g.valid_to IS NULL AND ST_Intersects(g.geom, i.geom)"
            " ORDER BY g.level DESC, g.id LIMIT 1), :l1)"
            " WHERE i.village_id = :old AND ST_Intersects(i.geom, ST_GeomFromText(:n, 4490))"
            " AND NOT ST_Intersects(i.geom, ST_GeomFromText(:k, 4490))"
        ),
        p | {"l1": new_level1},
    ).rowcount
    lines = {}
    for table in ("street", "lane"):
        lines[table] = session.execute(
            text(
                f"UPDATE {table} x SET village_id = :new, version = x.version + 1"
                " WHERE x.village_id = :old AND x.geom IS NOT NULL"
                " AND ST_Length(ST_Intersection(x.geom, ST_GeomFromText(:n, 4490)))"
                "   > ST_Length(ST_Intersection(x.geom, ST_GeomFromText(:k, 4490)))"
            ),
            p,
        ).rowcount
    # Lanes drawn only as blocks (no centre line) go by area.
    lines["lane"] += session.execute(
        text(
            "UPDATE lane x SET village_id = :new, version = x.version + 1"
            " WHERE x.village_id = :old AND x.geom IS NULL"
            " AND ST_Area(ST_Intersection(x.area, ST_GeomFromText(:n, 4490)))"
            "   > ST_Area(ST_Intersection(x.area, ST_GeomFromText(:k, 4490)))"
        ),
        p,
    ).rowcount
    areas, regrid = _captain_areas(session, b.code, plan.new_code, p)
    run = None
    if regrid:
        with_households = session.scalars(
            text(
                "SELECT v.code FROM village v WHERE v.id IN (:old, :new) AND EXISTS"
                " (SELECT 1 FROM household h WHERE h.village_id = v.id) ORDER BY v.code"
            ),
            p,
        ).all()
        result = run_gridding(session, list(with_households), actor=principal.username)
        run = {
            "run_id": result.run_id,
            "villages": result.villages,
            **{
                k: result.summary.get(k)
                for k in ("lane_areas", "street_areas", "party_groups", "changed_captain")
            },
        }
    moved = {
        "grids": len(plan.recodes),
        "households": households,
        "persons": persons,
        "incidents": incidents,
        "captain_areas": areas,
        "streets": lines["street"],
        "lanes": lines["lane"],
    }
    audit_change(
        session,
        principal,
        "boundary.split",
        "village",
        b.code,
        {
            "version": b.version + 1,
            "new_code": plan.new_code,
            "grids": {r.old_code: r.new_code for r in plan.recodes},
            "moved": moved,
            "regrid": run,
            "previous": mapping(shapely.from_wkt(old_wkt)),
        },
        ip,
    )
    audit_change(
        session,
        principal,
        "boundary.split",
        "village",
        plan.new_code,
        {"version": 1, "split_from": b.code, "grid": plan.new_code + "0000"},
        ip,
    )
    counts = [count_households(session, part.geom) for part in (keep, new)]
    parts = (
        Part(keep.geom, counts[0], keep.area_m2, True),
        Part(new.geom, counts[1], new.area_m2, False),
    )
    features = (feature(session, "village", b.code), feature(session, "village", plan.new_code))
    return VillageSplit(
        b,
        parts,
        plan.new_code,
        plan.new_name,
        plan.new_kind,
        plan.recodes,
        moved,
        plan.crossing,
        features,
        run,
    )


def _captain_areas(session: Session, old_code: str, new_code: str, p: dict) -> tuple[int, bool]:
    """Move the captain areas wholly on the new side; say whether any must be re-made.

    Moved areas keep their ids (captains' duties point at them) and take the new
    village's code prefix. Memberships and groupings that now cross the
    village line are dropped, so the engine re-makes exactly those areas.
    """
    moved = session.execute(
        text(
            "UPDATE captain_area a SET village_id = :new, code = :nc || substr(a.code, :len + 1),"
            " version = a.version + 1"
            " WHERE a.village_id = :old AND ST_Area(ST_Intersection(a.geom,"
            " ST_GeomFromText(:k, 4490))::geography) <= :t"
        ),
        p | {"nc": new_code, "len": len(old_code), "t": TOLERANCE_M2},
    ).rowcount
    dropped = session.execute(
        text(
            "DELETE FROM captain_area_member m USING household h, captain_area a"
            " WHERE m.household_id = h.id AND a.id = m.area_id AND h.village_id IN (:old, :new)"
            " AND a.village_id <> h.village_id"
        ),
        p,
    ).rowcount
    for column in ("street_area_id", "party_group_id"):
        dropped += session.execute(
            text(
                f"UPDATE captain_area a SET {column} = NULL FROM captain_area g"
                f" WHERE g.id = a.{column} AND a.village_id IN (:old, :new)"
                " AND g.village_id <> a.village_id"
            ),
            p,
        ).rowcount
    # Areas left behind that reach over the new line (a street area over lanes of both).
    cut = session.scalar(
        text(
            "SELECT count(*) FROM captain_area a WHERE a.village_id = :old"
            " AND ST_Area(ST_Intersection(a.geom, ST_GeomFromText(:n, 4490))::geography) > :t"
        ),
        p | {"t": TOLERANCE_M2},
    )
    return moved, dropped + cut > 0


def preview_features(plan: VillageSplit) -> tuple[dict[str, Any], dict[str, Any]]:
    """GeoJSON features of the planned villages, for the page to draw before confirming."""
    return part_features(
        "village",
        plan.parts,
        (plan.village.code, plan.new_code),
        (plan.village.name, plan.new_name),
        None,
        plan.village.version,
    )
