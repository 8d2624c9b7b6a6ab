"""Patrol APIs and pages: routes (plan one, GeoJSON, GPX, a page per route with its walked
tracks and their check), walked tracks (GPX upload, by API or the route page's form), week
plans (plan, read, a table page) and the monthly coverage (page, CSV)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge

from layers.accounts import audit
from layers.errors import Invalid, NotFound
from layers.patrol.errors import PatrolInputError
from layers.patrol.gpx import MAX_GPX_BYTES
from layers.patrol.queries import (
    COVERAGE_COLUMNS,
    PLANNER_ROLES,
    check_route_visible,
    coverage,
    may_plan,
    plannable_villages,
    route_detail,
    route_features,
    route_list,
    route_tracks,
    track_features,
    village_by_code,
    week_plan_detail,
    week_plans,
)
from layers.patrol.service import (
    check_walk,
    check_week_input,
    plan_route,
    plan_week,
    route_gpx,
)
from webgis.auth import client_ip, principal
from webgis.db import reading_incidents_of, session
from webgis.errors import answer
from webgis.i18n import translate
from webgis.jsonbody import json_body

bp = Blueprint("patrol", __name__)

#: Most months one coverage table spans.
MAX_MONTHS = 120
#: Most lanes one route may be asked to walk (a village has a few hundred).
MAX_LANES = 5000
#: The refusal of a GPX file over :data:`MAX_GPX_BYTES`.
TOO_LARGE = (
    f"GPX 文件超过 {MAX_GPX_BYTES // 2**20} MB / the GPX file is over {MAX_GPX_BYTES // 2**20} MB"
)


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


def _gpx_upload() -> bytes:
    """The uploaded GPX file (multipart field ``gpx``): 400 without one, 413 over 10 MB."""
    upload = request.files.get("gpx")
    if upload is None or not upload.filename:
        raise Invalid("请上传 GPX 文件（字段 gpx）/ upload a GPX file (field gpx)", "gpx")
    with upload.stream:  # a large upload sits in a temporary file: close it either way
        data = upload.read(MAX_GPX_BYTES + 1)
    if len(data) > MAX_GPX_BYTES:
        raise RequestEntityTooLarge(TOO_LARGE)
    return data


def _check_upload(route_id: int) -> dict:
    """Check the uploaded walk against a route the user sees, store it, commit."""
    db = session()
    p = principal()
    check_route_visible(db, p, route_id)
    report = check_walk(db, route_id, _gpx_upload(), actor=p.username, actor_user_id=p.user_id)
    db.commit()
    return report


@bp.post("/api/patrol/routes/<int:route_id>/tracks")
def upload_track(route_id: int):
    """A walked track (multipart field ``gpx``), checked against the route and stored."""
    return jsonify(_check_upload(route_id)), 201


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


def _planning(data: Mapping, parse) -> tuple[dict, object, object]:
    """The checked inputs, the planner and the village of a planning request.

    Refused with 403 for those who do not plan (before their input is read),
    400 for bad input (``parse``), 404 for an unknown village and 403 for a
    village outside the planner's areas (:func:`may_plan`).
    """
    p = principal()
    if p is None or not p.roles & PLANNER_ROLES:
        abort(403)
    args = parse(data)
    try:
        village = village_by_code(session(), args["area"])
    except NotFound as exc:
        abort(make_response(answer(404, str(exc), field="area")))
    if not may_plan(session(), p, village.id):
        message = f"您无权为 {village.name} 安排巡逻 / you may not plan patrols for {village.code}"
        abort(make_response(answer(403, message)))
    return args, p, village


def _plan(data: Mapping) -> dict:
    """Plan a week as the signed-in user (refusals as in :func:`_planning`)."""
    args, p, village = _planning(data, _week_input)
    db = session()
    with reading_incidents_of(p, [village.id]):
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
    db.commit()
    return plan


@bp.get("/api/patrol/week-plans")
def week_plan_list():
    return jsonify(week_plans(session(), principal()))


@bp.post("/api/patrol/week-plans")
def week_plan_create():
    """Plan a week (JSON: area, start, and optionally minutes, stop_min, seed, team)."""
    data = json_body()
    if not isinstance(data, dict):
        raise Invalid("请提交 JSON 对象 / send a JSON object")
    plan = _plan(data)
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
    plan = _plan(request.form)
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


# -- single routes: plan one, its page, walks uploaded from the page ------------------------


def _lane_ids(value) -> list[int] | None:
    """Lane ids from JSON (a list of whole numbers) or a form ("12, 15 19"); None if absent."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        value = value.replace(",", " ").replace("，", " ").split()
    if not isinstance(value, list):
        raise Invalid("lanes 应为街巷编号列表 / lanes must be a list of lane ids", "lanes")
    ids = []
    for item in value:
        if isinstance(item, str) and item.strip().isdecimal():
            item = int(item.strip())
        if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < 2**31:
            raise Invalid(
                f"街巷编号应为正整数，收到 {str(item)[:20]} / lane ids are positive whole"
                f" numbers, got {str(item)[:20]}",
                "lanes",
            )
        ids.append(item)
    if len(ids) > MAX_LANES:
        raise Invalid(
            f"一条路线最多指定 {MAX_LANES} 条街巷 / at most {MAX_LANES} lanes per route", "lanes"
        )
    return ids


