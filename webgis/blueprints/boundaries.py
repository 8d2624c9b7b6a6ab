"""The boundary editor's JSON API: list, count, create, reshape, split, delete.

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
from layers.boundaries.lines import (
    LINE_KINDS,
    create_line,
    delete_line,
    line_feature,
    line_features,
    update_line,
)
from layers.boundaries.queries import boundary_features
from layers.boundaries.saving import Saved, create_grid, delete_grid, update_boundary
from layers.boundaries.splitting import Split, plan_split, preview_features, split_boundary
from layers.boundaries.village_split import (
    VillageSplit,
    plan_village_split,
    split_village,
)
from layers.boundaries.village_split import preview_features as village_preview
from layers.boundaries.villages import create_village
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
    if kind not in KINDS and kind not in LINE_KINDS:
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
    if kind in LINE_KINDS:
        return jsonify(line_features(session(), kind, principal().edit))
    level = _level(request.args.get("level")) if kind == "grid" else None
    return jsonify(boundary_features(session(), kind, level, principal().edit))


@bp.get("/<kind>/<code>")
def show(kind: str, code: str):
    if _kind(kind) in LINE_KINDS:
        return jsonify(line_feature(session(), kind, code))
    return jsonify(feature(session(), kind, code))


@bp.post("/count")
def count():
    """Households in a shape being drawn, against the size rule of its level; saves nothing.

    A shape that could not be saved is reported (``problem``/``where``), not
    refused, so the page can show both while the officer is still drawing.
    """
    require_editor(principal())
    body = _body()
    kind = body.get("kind", "grid")
    if kind not in KINDS:
        raise NotFound(kind)
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


@bp.post("/<kind>")
def create(kind: str):
    """A new grid, village (town administrator only), street or lane."""
    db = session()
    if _kind(kind) in LINE_KINDS:
        made = create_line(db, principal(), kind, _body(), ip=client_ip())
        db.commit()
        return jsonify(feature=made), 201
    if kind == "village":
        saved = create_village(db, principal(), _body(), ip=client_ip())
    else:
        saved = create_grid(db, principal(), _body(), ip=client_ip())
    db.commit()
    return _saved(saved, 201)


@bp.put("/<kind>/<code>")
def update(kind: str, code: str):
    db = session()
    if _kind(kind) in LINE_KINDS:
        made = update_line(db, principal(), kind, code, _body(), ip=client_ip())
        db.commit()
        return jsonify(feature=made)
    saved = update_boundary(db, principal(), kind, code, _body(), ip=client_ip())
    db.commit()
    return _saved(saved)


def _recoded(recodes) -> list[dict]:
    return [
        {"code": r.old_code, "new_code": r.new_code, "level": r.level, "name": r.name}
        for r in recodes
    ]


def _split_answer(split: Split, features, preview: bool):
    rule = split.rule
    parts = [
        {
            "feature": f,
            "households": p.households,
            "area_m2": round(p.area_m2, 1),
            "keeps_code": p.keeps,
            "within": rule.check(p.households) if rule else None,
        }
        for p, f in zip(split.parts, features, strict=True)
    ]
    return {
        "preview": preview,
        "code": split.boundary.code,
        "new_code": split.new_code,
        "rule": [rule.min, rule.max] if rule else None,
        "parts": parts,
        "recoded": _recoded(split.recodes),
    }


def _village_answer(split: VillageSplit, features, preview: bool):
    parts = [
        {
            "feature": f,
            "households": p.households,
            "area_m2": round(p.area_m2, 1),
            "keeps_code": p.keeps,
            "within": None,
        }
        for p, f in zip(split.parts, features, strict=True)
    ]
    return {
        "preview": preview,
        "code": split.village.code,
        "new_code": split.new_code,
        "new_name": split.new_name,
        "new_kind": split.new_kind,
        "rule": None,
        "parts": parts,
        "recoded": _recoded(split.recodes),
        "moves": split.moves,
        "crossing": list(split.crossing),
        "regrid": split.regrid,
    }


@bp.post("/<kind>/<code>/split")
def split(kind: str, code: str):
    """Split a grid or a village in two along ``line``; with ``"preview": true`` only say
    what would happen.

    The preview runs every check the split runs (version, access, crossing,
    slivers, children or grids cut) and counts the households of both parts
    and what would move, so the page can show them before the officer confirms.
    Villages are split by the town administrator only.
    """
    body = _body()
    db = session()
    if _kind(kind) == "village":
        if body.get("preview") is True:
            plan = plan_village_split(db, principal(), code, body)
            db.rollback()  # let go of the row lock taken to check the version
            return jsonify(_village_answer(plan, village_preview(plan), True))
        done = split_village(db, principal(), code, body, ip=client_ip())
        db.commit()
        return jsonify(_village_answer(done, done.features, False)), 201
    if body.get("preview") is True:
        plan = plan_split(db, principal(), kind, code, body)
        db.rollback()  # let go of the row lock taken to check the version
        return jsonify(_split_answer(plan, preview_features(plan), True))
    done = split_boundary(db, principal(), kind, code, body, ip=client_ip())
    db.commit()
    return jsonify(_split_answer(done, done.features, False)), 201


@bp.delete("/<kind>/<code>")
def delete(kind: str, code: str):
    db = session()
    if _kind(kind) in LINE_KINDS:
        delete_line(db, principal(), kind, code, request.args.get("version"), ip=client_ip())
        db.commit()
        return jsonify(deleted=code)
    if kind != "grid":
        raise Forbidden()  # village outlines are the town's, never deleted from the map
    version = request.args.get("version", type=int)
    delete_grid(db, principal(), code, version, ip=client_ip())
    db.commit()
    return jsonify(deleted=code)
