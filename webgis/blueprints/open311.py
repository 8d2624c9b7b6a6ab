"""Open311 GeoReport v2 at ``/open311/v2/``: services, service definitions, requests.

GETs need no key and read the ``incident_public`` view (migration 0004): no
personal data, no police or dispute cases, locations coarsened to ~100 m, and
phone and ID numbers in the text masked. A key with an area grant reads its
areas' full records through row-level security instead (personal data still
masked). POST needs a key; a request with only an ``address_string`` is placed by
our own offline geocoder (:mod:`layers.incidents.geocode`: households, lanes and
streets). Errors come in the standard's format, as a list of ``{code, description}``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import event, text
from werkzeug.exceptions import HTTPException

from layers.accounts.access import Principal, Scope, apply_scope
from layers.accounts.masking import mask_id_number, mask_phone
from layers.errors import Invalid, NotFound
from layers.incidents.apikeys import ApiKeyInfo, find_api_key
from layers.incidents.geocode import Place, geocode
from layers.incidents.intake import Unprocessable, file_report, parse_report
from layers.incidents.sla import BEIJING
from webgis.auth import client_ip
from webgis.blueprints.incidents import calendar, now
from webgis.db import session

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

MAX_DAYS = 90
MAX_REQUESTS = 1000
FMT = "<any(json, xml):fmt>"
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ID = re.compile(r"(?<![\dXx])\d{17}[\dXx](?![\dXx])")


def _fmt() -> str:
    return "xml" if request.path.endswith(".xml") else "json"


def _xml(root: str, item: str, rows: list[dict]) -> Response:
    top = ET.Element(root)
    for row in rows:
        node = ET.SubElement(top, item)
        for key, value in row.items():
            child = ET.SubElement(node, key)
            if isinstance(value, bool):
                child.text = "true" if value else "false"
            elif value is not None:
                child.text = str(value)
    body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")
    return Response(body, mimetype="text/xml")


def _out(root: str, item: str, rows: list[dict], status: int = 200) -> Response:
    response = _xml(root, item, rows) if _fmt() == "xml" else jsonify(rows)
    response.status_code = status
    return response


def _error(status: int, description: str) -> Response:
    return _out("errors", "error", [{"code": status, "description": description}], status)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException):
    own = exc.description if exc.description != type(exc).description else None
    return _error(exc.code or 500, own or exc.name)


@bp.errorhandler(Invalid)
def _invalid(exc: Invalid):
    return _error(422 if isinstance(exc, Unprocessable) else 400, exc.message)


@bp.errorhandler(NotFound)
def _not_found(_exc):
    return _error(404, "未找到 / not found")


def _key() -> ApiKeyInfo | None:
    token = request.values.get("api_key")
    if not token:
        return None
    key = find_api_key(session(), token)
    if key is None:
        raise _Forbidden
    return key


class _Forbidden(HTTPException):
    code = 403
    description = "无效的 api_key / invalid api_key"


def _use_key(key: ApiKeyInfo, *, area_scope: bool) -> None:
    """Make the next transactions read as this key: its area (RLS) and its own reports."""
    db = session()
    db.commit()  # end the login's transaction: the settings apply from the next one
    scope = _key_scope(key) if area_scope and key.area is not None else Scope()
    who = Principal(
        user_id=0,
        username=f"apikey:{key.name}",
        display_name=key.name,
        grants=(),
        scopes={"incident": scope},
    )

    def _scope(_s, _t, connection) -> None:
        apply_scope(connection, who)
        connection.execute(
            text("SELECT set_config('wangge.api_key_id', :k, true)"), {"k": str(key.id)}
        )

    event.listen(db, "after_begin", _scope)


def _grid_tree(grid_id: int) -> list[int]:
    return list(
        session().scalars(
            text(
                "WITH RECURSIVE t AS (SELECT id FROM grid WHERE id = :g UNION ALL"
                " SELECT c.id FROM grid c JOIN t ON c.parent_id = t.id) SELECT id FROM t"
            ),
            {"g": grid_id},
        )
    )


# -- services ------------------------------------------------------------------------------


def _services(code: str | None = None) -> list[dict]:
    sql = (
        "SELECT c.code, c.name_zh, c.name_en, p.name_zh AS group_zh, c.time_limit, c.time_unit"
        " FROM incident_category c JOIN incident_category p ON p.code = c.parent_code"
        " WHERE c.active"
    )
    rows = session().execute(
        text(sql + (" AND c.code = :c" if code else "") + " ORDER BY c.code"), {"c": code}
    )
    unit = {"hour": ("工作小时", "working hours"), "day": ("工作日", "working days")}
    return [
        {
            "service_code": r.code,
            "service_name": f"{r.name_zh} / {r.name_en}",
            "description": f"处置时限 {r.time_limit} {unit[r.time_unit][0]}"
            f" / time limit {r.time_limit} {unit[r.time_unit][1]}",
            "metadata": False,
            "type": "realtime",
            "keywords": r.name_zh,
            "group": r.group_zh,
        }
        for r in rows
    ]


@bp.get(f"/services.{FMT}")
def services(fmt: str):
    return _out("services", "service", _services())


@bp.get(f"/services/<code>.{FMT}")
def service(code: str, fmt: str):
    if not _services(code):
        raise NotFound(code)
    # No extra attributes: category, place, description and photos are all we ask.
    definition = {"service_code": code, "attributes": []}
    if _fmt() == "xml":
        return _xml("service_definition", "service", [{"service_code": code}])
    return jsonify(definition)


# -- requests ------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(BEIJING).isoformat(timespec="seconds") if value else None


def _redact(value: str | None) -> str | None:
    if not value:
        return value
    value = _PHONE.sub(lambda m: mask_phone(m.group()), value)
    return _ID.sub(lambda m: mask_id_number(m.group()), value)


def _parse_date(name: str) -> datetime | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Invalid(f"{name} 应为 ISO 8601 时间 / {name} must be ISO 8601") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BEIJING)


_SELECT = """
    SELECT i.id, i.code, i.category_code, c.name_zh AS category_zh, i.status,
           s.is_open, s.name_zh AS status_zh, s.name_en AS status_en, i.description,
           i.address, i.reported_at, i.due_at, {updated} AS updated_at,
           g.code AS grid_code, g.name AS grid_name, ST_X({geom}) AS lon, ST_Y({geom}) AS lat
    FROM {source} i
    JOIN incident_category c ON c.code = i.category_code
    JOIN incident_status s ON s.code = i.status
    JOIN grid g ON g.id = i.grid_id
