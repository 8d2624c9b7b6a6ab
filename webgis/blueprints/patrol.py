"""Patrol APIs and pages: routes (GeoJSON, GPX), walked tracks (GPX upload), week plans
(plan, read, a table page) and the monthly coverage (page, CSV)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge

from layers.accounts import audit
from layers.accounts.access import Scope, apply_scope
from layers.errors import Invalid, NotFound
from layers.patrol.gpx import MAX_GPX_BYTES
from layers.patrol.queries import (
    COVERAGE_COLUMNS,
    PLANNER_ROLES,
    check_route_visible,
    coverage,
    may_plan,
    plannable_villages,
    route_features,
    track_features,
    village_by_code,
    week_plan_detail,
    week_plans,
)
from layers.patrol.service import check_walk, check_week_input, plan_week, route_gpx
from webgis.auth import client_ip, principal
from webgis.db import session
from webgis.errors import answer
from webgis.i18n import translate
from webgis.jsonbody import json_body

bp = Blueprint("patrol", __name__)

#: Most months one coverage table spans.
MAX_MONTHS = 120


@bp.get("/api/patrol/routes")
def routes():
    return jsonify(route_features(session(), principal(), request.args.get("village") or None))


@bp.get("/api/patrol/routes/<int:route_id>")
def route_one(route_id: int):
    """One visible route as a GeoJSON feature (the patrol map shows it on request)."""
    found = route_features(session(), principal(), route_id=route_id)["features"]
    if not found:
        raise NotFound(route_id)
    return jsonify(found[0])


@bp.get("/api/patrol/routes/<int:route_id>.gpx")
def route_as_gpx(route_id: int):
    check_route_visible(session(), principal(), route_id)
    return Response(
        route_gpx(session(), route_id),
        mimetype="application/gpx+xml",
        headers={"Content-Disposition": f"attachment; filename=route-{route_id}.gpx"},
    )


@bp.post("/api/patrol/routes/<int:route_id>/tracks")
def upload_track(route_id: int):
    """A walked track (multipart field ``gpx``), checked against the route and stored."""
    db = session()
    check_route_visible(db, principal(), route_id)
    upload = request.files.get("gpx")
    if upload is None:
        raise Invalid("请上传 GPX 文件（字段 gpx）/ upload a GPX file (field gpx)", "gpx")
    with upload.stream:  # a large upload sits in a temporary file: close it either way
        data = upload.read(MAX_GPX_BYTES + 1)
    if len(data) > MAX_GPX_BYTES:
        raise RequestEntityTooLarge("GPX 文件超过 10 MB / the GPX file is over 10 MB")
    p = principal()
    report = check_walk(db, route_id, data, actor=p.username)
    db.commit()
    return jsonify(report), 201


@bp.get("/api/patrol/tracks")
def tracks():
    return jsonify(track_features(session(), principal(), request.args.get("route", type=int)))


# -- week plans ----------------------------------------------------------------------------


def _number(data: Mapping, key: str, default: float, kind: type = float) -> float:
    """A number from JSON (a number) or a form (text); bilingual 400 for anything else."""
    value = data.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid(f"{key} 应为数字 / {key} must be a number", key)
    if kind is int:
        if value != int(value):
            raise Invalid(f"{key} 应为整数 / {key} must be a whole number", key)
        return int(value)
    return float(value)


def _week_input(data: Mapping) -> dict:
    """The week plan's inputs from a JSON body or a form, checked (400 with the field)."""
    area = data.get("area")
    if not isinstance(area, str) or not area.strip():
        raise Invalid("请给出村代码 area / give the village code (area)", "area")
    start = data.get("start")
    try:
        week_start = date.fromisoformat(start) if isinstance(start, str) else None
    except ValueError:
        week_start = None
    if week_start is None:
        raise Invalid("开始日期应为 YYYY-MM-DD / start must be a date, YYYY-MM-DD", "start")
    team = data.get("team")
    if team is not None and not isinstance(team, str):
        raise Invalid("巡逻队名称应为文字 / team must be text", "team")
    out = {
        "area": area.strip(),
        "week_start": week_start,
        "minutes": _number(data, "minutes", 60.0),
        "stop_min": _number(data, "stop_min", 12.0),
        "seed": _number(data, "seed", 0, int),
        "team": (team.strip() or None) if team else None,
    }
    check_week_input(out["minutes"], out["stop_min"], out["seed"], out["team"])
    return out


def _plan(data: Mapping):
    """Plan a week as the signed-in user: 403 for non-planners, 400, 404 (unknown village)."""
    p = principal()
    if p is None or not p.roles & PLANNER_ROLES:
        abort(403)
    args = _week_input(data)
    db = session()
    try:
        village = village_by_code(db, args["area"])
    except NotFound as exc:
        return None, answer(404, str(exc), field="area")
    if not may_plan(db, p, village.id):
        return None, answer(
            403,
            f"您无权为 {village.name} 安排巡逻 / you may not plan patrols for {village.code}",
        )
    # The hotspots come from all of the village's incidents, not only those the planner
    # may read (a grid's team sees its grid's): row-level security is widened to the
    # village for this one computation, which returns hotspot cells and counts (the
    # aggregates /api/hotspots shows to patrol roles), never an incident.
    incidents = p.scope("incident") | Scope(villages=frozenset({village.id}))
    apply_scope(db.connection(), replace(p, scopes={**p.scopes, "incident": incidents}))
    try:
        plan = plan_week(
            db,
            village.code,
            args["week_start"],
            minutes=args["minutes"],
            stop_min=args["stop_min"],
            seed=args["seed"],
            team=args["team"],
            actor=p.username,
            actor_user_id=p.user_id,
        )
    finally:
        apply_scope(db.connection(), p)
    db.commit()
    return plan, None


