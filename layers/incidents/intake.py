"""Filing a report: checked input, the grid by point in polygon, the time limit, one commit.

The caller writes the photos first (photos.py) and commits after :func:`file_report`;
the answer 201 is given only after that commit, so an acknowledged report is stored.
A client may send an idempotency key: a retried report (after a lost answer) is
stored once and answered with the first one's id.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts import audit
from layers.accounts.access import Principal
from layers.errors import Invalid
from layers.incidents.duplicates import RADIUS_M, WINDOW_H
from layers.incidents.sla import BEIJING, WorkCalendar
from layers.incidents.workflow import StoredPhoto, roles_on

MAX_DESCRIPTION = 4000
_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,48}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}$")
_PHONE = re.compile(r"^\+?[0-9 -]{5,20}$")


class Unprocessable(Invalid):
    """Well-formed input the system cannot act on (422), e.g. a point outside every grid."""

    def __init__(self, message: str, field: str | None = None, **extra):
        super().__init__(message, field)
        self.extra = extra


@dataclass(frozen=True)
class Report:
    """A checked report as it came in (JSON, form or Open311)."""

    category: str
    lon: float
    lat: float
    description: str
    title: str | None = None
    address: str | None = None
    draft: bool = False
    client_key: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None


def _text(data: Mapping, name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name} 应为文本 / {name} must be text", name)
    value = value.strip()
    if len(value) > limit:
        raise Invalid(f"{name} 超过 {limit} 字 / {name} is over {limit} characters", name)
    return value or None


def _coordinate(data: Mapping, names: Sequence[str], lo: float, hi: float) -> float | None:
    for name in names:
        value = data.get(name)
        if value is None or value == "":
            continue
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise Invalid(f"{name} 应为数字 / {name} must be a number", name) from exc
        if isinstance(value, bool) or not math.isfinite(number) or not lo <= number <= hi:
            raise Invalid(f"{name} 超出范围 / {name} out of range", name)
        return number
    return None


def parse_report(data: Mapping) -> Report:
    """Check the fields of a report; :class:`Invalid` (400) names the first bad one.

    Accepts ``category`` (or Open311's ``service_code``), ``lon``/``lat`` (or
    ``long``/``lat``), ``description``, and optionally ``title``, ``address``
    (``address_string``), ``draft``, ``client_key``, ``phone``, ``email``.
    """
    if not isinstance(data, Mapping):
        raise Invalid("请求体应为 JSON 对象 / the body must be a JSON object")
    category = _text(data, "category", 8) or _text(data, "service_code", 8)
    if not category:
        raise Invalid("请选择类别 / choose a category", "category")
    description = _text(data, "description", MAX_DESCRIPTION)
    if not description:
        raise Invalid("请描述问题 / describe the problem", "description")
    lon = _coordinate(data, ("lon", "long", "lng"), 73.0, 136.0)
    lat = _coordinate(data, ("lat",), 3.0, 54.0)
    if lon is None or lat is None:
        raise Invalid("请在地图上选点或使用定位 / pick the place on the map", "lat")
    key = _text(data, "client_key", 48)
    if key is not None and not _KEY.match(key):
        raise Invalid(
            "client_key 应为 8–48 位字母数字 / client_key: 8–48 letters or digits", "client_key"
        )
    phone = _text(data, "phone", 20)
    if phone is not None and not _PHONE.match(phone):
        raise Invalid("电话格式不对 / malformed phone number", "phone")
    email = _text(data, "email", 254)
    if email is not None and not _EMAIL.match(email):
        raise Invalid("邮箱格式不对 / malformed e-mail address", "email")
    draft = data.get("draft", False)
    return Report(
        category=category,
        lon=lon,
        lat=lat,
        description=description,
        title=_text(data, "title", 120),
        address=_text(data, "address", 300) or _text(data, "address_string", 300),
        draft=draft is True or draft in ("1", "true", "on"),
        client_key=key,
        contact_phone=phone,
        contact_email=email,
    )


#: The category and the level-3 grid holding the point, with the grid's 铁三角 roles
#: (its own or the nearest ancestor's, no names): one round trip for a report.
_PLACE = """
SELECT c.code, c.name_zh, c.name_en, c.time_limit, c.time_unit, c.handler_level,
       c.sensitive, c.police, g.id AS grid_id, g.village_id, g.code AS grid_code,
       g.name AS grid_name,
       ARRAY(WITH RECURSIVE up AS (
                 SELECT id, parent_id FROM grid WHERE id = g.id
                 UNION ALL SELECT p.id, p.parent_id FROM grid p JOIN up ON p.id = up.parent_id)
             SELECT DISTINCT r.role FROM role_assignment r JOIN up ON up.id = r.grid_id
             WHERE r.valid_to IS NULL
               AND r.role IN ('community_police', 'village_cadre', 'grid_worker')
             ORDER BY r.role) AS team
