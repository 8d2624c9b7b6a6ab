"""The boundary editor's JSON API: list, count, create, reshape, delete.

Every write needs the ``X-CSRF-Token`` header (webgis/auth.py) and an edit
grant on the area (``principal().edit``). Refusals are bilingual: 422 for a
shape that cannot be stored (with ``where``, the place of the error), 409 for
a stale version (with the current boundary, so the page can show it beside
the officer's draft), 403 outside the user's areas.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from layers.boundaries.editing import (
    KINDS,
    Conflict,
    Forbidden,
    count_households,
    feature,
    prepare,
    require_editor,
    rule_for,
)
from layers.boundaries.ingress import ShapeRefused, parse_polygon
from layers.boundaries.queries import boundary_features
from layers.boundaries.saving import Saved, create_grid, delete_grid, update_boundary
from layers.errors import Invalid, NotFound
from webgis.auth import client_ip, principal
from webgis.db import session
from webgis.errors import answer
from webgis.jsonbody import json_body

bp = Blueprint("boundaries", __name__, url_prefix="/api/boundaries")

#: A boundary of 5,000 vertices is about 200 KB of GeoJSON.
MAX_BODY = 512 * 1024


@bp.errorhandler(ShapeRefused)
def _refused(exc: ShapeRefused):
    return answer(422, exc.message, field=exc.field, where=exc.where, reason=exc.reason)


@bp.errorhandler(Conflict)
def _conflict(exc: Conflict):
    who = exc.edited_by or "?"
    v = exc.current["properties"]["version"]
    return answer(
        409,
        f"该边界已被 {who} 修改（现为第 {v} 版），您的修改已保存为草稿 / {who} changed this"
        f" boundary (now version {v}); your edit is kept as a draft",
        current=exc.current,
        edited_by=exc.edited_by,
        edited_at=exc.edited_at,
    )


@bp.errorhandler(Forbidden)
def _forbidden(_exc: Forbidden):
    return answer(403, "您无权修改此区域的边界 / you may not edit boundaries here")


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound(kind)
    return kind


def _body() -> dict:
    body = json_body(max_bytes=MAX_BODY)
    if not isinstance(body, dict):
        raise Invalid("请求体应为 JSON 对象 / the body must be a JSON object")
    return body


def _level(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise Invalid("网格级别应为 1、2 或 3 / level must be 1, 2 or 3", "level") from exc


def _saved(saved: Saved, status: int = 200):
    rule = saved.rule
    return jsonify(
        feature=saved.feature,
        households=saved.households,
        rule=[rule.min, rule.max] if rule else None,
        within=rule.check(saved.households) if rule else None,
    ), status


@bp.get("")
def index():
    kind = _kind(request.args.get("kind", "grid"))
    level = _level(request.args.get("level")) if kind == "grid" else None
    return jsonify(boundary_features(session(), kind, level, principal().edit))


@bp.get("/<kind>/<code>")
def show(kind: str, code: str):
    return jsonify(feature(session(), _kind(kind), code))


@bp.post("/count")
def count():
    """Households in a shape being drawn, against the size rule of its level; saves nothing.

    A shape that could not be saved is reported (``problem``/``where``), not
    refused, so the page can show both while the officer is still drawing.
    """
    require_editor(principal())
    body = _body()
    kind = _kind(body.get("kind", "grid"))
    level = _level(body.get("level"))
    db = session()
    problem = where = None
    households = None
    try:
        # Count what is drawn even when it may not be saved as it is (an overlap).
        households = count_households(db, parse_polygon(body.get("geometry"), body.get("srid")))
        prepare(db, kind, level, body.get("geometry"), srid=body.get("srid"))
    except ShapeRefused as exc:
        problem, where = exc.message, exc.where
    rule = rule_for(kind, level)
    return jsonify(
        households=households,
        rule=[rule.min, rule.max] if rule else None,
        within=rule.check(households) if rule and households is not None else None,
        problem=problem,
        where=where,
    )


@bp.post("/grid")
def create():
    db = session()
    saved = create_grid(db, principal(), _body(), ip=client_ip())
    db.commit()
    return _saved(saved, 201)


@bp.put("/<kind>/<code>")
def update(kind: str, code: str):
    db = session()
    saved = update_boundary(db, principal(), _kind(kind), code, _body(), ip=client_ip())
    db.commit()
    return _saved(saved)


@bp.delete("/<kind>/<code>")
def delete(kind: str, code: str):
    if _kind(kind) != "grid":
        raise Forbidden()  # village outlines are the town's, never deleted from the map
    version = request.args.get("version", type=int)
    db = session()
    delete_grid(db, principal(), code, version, ip=client_ip())
    db.commit()
    return jsonify(deleted=code)
