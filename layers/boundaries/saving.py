"""Saving boundaries: create, reshape and delete grids and villages, versioned and audited.

The checks live in :mod:`layers.boundaries.editing`; this module writes. Each
write compares the version the officer loaded (a stale one raises
:class:`~layers.boundaries.editing.Conflict` and writes nothing), stores the
shape with the version bumped in the same ``UPDATE … WHERE version = :v``,
re-assigns the households of edited level-3 grids, and appends an audit entry
holding the previous shape, so every edit can be traced and undone by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from layers.accounts import audit
from layers.accounts.access import Principal
from layers.boundaries.editing import (
    Boundary,
    Conflict,
    Forbidden,
    SizeRule,
    count_households,
    editable,
    feature,
    get_boundary,
    may_edit,
    prepare,
    require_editor,
    rule_for,
)
from layers.errors import Invalid


@dataclass(frozen=True)
class Saved:
    """The outcome of a save: the stored feature, households inside and the size rule."""

    feature: dict[str, Any]
    households: int
    rule: SizeRule | None


def last_edit(session: Session, kind: str, code: str) -> tuple[str | None, str | None]:
    """Who last changed boundary or line ``kind``/``code``, and when (ISO): the audit log."""
    row = session.execute(
        text(
            "SELECT actor_name, at FROM audit_log WHERE object_type = :k AND object_id = :c"
            " AND action LIKE 'boundary.%' ORDER BY id DESC LIMIT 1"
        ),
        {"k": kind, "c": code},
    ).one_or_none()
    return (row[0], row[1].isoformat()) if row else (None, None)


def check_version(session: Session, b: Boundary, version: Any) -> None:
    if not isinstance(version, int) or isinstance(version, bool):
        raise Invalid("缺少版本号 version / the version you loaded is required", "version")
    if version != b.version:
        who, when = last_edit(session, b.kind, b.code)
        raise Conflict(feature(session, b.kind, b.code), who, when)


def write_shape(
    session: Session,
    table: str,
    row_id: int,
    version: int,
    geom: shapely.Geometry,
    name: str | None = None,
) -> bool:
    """Store a new shape (and name) of a row still at ``version``, and bump its version.

    Parameters
    ----------
    session
        Open session; the caller commits.
    table
        ``grid``, ``village``, ``street`` or ``lane`` (our own names, never a user's).
    row_id, version
        The row and the version it was read at.
    geom
        The new shape (EPSG:4490).
    name
        A new name; ``None`` keeps the stored one.

    Returns
    -------
    bool
        Whether the row was written: the version in the WHERE clause closes the
        gap between the caller's read and this write.
    """
    done = session.execute(
        text(
            f"UPDATE {table} SET geom = ST_GeomFromText(:g, 4490), name = COALESCE(:n, name),"
            " version = version + 1 WHERE id = :i AND version = :v"
        ),
        {"g": geom.wkt, "n": name, "i": row_id, "v": version},
    ).rowcount
    return done == 1


def clean_name(value: Any, default: str) -> str:
    """A user's name for a shape (1–60 characters, trimmed), or ``default`` when not given."""
    if value is None or value == "":
        return default
    if not isinstance(value, str) or len(value.strip()) == 0 or len(value) > 60:
        raise Invalid("名称应为 1–60 个字 / the name must be 1 to 60 characters", "name")
    return value.strip()


def reassign_households(session: Session, level: int | None, *shapes: str | None) -> None:
    """Point the households around an edited level-3 grid at the grid that now holds them."""
    if level != 3:
        return
    area = [s for s in shapes if s]
    for wkt in area:
        session.execute(
            text(
                "UPDATE household h SET grid_id = n.id, version = h.version + 1 FROM ("
                " SELECT h2.id hid, (SELECT g.id FROM grid g WHERE g.level = 3"
                " AND g.valid_to IS NULL AND ST_Intersects(g.geom, h2.geom) ORDER BY g.id"
                " LIMIT 1) id FROM household h2"
                " WHERE ST_Intersects(h2.geom, ST_GeomFromText(:g, 4490))) n"
                " WHERE h.id = n.hid AND h.grid_id IS DISTINCT FROM n.id"
            ),
            {"g": wkt},
        )


def audit_change(
    session: Session,
    principal: Principal,
    action: str,
    b_kind: str,
    code: str,
    detail: dict[str, Any],
    ip: str | None,
) -> None:
    audit.record(
        session,
        action,
        actor_user_id=principal.user_id,
        actor_name=principal.username,
        object_type=b_kind,
        object_id=code,
        detail=detail,
        ip=ip,
    )


def next_code(session: Session, level: int, parent_table: str, parent_id: int) -> str:
    if level == 1:
        vcode = session.scalar(text("SELECT code FROM village WHERE id = :i"), {"i": parent_id})
        code = vcode + "0000"
        taken = session.scalar(
            text("SELECT 1 FROM grid WHERE code = :c AND valid_to IS NULL"), {"c": code}
        )
        if taken:
            raise Invalid("该村已有一级网格 / the village already has a level-1 grid", "level")
        return code
    parent = session.execute(
        text("SELECT code FROM grid WHERE id = :i"), {"i": parent_id}
    ).scalar_one()
    # Retired codes count too: a code names one grid for ever.
    if level == 2:
        prefix, like = parent[:12], parent[:12] + "__00"
    else:
        prefix, like = parent[:14], parent[:14] + "__"
    # So do codes a grid carried before it was recoded (layers/boundaries/recoding.py).
    used = session.scalars(
        text(
            "SELECT code FROM grid WHERE level = :l AND code LIKE :like"
            " UNION SELECT detail->>'previous_code' FROM audit_log"
            " WHERE action = 'boundary.recode' AND object_type = 'grid'"
            " AND detail->>'level' = CAST(:l AS text) AND detail->>'previous_code' LIKE :like"
        ),
        {"l": level, "like": like},
    ).all()
    n = max((int(c[len(prefix) : len(prefix) + 2]) for c in used), default=0) + 1
    if n > 99:
        raise Invalid("编号已用完 / no codes left under this parent", "level")
    return prefix + f"{n:02d}" + ("00" if level == 2 else "")


def default_grid_name(village: str, code: str, level: int) -> str:
    """The demo's naming: 某村网格, 某村第2网格, 某村第2-3网格."""
    if level == 1:
        return village + "网格"
    return f"{village}第{int(code[12:14])}" + (f"-{int(code[14:16])}网格" if level == 3 else "网格")


def create_grid(
    session: Session, principal: Principal, body: dict[str, Any], ip: str | None = None
) -> Saved:
    """Store a new grid of ``body["level"]`` under the parent that holds most of it.

    Raises
    ------
    Forbidden
        When the user may not edit in the parent's area.
    ShapeRefused, Invalid
        For a shape or field that cannot be stored.
    """
    require_editor(principal)
    level = body.get("level")
    if level not in (1, 2, 3):
        raise Invalid("网格级别应为 1、2 或 3 / level must be 1, 2 or 3", "level")
    geom, parent_table, parent_id = prepare(
        session, "grid", level, body.get("geometry"), srid=body.get("srid")
    )
    if parent_table == "village":
        parent = Boundary("village", parent_id, "", "", None, 0, parent_id, None)
    else:
        row = session.execute(
            text("SELECT code FROM grid WHERE id = :i"), {"i": parent_id}
        ).scalar_one()
        parent = get_boundary(session, "grid", row)
    if not may_edit(principal, parent):
        raise Forbidden()
    code = next_code(session, level, parent_table, parent_id)
    village = session.execute(
        text("SELECT id, name FROM village WHERE id = :i"), {"i": parent.village_id}
    ).one()
    name = clean_name(body.get("name"), default_grid_name(village.name, code, level))
    session.execute(
        text(
            "INSERT INTO grid (code, level, parent_id, parent_level, village_id, name, geom)"
            " VALUES (:c, :l, :p, :pl, :v, :n, ST_GeomFromText(:g, 4490))"
        ),
        {
            "c": code,
            "l": level,
            "p": None if level == 1 else parent_id,
            "pl": None if level == 1 else level - 1,
            "v": village.id,
            "n": name,
            "g": geom.wkt,
        },
    )
    reassign_households(session, level, geom.wkt)
    households = count_households(session, geom)
    audit_change(
        session,
        principal,
        "boundary.create",
        "grid",
        code,
        {"level": level, "version": 1, "households": households},
        ip,
    )
    return Saved(feature(session, "grid", code), households, rule_for("grid", level))


def update_boundary(
    session: Session,
    principal: Principal,
    kind: str,
    code: str,
    body: dict[str, Any],
    ip: str | None = None,
) -> Saved:
    """Reshape (and optionally rename) a boundary loaded at ``body["version"]``.

    Raises
    ------
    Conflict
        When the stored version differs: nothing is written.
    """
    b = editable(session, principal, kind, code)
    check_version(session, b, body.get("version"))
    geom, _, _ = prepare(
        session, kind, b.level, body.get("geometry"), srid=body.get("srid"), current=b
    )
    old = session.scalar(
        text(
            f"SELECT ST_AsText(geom) FROM {'village' if kind == 'village' else 'grid'}"
            " WHERE id = :i"
        ),
        {"i": b.id},
    )
    name = clean_name(body.get("name"), b.name)
    table = "village" if kind == "village" else "grid"
    if not write_shape(session, table, b.id, b.version, geom, name):
        who, when = last_edit(session, kind, code)
        raise Conflict(feature(session, kind, code), who, when)
    reassign_households(session, b.level, old, geom.wkt)
    households = count_households(session, geom)
    audit_change(
        session,
        principal,
        "boundary.update",
        kind,
        code,
        {
            "version": b.version + 1,
            "households": households,
            "previous": mapping(shapely.from_wkt(old)),
        },
        ip,
    )
    return Saved(feature(session, kind, code), households, rule_for(kind, b.level))


def delete_grid(
    session: Session, principal: Principal, code: str, version: Any, ip: str | None = None
) -> None:
    """Remove a grid: deleted if nothing refers to it, else retired (``valid_to`` today).

    Incidents, grants and duties keep pointing at a retired grid, as history.
    """
    b = editable(session, principal, "grid", code)
    check_version(session, b, version)
    children = session.scalar(
        text("SELECT count(*) FROM grid WHERE parent_id = :i AND valid_to IS NULL"), {"i": b.id}
    )
    if children:
        raise Invalid(
            f"请先删除它的 {children} 个下级网格 / delete its {children} child grids first", "code"
        )
    old = session.scalar(text("SELECT ST_AsText(geom) FROM grid WHERE id = :i"), {"i": b.id})
    session.execute(text("UPDATE household SET grid_id = NULL WHERE grid_id = :i"), {"i": b.id})
    savepoint = session.begin_nested()
    try:
        session.execute(text("DELETE FROM grid WHERE id = :i"), {"i": b.id})
        savepoint.commit()
    except IntegrityError:  # a foreign key still points here: retire instead
        savepoint.rollback()
        retired = session.execute(
            text(
                "UPDATE grid SET valid_to = current_date, version = version + 1"
                " WHERE id = :i AND valid_from < current_date"
            ),
            {"i": b.id},
        ).rowcount
        if not retired:
            raise Invalid(
                "今天新建且已被引用的网格，明天才能撤销 / a grid made today and already in"
                " use can be retired from tomorrow",
                "code",
            ) from None
    reassign_households(session, b.level, old)
    audit_change(
        session,
        principal,
        "boundary.delete",
        "grid",
        code,
        {"version": b.version, "previous": mapping(shapely.from_wkt(old))},
        ip,
    )