FROM (SELECT 1) AS one
LEFT JOIN incident_category c ON c.code = :c AND c.active
LEFT JOIN LATERAL (
    SELECT id, village_id, code, name FROM grid
    WHERE valid_to IS NULL AND level = 3 AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4490))
    ORDER BY id LIMIT 1) AS g ON true
"""


@dataclass(frozen=True)
class Place:
    """Where a report goes: its category's rules and the grid holding its point."""

    category: Any
    grid_id: int
    village_id: int
    grid_code: str
    grid_name: str
    team: list[str]


def place(session: Session, code: str, lon: float, lat: float) -> Place:
    """The active category ``code`` and the current level-3 grid holding the point.

    Raises
    ------
    Unprocessable
        Unknown category, or a point outside every grid (the message names the
        nearest grid and its distance).
    """
    row = session.execute(text(_PLACE), {"c": code, "x": lon, "y": lat}).one()
    if row.code is None:
        raise Unprocessable(f"没有类别 {code} / unknown category {code}", "category")
    if row.grid_id is None:
        raise _outside_every_grid(session, lon, lat)
    return Place(row, row.grid_id, row.village_id, row.grid_code, row.grid_name, list(row.team))


def _outside_every_grid(session: Session, lon: float, lat: float) -> Unprocessable:
    point = "ST_SetSRID(ST_MakePoint(:x, :y), 4490)"
    nearest = session.execute(
        text(
            "SELECT code, name, ST_Distance(geom::geography, "
            f"{point}::geography) AS d FROM grid WHERE valid_to IS NULL AND level = 3"
            f" ORDER BY geom <-> {point} LIMIT 1"
        ),
        {"x": lon, "y": lat},
    ).one_or_none()
    if nearest is None:
        return Unprocessable("系统中还没有网格 / there are no grids yet", "lat")
    return Unprocessable(
        f"该位置不在任何网格内，最近的网格是“{nearest.name}”"
        f"（{nearest.code}，约 {nearest.d:.0f} 米）"
        f" / the place lies outside every grid; the nearest is {nearest.code}"
        f" ({nearest.d:.0f} m away)",
        "lat",
        nearest_grid={"code": nearest.code, "name": nearest.name, "distance_m": round(nearest.d)},
    )


#: The report and its audit entry in one statement, answered with the stored row and
#: the open reports nearby (offered as a merge). A retried ``client_key`` inserts
#: nothing and returns no row.
_FILE = """
WITH n AS (SELECT nextval('incident_id_seq') AS id),
i AS (
    INSERT INTO incident (id, code, category_code, status, title, description, geom,
        village_id, grid_id, reported_at, due_at, reporter_user_id, api_key_id, level,
        address, contact_phone, contact_email, client_key)
    SELECT n.id, 'SJ' || :day || lpad(n.id::text, greatest(7, length(n.id::text)), '0'),
        :cat, :status, :title, :descr, ST_SetSRID(ST_MakePoint(:x, :y), 4490), :village,
        :grid, :now, :due, :user, :key, :level, :address, :phone, :email, :ck
    FROM n
    ON CONFLICT ON CONSTRAINT uq_incident_client_key DO NOTHING
    RETURNING id, code, status, level, due_at, reported_at),
a AS ({audit} FROM i)
SELECT i.*, {nearby} FROM i
"""
#: The first history entry and the photos. A statement of their own: the row-level
#: security policies look the incident up, and a statement does not see its own inserts.
_HISTORY = """
WITH e AS (
    INSERT INTO incident_event (incident_id, seq, from_status, to_status, at, actor_user_id,
        actor_role, action, detail)
    VALUES (:i, 1, NULL, :status, :now, :user, :role, 'report', CAST(:detail AS jsonb)))
INSERT INTO incident_photo (incident_id, event_seq, sha256, mime, size_bytes)
SELECT :i, 1, ph.h, ph.m, ph.n
FROM unnest(CAST(:hashes AS text[]), CAST(:mimes AS text[]), CAST(:sizes AS int[])) AS ph(h, m, n)
ON CONFLICT ON CONSTRAINT uq_incident_photo_sha256 DO NOTHING
"""
_NEARBY = """ARRAY(SELECT json_build_object('id', d.id, 'code', d.code, 'status', d.status,
        'distance_m', round(d.distance_m::numeric, 1), 'reported_at', d.reported_at)
    FROM incident_nearby(:cat, :x, :y, :now, :metres, :hours) WITH ORDINALITY AS d
    ORDER BY d.ordinality) AS nearby"""