def _route_input(data: Mapping) -> dict:
    """A single route's inputs from a JSON body or a form, checked (400 with the field)."""
    area = data.get("area")
    if not isinstance(area, str) or not area.strip():
        raise Invalid("请给出村代码 area / give the village code (area)", "area")
    mode = data.get("mode")
    if mode not in ("cover", "budget"):
        raise Invalid("mode 应为 cover 或 budget / mode must be cover or budget", "mode")
    grid = data.get("grid")
    if grid is not None and not isinstance(grid, str):
        raise Invalid("网格代码应为文字 / grid must be a grid code (text)", "grid")
    grid = (grid.strip() or None) if grid else None
    if grid is not None and len(grid) > 64:
        raise Invalid("网格代码过长 / the grid code is too long", "grid")
    out = {
        "area": area.strip(),
        "mode": mode,
        "minutes": _number(data, "minutes", 60.0),
        "stop_min": _number(data, "stop_min", 12.0),
        "seed": _number(data, "seed", 0, int),
        "lanes": _lane_ids(data.get("lanes")),
        "grid": grid,
    }
    if mode == "budget":
        # A budget route is one patrol of a week plan, planned alone: the same bounds.
        check_week_input(out["minutes"], out["stop_min"], out["seed"], None)
    else:
        # A cover route takes as long as its lanes do: only the seed is checked.
        check_week_input(60.0, 12.0, out["seed"], None)
    return out


def _plan_one(data: Mapping) -> dict:
    """Plan one route as the signed-in user (refusals as in :func:`_planning`)."""
    args, p, village = _planning(data, _route_input)
    db = session()
    try:
        with reading_incidents_of(p, [village.id]):
            route = plan_route(
                db,
                village.code,
                mode=args["mode"],
                minutes=args["minutes"],
                stop_min=args["stop_min"],
                seed=args["seed"],
                lanes=args["lanes"],
                grid=args["grid"],
                actor=p.username,
                actor_user_id=p.user_id,
            )
    except PatrolInputError as exc:
        raise Invalid(str(exc)) from exc
    except NotFound as exc:
        # The village exists (checked above): what was not found is the grid asked for.
        raise Invalid(str(exc), "grid") from exc
    db.commit()
    return route


@bp.post("/api/patrol/routes")
def route_create():
    """Plan one route (JSON: area, mode cover|budget, and optionally minutes, stop_min,
    seed, and for cover either lanes (ids) or grid (code))."""
    data = json_body()
    if not isinstance(data, dict):
        raise Invalid("请提交 JSON 对象 / send a JSON object")
    route = _plan_one(data)
    page = url_for("patrol.route_page", route_id=route["route_id"])
    response = jsonify({**route, "page": page})
    response.status_code = 201
    response.headers["Location"] = url_for("patrol.route_one", route_id=route["route_id"])
    return response


@bp.get("/patrol/routes")
def routes_page():
    _needs_patrol_scope()
    p = principal()
    return render_template(
        "patrol_routes.html",
        routes=route_list(session(), p),
        villages=plannable_villages(session(), p),
    )


@bp.post("/patrol/routes")
def route_form():
    _needs_patrol_scope()
    route = _plan_one(request.form)
    return redirect(url_for("patrol.route_page", route_id=route["route_id"]), code=303)


def _route_page(route_id: int, error: str | None = None, status: int = 200):
    _needs_patrol_scope()
    db = session()
    route = route_detail(db, principal(), route_id)
    return render_template(
        "patrol_route.html",
        route=route,
        tracks=route_tracks(db, principal(), route_id),
        error=error,
    ), status


@bp.get("/patrol/routes/<int:route_id>")
def route_page(route_id: int):
    return _route_page(route_id)


@bp.post("/patrol/routes/<int:route_id>/tracks")
def track_form(route_id: int):
    """The route page's upload form: the walk is checked and the page shows its check.

    A refused file shows the page again with the reason (400 or 413), not a bare
    error page, so that the patrol member can pick another file.
    """
    _needs_patrol_scope()
    try:
        report = _check_upload(route_id)
    except Invalid as exc:
        return _route_page(route_id, exc.message, 400)
    except RequestEntityTooLarge:
        # Also a request over the app's limit (16 MB), refused before the file is read.
        return _route_page(route_id, TOO_LARGE, 413)
    url = url_for("patrol.route_page", route_id=route_id, _anchor=f"track-{report['track_id']}")
    return redirect(url, code=303)


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