"""


def _query(keyed: bool, where: list[str], params: dict) -> list:
    if keyed:
        sql = _SELECT.format(
            source="incident",
            geom="i.geom",
            updated="(SELECT max(e.at) FROM incident_event e WHERE e.incident_id = i.id)",
        )
        where = [*where, "i.status <> 'draft'"]
    else:
        sql = _SELECT.format(source="incident_public", geom="i.geom", updated="i.updated_at")
    sql += " WHERE " + " AND ".join(where or ["true"])
    sql += f" ORDER BY i.reported_at DESC LIMIT {MAX_REQUESTS}"
    return session().execute(text(sql), params).all()


def _request_row(r) -> dict:
    return {
        "service_request_id": r.code,
        "status": "open" if r.is_open else "closed",
        "status_notes": f"{r.status_zh} / {r.status_en}",
        "service_name": r.category_zh,
        "service_code": r.category_code,
        "description": _redact(r.description),
        "agency_responsible": f"{r.grid_name}网格铁三角 / grid {r.grid_code} team",
        "service_notice": None,
        "requested_datetime": _iso(r.reported_at),
        "updated_datetime": _iso(r.updated_at or r.reported_at),
        "expected_datetime": _iso(r.due_at),
        "address": _redact(r.address),
        "address_id": None,
        "zipcode": None,
        "lat": round(r.lat, 6),
        "long": round(r.lon, 6),
        "media_url": None,
    }


@bp.get(f"/requests.{FMT}")
def requests(fmt: str):
    key = _key()
    keyed = key is not None and key.area is not None
    if keyed:
        _use_key(key, area_scope=True)
    where: list[str] = []
    params: dict = {}
    if ids := request.args.get("service_request_id"):
        # Other filters are ignored when ids are given (as the standard says).
        params["ids"] = [v.strip() for v in ids.split(",") if v.strip()][:MAX_REQUESTS]
        where.append("i.code = ANY(:ids)")
    else:
        if codes := request.args.get("service_code"):
            params["codes"] = [v.strip() for v in codes.split(",") if v.strip()]
            where.append("i.category_code = ANY(:codes)")
        if status := request.args.get("status"):
            wanted = {v.strip() for v in status.split(",")}
            if not wanted <= {"open", "closed"}:
                raise Invalid("status 应为 open 或 closed / status must be open or closed")
            if len(wanted) == 1:
                where.append("s.is_open" if wanted == {"open"} else "NOT s.is_open")
        start, end = _parse_date("start_date"), _parse_date("end_date")
        if start and end and end - start > timedelta(days=MAX_DAYS):
            raise Invalid(f"时间范围不能超过 {MAX_DAYS} 天 / at most {MAX_DAYS} days at once")
        end = end or now()
        start = start or end - timedelta(days=MAX_DAYS)
        where += ["i.reported_at >= :start", "i.reported_at <= :end"]
        params |= {"start": start, "end": end}
    rows = _query(keyed, where, params)
    return _out("service_requests", "request", [_request_row(r) for r in rows])


@bp.get(f"/requests/<code>.{FMT}")
def request_one(code: str, fmt: str):
    key = _key()
    keyed = key is not None and key.area is not None
    if keyed:
        _use_key(key, area_scope=True)
    rows = _query(keyed, ["i.code = :code"], {"code": code})
    if not rows:
        raise NotFound(code)
    return _out("service_requests", "request", [_request_row(rows[0])])


def _geocode(key: ApiKeyInfo, address: str) -> Place:
    """The point of ``address`` from our households, lanes and streets (no outside service).

    Households are under row-level security and a key reads none: the lookup runs
    in a transaction of its own that may read the households of the key's area (the
    town for a key without one, as it may file anywhere) and returns only a point
    and the matched address.
    """
    db = session()
    db.commit()  # the lookup's settings apply to a transaction of its own
    reader = Principal(
        user_id=0,
        username=f"apikey:{key.name}",
        display_name=key.name,
        grants=(),
        scopes={"household": _key_scope(key)},
    )
    apply_scope(db.connection(), reader)
    try:
        return geocode(db, address)
    finally:
        db.commit()  # drop the lookup's scope before the report is filed


def _key_scope(key: ApiKeyInfo) -> Scope:
    if key.area is None:
        return Scope(all=True)
    kind, area_id = key.area
    if kind == "town":
        return Scope(all=True)
    if kind == "village":
        return Scope(villages=frozenset({area_id}))
    return Scope(grids=frozenset(_grid_tree(area_id)))


@bp.post(f"/requests.{FMT}")
def create_request(fmt: str):
    key = _key()
    if key is None:
        return _error(403, "提交须提供 api_key / posting needs an api_key")
    form = request.form
    fields = {k: form.get(k) for k in form}
    place = None
    if not form.get("lat") and not form.get("long") and form.get("address_string"):
        place = _geocode(key, form["address_string"])
        fields |= {"lat": str(place.lat), "long": str(place.lon)}
    if media := form.get("media_url"):
        fields["description"] = f"{fields.get('description') or ''}\n{media}".strip()
    report = parse_report(fields)
    _use_key(key, area_scope=False)
    db = session()
    body, _new = file_report(
        db,
        report,
        now=now(),
        calendar=calendar(),
        api_key_id=key.id,
        api_key_area=key.area,
        ip=client_ip(),
    )
    db.commit()
    current_app.logger.info("open311 report %s by key %s", body["code"], key.name)
    notices = []
    if place is not None:
        notices.append(f"按地址定位：{place.label} / located by the address ({place.precision})")
    if body["due_at"]:
        notices.append(
            f"预计 {_iso(datetime.fromisoformat(body['due_at']))} 前处置 / expected by then"
        )
    row = {
        "service_request_id": body["code"],
        "service_notice": "；".join(notices) or None,
        "account_id": None,
    }
    return _out("service_requests", "request", [row], 201)
