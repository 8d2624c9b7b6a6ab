"""Planning a village split: what moves, read without writing, and its preview."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry import MultiPolygon
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts.access import Principal
from layers.boundaries.editing import (
    TOLERANCE_M2,
    Boundary,
    Forbidden,
    count_households,
    editable,
)
from layers.boundaries.ingress import parse_line
from layers.boundaries.recoding import Recode, child_code, plan_recodes
from layers.boundaries.saving import check_version, clean_name
from layers.boundaries.splitting import Part, cut, part_features
from layers.boundaries.village_split.line import _grid_sides, snap_line
from layers.boundaries.villages import VILLAGE_KINDS, next_village_code
from layers.errors import Invalid

#: Length a street or lane may run on the other side before it is reported (m).
CROSSING_M = 1.0


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
