"""The incident loop's JSON API: filing reports (JSON or multipart with photos),
transitions, the reporter's own reports, duplicates, overdue cases, the catalogue."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify, request, send_file, url_for
from sqlalchemy import and_, func, select, text

from layers.accounts.access import scope_clause
from layers.errors import Invalid, NotFound
from layers.incidents import catalogue as cat
from layers.incidents import photos as ph
from layers.incidents.duplicates import candidates
from layers.incidents.intake import Unprocessable, file_report, parse_report
from layers.incidents.models import Incident, IncidentPhoto
from layers.incidents.sla import (
    RUNNING,
    WorkCalendar,
    escalate_overdue,
    load_calendar,
    system_clock,
)
from layers.incidents.workflow import (
    TRANSITIONS,
    TransitionRefused,
    allowed_actions,
    apply_transition,
    roles_at,
)
from webgis.auth import client_ip, principal
from webgis.db import session
from webgis.errors import answer
from webgis.jsonbody import json_body

bp = Blueprint("incidents", __name__, url_prefix="/api")

#: Three photos of 10 MB and the form around them.
MAX_UPLOAD = ph.MAX_PHOTOS * ph.MAX_BYTES + 1024 * 1024
CALENDAR_TTL_S = 60.0


def now():
    """The app's clock: ``app.extensions["wangge.clock"]`` when set (tests), else the system's."""
    return current_app.extensions.get("wangge.clock", system_clock)()


def calendar() -> WorkCalendar:
    """The working calendar, re-read at most once a minute."""
    cached = current_app.extensions.get("wangge.calendar")
    if cached is None or time.monotonic() - cached[0] > CALENDAR_TTL_S:
        cached = (time.monotonic(), load_calendar(session()))
        current_app.extensions["wangge.calendar"] = cached
    return cached[1]


def photo_root():
    return current_app.extensions["wangge.settings"].var / "uploads"


@bp.errorhandler(Unprocessable)
def _unprocessable(exc: Unprocessable):
    return answer(422, exc.message, field=exc.field, **exc.extra)


@bp.errorhandler(ph.PhotoRefused)
def _photo(exc: ph.PhotoRefused):
    return answer(exc.status, exc.message, field="photos")


@bp.errorhandler(TransitionRefused)
def _refused(exc: TransitionRefused):
    return answer(exc.status, exc.message, allowed=list(exc.allowed))


@bp.errorhandler(PermissionError)
def _forbidden(exc: PermissionError):
    return answer(403, str(exc))


def _payload() -> tuple[dict, list[tuple[bytes, str]]]:
    """The fields and checked photos of a JSON or form request."""
    if request.is_json:
        body = json_body()
        if not isinstance(body, dict):
            raise Invalid("请求体应为 JSON 对象 / the body must be a JSON object")
        return body, []
    request.max_content_length = MAX_UPLOAD
    form = request.form.to_dict()
    files = [f for f in request.files.getlist("photos") if f.filename or f.content_length]
    if len(files) > ph.MAX_PHOTOS:
        raise Invalid(f"最多 {ph.MAX_PHOTOS} 张照片 / at most {ph.MAX_PHOTOS} photos", "photos")
    checked = []
    for f in files:
        data = f.stream.read(ph.MAX_BYTES + 1)
        mime = ph.check(data, f.filename or "")
        checked.append((ph.strip_metadata(data, mime), mime))
    return form, checked


@bp.post("/incidents")
def report():
    fields, photos = _payload()
    r = parse_report(fields)
    db = session()
    prepared = [ph.prepare(data, mime) for data, mime in photos]
    body, new = file_report(
        db, r, now=now(), calendar=calendar(), reporter=principal(), photos=prepared, ip=client_ip()
    )
    # Files first, then the commit: an acknowledged report never points at a missing photo.
    for data, mime in photos:
        ph.store(photo_root(), data, mime)
    db.commit()
    response = jsonify(body)
    response.status_code = 201 if new else 200
    response.headers["Location"] = url_for("incidents.mine_one", incident_id=body["id"])
    return response


@bp.post("/incidents/<int:incident_id>/transitions")
def transition(incident_id: int):
    fields, photos = _payload()
    action = fields.get("action")
    if not isinstance(action, str) or not action:
        raise Invalid("缺少 action / action is missing", "action")
    version = fields.get("version")
    if version is not None:
        try:
            version = int(version)
        except (TypeError, ValueError) as exc:
            raise Invalid("version 应为整数 / version must be an integer", "version") from exc
    note = fields.get("note")
    if note is not None and not isinstance(note, str):
        raise Invalid("note 应为文本 / note must be text", "note")
    params = fields.get("params") if isinstance(fields.get("params"), dict) else fields
    db = session()
    prepared = [ph.prepare(data, mime) for data, mime in photos]
    result = apply_transition(
        db,
        principal(),
        incident_id,
        action,
        now=now(),
        calendar=calendar(),
        note=note,
        params=params,
        photos=prepared,
        expected_version=version,
        ip=client_ip(),
    )
    for data, mime in photos:
        ph.store(photo_root(), data, mime)
    db.commit()
    return jsonify(result)


@bp.get("/incidents/<int:incident_id>/transitions")
def transitions(incident_id: int):
    """What the signed-in user may do with this incident now."""
    db = session()
    incident = db.get(Incident, incident_id)
    if incident is None:
        raise NotFound(incident_id)
    roles = roles_at(db, principal(), incident)
    if not roles:
        raise NotFound(incident_id)
    allowed = allowed_actions(incident.status, roles, incident.level)
    return jsonify(
        status=incident.status,
        level=incident.level,
        version=incident.version,
        allowed=[
            {"action": a, "name_zh": TRANSITIONS[a].name_zh, "note": TRANSITIONS[a].note_required}
            for a in allowed
        ],
    )


def _own_rows(incident_id: int | None = None):
    p = principal()
    sql = (
        "SELECT i.id, i.code, i.category_code, c.name_zh AS category_zh, i.status,"
        " s.name_zh AS status_zh, i.description, i.reported_at, i.due_at, i.closed_at,"
        " i.satisfaction, i.level, i.merged_into_id, g.code AS grid"
        " FROM incident i JOIN incident_category c ON c.code = i.category_code"
        " JOIN incident_status s ON s.code = i.status JOIN grid g ON g.id = i.grid_id"
        " WHERE i.reporter_user_id = :u"
    )
    params = {"u": p.user_id}
    if incident_id is not None:
        sql += " AND i.id = :i"
        params["i"] = incident_id
    return session().execute(text(sql + " ORDER BY i.reported_at DESC LIMIT 200"), params).all()


def _own(r, clock) -> dict:
    return {
        "id": r.id,
        "code": r.code,
        "category": r.category_code,
        "category_zh": r.category_zh,
        "status": r.status,
        "status_zh": r.status_zh,
        "description": r.description,
        "grid": r.grid,
        "level": r.level,
        "reported_at": r.reported_at.isoformat(),
        "due_at": r.due_at.isoformat() if r.due_at else None,
        "closed_at": r.closed_at.isoformat() if r.closed_at else None,
        "overdue": bool(r.status in RUNNING and r.due_at and r.due_at < clock),
        "satisfaction": r.satisfaction,
        "merged": r.merged_into_id is not None,
        "may_rate": r.status == "closed",
    }


@bp.get("/incidents/mine")
def mine():
    """The signed-in user's own reports, merged duplicates with the shared loop's status."""
    clock = now()
    return jsonify(reports=[_own(r, clock) for r in _own_rows()])


@bp.get("/incidents/mine/<int:incident_id>")
def mine_one(incident_id: int):
    """One own report with its history (roles and notes; no names of officials)."""
    rows = _own_rows(incident_id)
    if not rows:
        raise NotFound(incident_id)
    history = session().execute(
        text(
            "SELECT seq, from_status, to_status, at, actor_role, action, note FROM incident_event"
            " WHERE incident_id = :i ORDER BY seq"
        ),
        {"i": incident_id},
    )
    return jsonify(
        _own(rows[0], now())
        | {
            "history": [
                {
                    "seq": h.seq,
                    "from": h.from_status,
                    "to": h.to_status,
                    "at": h.at.isoformat(),
                    "role": h.actor_role,
                    "action": h.action,
                    "note": h.note,
                }
                for h in history
            ]
        }
    )


@bp.get("/incidents/duplicates")
def duplicates():
    """Open reports of a category near a point: ask before filing (offered as a merge)."""
    r = parse_report(
        {
            "category": request.args.get("category"),
            "lon": request.args.get("lon"),
            "lat": request.args.get("lat"),
            "description": "-",
        }
    )
    return jsonify(candidates=candidates(session(), r.category, r.lon, r.lat, now()))


@bp.get("/incidents/overdue")
def overdue():
    """Running cases past their due time in the user's areas (GeoJSON, for the map layer)."""
    p = principal()
    scope = p.scope("incident")
    if scope.empty:
        return jsonify(type="FeatureCollection", features=[])
    clock = now()
    rows = session().execute(
        select(
            Incident.id,
            Incident.code,
            Incident.category_code,
            Incident.status,
            Incident.level,
            Incident.due_at,
            Incident.supervised_at,
            func.ST_X(Incident.geom),
            func.ST_Y(Incident.geom),
        )
        .where(
            and_(
                scope_clause(scope, Incident, geom=Incident.geom),
                Incident.status.in_(RUNNING),
                Incident.due_at < clock,
                Incident.merged_into_id.is_(None),
            )
        )
        .order_by(Incident.due_at)
        .limit(5000)
    )
    return jsonify(
        type="FeatureCollection",
        features=[
            {
                "type": "Feature",
                "id": r.id,
                "geometry": {"type": "Point", "coordinates": [round(r[7], 7), round(r[8], 7)]},
                "properties": {
                    "id": r.id,
                    "code": r.code,
                    "category": r.category_code,
                    "status": r.status,
                    "level": r.level,
                    "due_at": r.due_at.isoformat(),
                    "overdue": True,
                    "overdue_hours": round((clock - r.due_at).total_seconds() / 3600, 1),
                    "supervised": r.supervised_at is not None,
                },
            }
            for r in rows
        ],
    )


