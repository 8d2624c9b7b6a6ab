"""Creating a village (村/社区) from the map: the town administrator's tool.

A village is drawn inside its town and clear of the other villages (the same
pipeline as every boundary: :func:`layers.boundaries.editing.prepare`). Its code
follows the demo's statistical scheme, town code + ``2`` + two digits (the next
after the highest ever used in the town: codes are never reused), and it gets
its level-1 grid (village code + ``0000``, same outline) in the same
transaction, as every village has one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts.access import Principal
from layers.boundaries.editing import (
    Forbidden,
    count_households,
    feature,
    prepare,
    require_editor,
    rule_for,
)
from layers.boundaries.saving import Saved, audit_change, clean_name
from layers.errors import Invalid

VILLAGE_KINDS = ("village", "community")


def next_village_code(session: Session, town_id: int) -> str:
    """The next free village code in the town (town code + ``2`` + two digits)."""
    town = session.scalar(text("SELECT code FROM town WHERE id = :i"), {"i": town_id})
    used = session.scalars(
        text("SELECT code FROM village WHERE code LIKE :like"), {"like": town + "2__"}
    ).all()
    n = max((int(c[10:12]) for c in used), default=0) + 1
    if n > 99:
        raise Invalid("本镇的村编号已用完 / no village codes left in this town", "code")
    return f"{town}2{n:02d}"


def create_village(
    session: Session, principal: Principal, body: dict[str, Any], ip: str | None = None
) -> Saved:
    """Store a new village drawn inside a town, with its level-1 grid.

    Parameters
    ----------
    body : dict
        ``geometry`` (GeoJSON Polygon), optionally ``name``, ``kind``
        (``village`` or ``community``) and ``srid``.

    Raises
    ------
    Forbidden
        Unless the user edits the whole town (town administrator).
    ShapeRefused, Invalid
        For a shape outside the town, overlapping another village, or invalid.
    """
    require_editor(principal)
    if not principal.edit.all:
        raise Forbidden()
    kind = body.get("kind") or "village"
    if kind not in VILLAGE_KINDS:
        raise Invalid("类型应为 village 或 community / kind must be village or community", "kind")
    geom, _, town_id = prepare(
        session, "village", None, body.get("geometry"), srid=body.get("srid")
    )
    code = next_village_code(session, town_id)
    name = clean_name(body.get("name"), f"新建村{int(code[10:]):02d}")
    village_id = session.scalar(
        text(
            "INSERT INTO village (town_id, code, name, kind, geom)"
            " VALUES (:t, :c, :n, :k, ST_GeomFromText(:g, 4490)) RETURNING id"
        ),
        {"t": town_id, "c": code, "n": name, "k": kind, "g": geom.wkt},
    )
    session.execute(
        text(
            "INSERT INTO grid (code, level, village_id, name, geom)"
            " VALUES (:c, 1, :v, :n, ST_GeomFromText(:g, 4490))"
        ),
        {"c": code + "0000", "v": village_id, "n": name + "网格", "g": geom.wkt},
    )
    # Households drawn into the new village now belong to it (their grids are re-made by
    # the next `wangge grid run --village`).
    moved = session.execute(
        text(
            "UPDATE household SET village_id = :v, version = version + 1"
            " WHERE ST_Intersects(geom, ST_GeomFromText(:g, 4490)) AND village_id <> :v"
        ),
        {"v": village_id, "g": geom.wkt},
    ).rowcount
    households = count_households(session, geom)
    audit_change(
        session,
        principal,
        "boundary.create",
        "village",
        code,
        {"version": 1, "households": households, "moved": moved, "grid": code + "0000"},
        ip,
    )
    return Saved(feature(session, "village", code), households, rule_for("village", None))
