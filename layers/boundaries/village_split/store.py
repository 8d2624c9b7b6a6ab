"""Storing a village split: both outlines, the new village and everything that moves."""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts.access import Principal
from layers.boundaries.editing import TOLERANCE_M2, count_households, feature
from layers.boundaries.recoding import apply_recodes
from layers.boundaries.saving import audit_change, write_shape
from layers.boundaries.splitting import Part
from layers.boundaries.village_split.plan import VillageSplit, plan_village_split
from layers.captains.gridrun import run_gridding


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
    if not write_shape(session, "village", old_id, b.version, keep.geom):
        # The row is locked FOR UPDATE by editable(): this cannot race.
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