def file_report(
    session: Session,
    report: Report,
    *,
    now: datetime,
    calendar: WorkCalendar,
    reporter: Principal | None = None,
    api_key_id: int | None = None,
    api_key_area: tuple[str, int] | None = None,
    photos: Sequence[StoredPhoto] = (),
    ip: str | None = None,
) -> tuple[dict, bool]:
    """Store ``report`` with its first history entry; the caller commits.

    Returns
    -------
    (dict, bool)
        The stored report as the API answers it, and whether it is new (False
        for a retry with a known ``client_key``).

    Raises
    ------
    Unprocessable
        Unknown category, or a place outside every grid (names the nearest one).
    Invalid
        The place lies outside the reporter's areas (``field`` = ``lat``).
    """
    at = place(session, report.category, report.lon, report.lat)
    cat = at.category
    if reporter is not None:
        where = roles_on(
            session,
            reporter,
            village_id=at.village_id,
            grid_id=at.grid_id,
            lon=report.lon,
            lat=report.lat,
        )
        if not where:
            raise Unprocessable(
                "该位置不在您的片区内 / the place is outside your areas", "lat", grid=at.grid_code
            )
    if api_key_area is not None and not _in_key_area(session, api_key_area, at):
        raise Unprocessable("该位置不在此密钥的区域内 / the place is outside the key's area", "lat")
    owner = f"u{reporter.user_id}" if reporter else f"k{api_key_id}"
    client_key = f"{owner}:{report.client_key}" if report.client_key else None
    status = "draft" if report.draft else "reported"
    user = reporter.user_id if reporter else None
    sql = _FILE.format(
        audit=audit.insert_sql("i.id::text"),
        nearby="ARRAY[]::json[] AS nearby" if report.draft else _NEARBY,
    )
    common = {"status": status, "now": now, "user": user}
    row = session.execute(
        text(sql),
        common
        | {
            "day": f"{now.astimezone(BEIJING):%Y%m%d}",
            "cat": cat.code,
            "title": report.title or report.description[:30],
            "descr": report.description,
            "x": report.lon,
            "y": report.lat,
            "village": at.village_id,
            "grid": at.grid_id,
            "due": None if report.draft else calendar.due(now, cat.time_limit, cat.time_unit),
            "key": api_key_id,
            "level": cat.handler_level,
            "address": report.address,
            "phone": report.contact_phone,
            "email": report.contact_email,
            "ck": client_key,
            "metres": RADIUS_M,
            "hours": WINDOW_H,
        }
        | audit.params(
            "incident.report",
            actor_user_id=user,
            actor_name=reporter.username if reporter else f"api_key:{api_key_id}",
            object_type="incident",
            detail={"category": cat.code, "grid": at.grid_code, "status": status},
            ip=ip,
        ),
    ).one_or_none()
    if row is None:  # a retry: answer with the report first stored under this key
        row = session.execute(
            text(
                "SELECT id, code, status, level, due_at, reported_at, ARRAY[]::json[] AS nearby"
                " FROM incident WHERE client_key = :k"
            ),
            {"k": client_key},
        ).one()
        return _answer(row, at), False
    session.execute(
        text(_HISTORY),
        common
        | {
            "i": row.id,
            "role": _reporter_role(reporter) if reporter else "open311",
            "detail": json.dumps({"photos": [p.sha256 for p in photos]}) if photos else None,
            "hashes": [p.sha256 for p in photos],
            "mimes": [p.mime for p in photos],
            "sizes": [p.size for p in photos],
        },
    )
    return _answer(row, at), True


def _reporter_role(p: Principal) -> str:
    # The most specific role the reporter holds, for the history line.
    order = ("lane_captain", "street_captain", "grid_worker", "patrol_member", "resident")
    roles = p.roles
    return next((r for r in order if r in roles), sorted(roles)[0] if roles else "reporter")


def _in_key_area(session: Session, area: tuple[str, int], at: Place) -> bool:
    kind, area_id = area
    if kind == "town":
        return True
    if kind == "village":
        return at.village_id == area_id
    return bool(
        session.scalar(
            text(
                "WITH RECURSIVE up AS (SELECT id, parent_id FROM grid WHERE id = :g"
                " UNION ALL SELECT p.id, p.parent_id FROM grid p JOIN up ON p.id = up.parent_id)"
                " SELECT EXISTS (SELECT 1 FROM up WHERE id = :a)"
            ),
            {"g": at.grid_id, "a": area_id},
        )
    )


def _answer(row, at: Place) -> dict:
    return {
        "id": row.id,
        "code": row.code,
        "status": row.status,
        "category": at.category.code,
        "category_zh": at.category.name_zh,
        "grid": at.grid_code,
        "grid_name": at.grid_name,
        "level": row.level,
        "reported_at": row.reported_at.isoformat(),
        "due_at": row.due_at.isoformat() if row.due_at else None,
        "team": at.team,
        "police": at.category.police,
        # Offered as a merge: the reporter (or the team) may join one of these loops.
        "duplicates": [_duplicate(d) for d in row.nearby],
    }


def _duplicate(d: dict) -> dict:
    # json_build_object gives the time as text; answer it as candidates() does.
    return d | {"reported_at": datetime.fromisoformat(d["reported_at"]).isoformat()}