@bp.post("/incidents/escalate-overdue")
def escalate():
    """Run the timeout escalation now (the town; a timer runs ``wangge incident sweep``)."""
    p = principal()
    if "town_admin" not in p.roles:
        raise PermissionError("只有镇管理员可以执行 / only the town administrator may run this")
    db = session()
    ids = escalate_overdue(db, now(), calendar())
    db.commit()
    return jsonify(escalated=ids)


@bp.get("/incidents/<int:incident_id>/photos/<sha256>")
def photo(incident_id: int, sha256: str):
    """A photo, to those who may see its incident (RLS decides, as for the incident)."""
    db = session()
    row = db.scalars(
        select(IncidentPhoto).where(
            IncidentPhoto.incident_id == incident_id, IncidentPhoto.sha256 == sha256
        )
    ).first()
    if row is None:
        raise NotFound(sha256)
    path = ph.path_of(photo_root(), row.sha256, row.mime)
    if not path.exists():
        raise NotFound(sha256)
    return send_file(path, mimetype=row.mime, max_age=3600)


@bp.get("/incident-categories")
def categories():
    return jsonify(categories=cat.catalogue(session()))


@bp.post("/incident-categories")
def add_category():
    body = json_body()
    db = session()
    if not isinstance(body, dict):
        raise Invalid("请求体应为 JSON 对象 / the body must be a JSON object")
    out = cat.add_category(db, principal(), body, ip=client_ip())
    db.commit()
    return jsonify(out), 201


@bp.put("/incident-categories/<code>")
def update_category(code: str):
    body = json_body()
    if not isinstance(body, dict):
        raise Invalid("请求体应为 JSON 对象 / the body must be a JSON object")
    db = session()
    out = cat.update_category(db, principal(), code, body, ip=client_ip())
    db.commit()
    return jsonify(out)