@bp.get("/api/patrol/week-plans")
def week_plan_list():
    return jsonify(week_plans(session(), principal()))


@bp.post("/api/patrol/week-plans")
def week_plan_create():
    """Plan a week (JSON: area, start, and optionally minutes, stop_min, seed, team)."""
    data = json_body()
    if not isinstance(data, dict):
        raise Invalid("请提交 JSON 对象 / send a JSON object")
    plan, refused = _plan(data)
    if refused is not None:
        return refused
    response = jsonify(plan)
    response.status_code = 201
    response.headers["Location"] = url_for("patrol.week_plan_one", plan_id=plan["id"])
    return response


@bp.get("/api/patrol/week-plans/<int:plan_id>")
def week_plan_one(plan_id: int):
    return jsonify(week_plan_detail(session(), principal(), plan_id))


def _needs_patrol_scope() -> None:
    p = principal()
    if p is None or p.scope("track").empty:
        abort(403)


@bp.get("/patrol/week-plans")
def week_plans_page():
    _needs_patrol_scope()
    p = principal()
    return render_template(
        "patrol_week_plans.html",
        plans=week_plans(session(), p),
        villages=plannable_villages(session(), p),
        today=date.today().isoformat(),
    )


@bp.post("/patrol/week-plans")
def week_plan_form():
    _needs_patrol_scope()
    plan, refused = _plan(request.form)
    if refused is not None:
        return refused
    return redirect(url_for("patrol.week_plan_page", plan_id=plan["id"]), code=303)


@bp.get("/patrol/week-plans/<int:plan_id>")
def week_plan_page(plan_id: int):
    _needs_patrol_scope()
    plan = week_plan_detail(session(), principal(), plan_id)
    hotspots = plan["params"].get("hotspots", [])
    targets = plan["params"].get("target_visits", [])
    visits = plan["params"].get("visits", [])
    for i, h in enumerate(hotspots):
        h["target"] = targets[i] if i < len(targets) else None
        h["visits"] = visits[i] if i < len(visits) else None
    for patrol in plan["patrols"]:
        patrol["weekday"] = date.fromisoformat(patrol["day"]).weekday()
    return render_template("patrol_week_plan.html", plan=plan, hotspots=hotspots)


# -- monthly coverage ----------------------------------------------------------------------


def _month(value: str | None, default: date, field: str) -> date:
    if not value:
        return default.replace(day=1)
    try:
        return date.fromisoformat(value + "-01")
    except ValueError:
        raise Invalid(
            f"月份应为 YYYY-MM，收到 {value} / months must be YYYY-MM, got {value}", field
        ) from None


def _coverage_query() -> tuple[str, date, date, list[dict]]:
    _needs_patrol_scope()
    by = request.args.get("by", "team")
    if by not in ("team", "village"):
        raise Invalid("统计单位应为 team 或 village / by must be team or village", "by")
    until = _month(request.args.get("until"), date.today(), "until")
    year, month = divmod(until.year * 12 + until.month - 1 - 11, 12)  # a year up to until
    since = _month(request.args.get("since"), date(year, month + 1, 1), "since")
    months = (until.year - since.year) * 12 + until.month - since.month + 1
    if months < 1:
        raise Invalid("起始月份晚于截止月份 / since is after until", "since")
    if months > MAX_MONTHS:
        raise Invalid(
            f"最多统计 {MAX_MONTHS} 个月 / at most {MAX_MONTHS} months at a time", "since"
        )
    return by, since, until, coverage(session(), principal(), since, until, by=by)


@bp.get("/patrol/coverage")
def coverage_page():
    by, since, until, rows = _coverage_query()
    return render_template(
        "patrol_coverage.html",
        by=by,
        since=since.strftime("%Y-%m"),
        until=until.strftime("%Y-%m"),
        rows=rows,
    )


@bp.get("/api/patrol/coverage")
def coverage_json():
    by, since, until, rows = _coverage_query()
    return jsonify(by=by, since=since.strftime("%Y-%m"), until=until.strftime("%Y-%m"), rows=rows)


@bp.get("/patrol/coverage.csv")
def coverage_csv():
    by, since, until, rows = _coverage_query()
    p = principal()
    db = session()
    span = {"since": since.strftime("%Y-%m"), "until": until.strftime("%Y-%m")}
    audit.record(
        db,
        "export.patrol_coverage",
        actor_user_id=p.user_id,
        actor_name=p.username,
        detail={"by": by, **span, "rows": len(rows)},
        ip=client_ip(),
    )
    db.commit()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            translate("dashboard.area"),
            "code",
            translate("coverage.team"),
            translate("dashboard.month"),
            *COVERAGE_COLUMNS,
        ]
    )
    no_plan = translate("coverage.no_plan")
    for r in rows:
        team = r["team"] or (no_plan if by == "team" else "")
        writer.writerow(
            [
                r["area_name"],
                r["area_code"],
                team,
                r["month"],
                *("" if r[c] is None else r[c] for c in COVERAGE_COLUMNS),
            ]
        )
    name = f"patrol-coverage-{by}-{span['since']}-{span['until']}.csv"
    return Response(
        "\ufeff" + out.getvalue(),  # the BOM makes Excel read UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )
