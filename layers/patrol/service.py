"""Patrol routes and tracks on the stored village data: plan, export as GPX, check a walk.

The algorithms live in the modules beside this one (postman, budget, weekplan,
gpx, compliance); this module reads a village's lanes and incidents from
PostGIS, runs them, and stores routes, week plans and walked tracks with their
check. Reading them back within a user's areas is in :mod:`layers.patrol.queries`.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts import audit
from layers.db import METRIC_SRID, SRID
from layers.errors import Invalid, NotFound
from layers.hotspots.gistar import gi_star_points, hotspot_clusters
from layers.hotspots.runs import incident_points
from layers.patrol.budget import budget_route, place_stops
from layers.patrol.compliance import check_track
from layers.patrol.errors import PatrolInputError
from layers.patrol.gpx import read_gpx, write_gpx
from layers.patrol.network import build_network
from layers.patrol.postman import chinese_postman, rural_postman
from layers.patrol.queries import week_plan_detail
from layers.patrol.weekplan import DEFAULT_WINDOWS, week_plan

#: Incidents of this many days before the latest one decide where a budget route stops.
HOTSPOT_WINDOW_DAYS = 365

#: Length of one patrol of a week plan (minutes): it must fit the shorter window (6–10 h).
WEEK_MINUTES = (10.0, 240.0)
#: Minutes spent at a hotspot (Koper: 10–15 min deter best; allow a wider range).
STOP_MINUTES = (1.0, 60.0)
#: Planned start times are local (Beijing) times.
LOCAL = ZoneInfo("Asia/Shanghai")


def _village(session: Session, code: str):
    row = session.execute(
        text(
            f"SELECT id, code, name, ST_AsBinary(ST_Transform(geom, {METRIC_SRID})) AS metric,"
            " ST_AsBinary(geom) AS lonlat,"
            f" ST_AsBinary(ST_Transform(ST_PointOnSurface(geom), {METRIC_SRID})) AS base"
            " FROM village WHERE code = :c"
        ),
        {"c": code},
    ).one_or_none()
    if row is None:
        raise NotFound(f"没有代码为 {code} 的村 / no village {code}")
    return row


def _lines(session: Session, table: str, village_id: int) -> gpd.GeoDataFrame:
    return gpd.read_postgis(
        text(
            f"SELECT id AS key, ST_Transform(geom, {METRIC_SRID}) AS geom FROM {table}"
            " WHERE village_id = :v AND geom IS NOT NULL"
        ),
        session.connection(),
        geom_col="geom",
        crs=METRIC_SRID,
        params={"v": village_id},
    )


def village_network(session: Session, code: str):
    """The lane network of village ``code`` (lanes and streets, metric CRS) and the village."""
    v = _village(session, code)
    lanes, streets = _lines(session, "lane", v.id), _lines(session, "street", v.id)
    if lanes.empty and streets.empty:
        raise Invalid(f"{v.name}没有街巷数据，无法规划路线 / {code} has no lanes or streets")
    try:
        network = build_network(lanes if len(lanes) else streets, streets if len(lanes) else None)
    except PatrolInputError as exc:
        raise Invalid(str(exc)) from exc
    return network, v


def plan_route(
    session: Session,
    village_code: str,
    *,
    mode: str = "cover",
    minutes: float = 60.0,
    stop_min: float = 12.0,
    seed: int = 0,
    lanes: list[int] | None = None,
    grid: str | None = None,
    actor: str = "cli",
) -> dict:
    """Plan and store a route for the village; return what was stored.

    Parameters
    ----------
    mode
        ``cover``: walk every lane and street from the base and back (exact
        undirected Chinese postman), or only the assigned ``lanes`` / the
        lanes inside ``grid`` (rural postman: other lanes and streets only
        connect them). ``budget``: in ``minutes``, stop ``stop_min`` minutes
        at the hotspots that matter most (Gi* on the village's incidents of
        the last year).
    seed
        Varies the walking order (cover) or the search (budget); use the day.
    lanes
        Lane ids of the village to walk (cover mode only).
    grid
        Code of a current grid of the village: its lanes are walked, from a
        point inside it (cover mode only).
    """
    if mode not in ("cover", "budget"):
        raise Invalid("mode 应为 cover 或 budget / mode must be cover or budget", "mode")
    if (lanes is not None or grid is not None) and mode != "cover":
        raise Invalid(
            "指定街巷或网格只用于全巷巡逻（cover） / lanes or a grid go with mode cover only",
            "mode",
        )
    if lanes is not None and grid is not None:
        raise Invalid("街巷和网格只能指定一种 / give either lanes or a grid, not both", "lanes")
    network, v = village_network(session, village_code)
    base = shapely.from_wkb(bytes(v.base))
    assigned = None
    if lanes is not None or grid is not None:
        assigned, grid_base, label = _assigned_lanes(session, network, v, lanes, grid)
        base = grid_base or base
    params: dict = {"base": _lonlat([(base.x, base.y)])[0], "seed": seed}
    if assigned is not None:
        try:
            route = rural_postman(network, assigned, (base.x, base.y), seed=seed or None)
        except PatrolInputError as exc:
            raise Invalid(str(exc), "lanes") from exc
        geometry = shapely.MultiLineString([p.geometry for p in route.parts])
        length = route.length_m
        params.update(
            lanes=sorted({int(k) for k in network.key[assigned]}),
            grid=grid,
            required_m=round(route.parts[0].required_m, 1),
            deadhead_m=round(route.deadhead_m, 1),
            lower_bound_m=round(route.lower_bound_m, 1),
            optimal=route.optimal,
        )
        name = f"{v.name}{label}巡逻"
    elif mode == "cover":
        route = chinese_postman(network, (base.x, base.y), seed=seed or None)
        geometry = shapely.MultiLineString([p.geometry for p in route.parts])
        length = route.length_m
        params.update(
            parts=len(route.parts), deadhead_m=round(route.deadhead_m, 1), message=route.message
        )
        name = f"{v.name}全巷巡逻"
    else:
        stops = _hotspots(session, v)
        if stops is None:
            raise Invalid(
                f"{v.name}近一年没有事件热点，无需限时巡逻路线"
                f" / no hotspots in {village_code} over the last year"
            )
        route = budget_route(
            network,
            (base.x, base.y),
            stops["x"].to_numpy(),
            stops["y"].to_numpy(),
            stops["priority"].to_numpy(),
            budget_min=minutes,
            stop_min=stop_min,
            seed=seed,
        )
        if not route.stops:
            raise Invalid(f"{minutes:g} 分钟内到不了任何热点 / no hotspot is reachable in time")
        geometry = shapely.MultiLineString([route.geometry])
        length = route.walk_m
        chosen = stops.iloc[route.stops]
        params.update(
            minutes=minutes,
            stop_min=stop_min,
            stops_from=str(stops["source"].iloc[0]),
            prize=round(route.prize, 1),
            total_min=round(route.total_s / 60, 1),
            stops=[
                {
                    "lon": lon,
                    "lat": lat,
                    "priority": round(float(pr), 1),
                    "arrive_min": round(float(a) / 60, 1),
                    "leave_min": round(float(b) / 60, 1),
                }
                for (lon, lat), pr, a, b in zip(
                    _lonlat(chosen[["x", "y"]].to_numpy()),
                    chosen["priority"],
                    route.arrive_s,
                    route.leave_s,
                    strict=True,
                )
            ],
        )
        name = f"{v.name}热点巡逻（{minutes:g}分钟）"
    lonlat = gpd.GeoSeries([geometry], crs=METRIC_SRID).to_crs(SRID).iloc[0]
    route_id = session.execute(
        text(
            "INSERT INTO patrol_route (name, village_id, mode, geom, length_m, params) VALUES"
            " (:n, :v, :m, ST_Multi(ST_GeomFromWKB(:g, 4490)), :l, CAST(:p AS jsonb))"
            " RETURNING id"
        ),
        {
            "n": name,
            "v": v.id,
            "m": mode,
            "g": lonlat.wkb,
            "l": length,
            "p": json.dumps(params, ensure_ascii=False),
        },
    ).scalar_one()
    audit.record(
        session,
        "patrol.plan",
        actor_name=actor,
        object_type="patrol_route",
        object_id=route_id,
        detail={"village": village_code, "mode": mode},
    )
    return {
        "route_id": route_id,
        "name": name,
        "mode": mode,
        "length_m": round(length, 1),
        **params,
    }


def _assigned_lanes(session: Session, network, v, lanes, grid):
    """Edges to walk for ``lanes`` (ids) or ``grid`` (code): mask, base inside the grid, label."""
    lane_edge = network.kind == "lane"
    if lanes is not None:
        ids = sorted({int(i) for i in lanes})
        if not ids:
            raise Invalid("没有指定街巷 / no lanes given", "lanes")
        known = {
            int(r[0])
            for r in session.execute(
                text("SELECT id FROM lane WHERE village_id = :v AND id = ANY(:ids)"),
                {"v": v.id, "ids": ids},
            )
        }
        missing = [i for i in ids if i not in known]
        if missing:
            names = ", ".join(map(str, missing[:10]))
            raise Invalid(
                f"{v.name}没有这些街巷：{names} / no such lanes in {v.code}: {names}", "lanes"
            )
        mask = lane_edge & np.isin(network.key.astype(np.int64), ids)
        if not mask.any():
            raise Invalid("指定的街巷没有中心线 / the given lanes have no centre line", "lanes")
        return mask, None, "指定街巷"
    row = session.execute(
        text(
            f"SELECT village_id, name, ST_AsBinary(ST_Transform(geom, {METRIC_SRID})) AS metric,"
            f" ST_AsBinary(ST_Transform(ST_PointOnSurface(geom), {METRIC_SRID})) AS base"
            " FROM grid WHERE code = :c AND valid_to IS NULL"
        ),
        {"c": grid},
    ).one_or_none()
    if row is None:
        raise NotFound(f"没有代码为 {grid} 的网格 / no grid {grid}")
    if row.village_id != v.id:
        raise Invalid(f"网格 {grid} 不在{v.name} / grid {grid} is not in {v.code}", "grid")
    area = shapely.from_wkb(bytes(row.metric))
    # A lane crossing the grid's edge counts by its pieces: those whose middle is inside.
    mid = shapely.line_interpolate_point(network.geometry, 0.5, normalized=True)
    mask = lane_edge & shapely.contains(area, mid)
    if not mask.any():
        raise Invalid(f"网格 {grid} 内没有街巷 / grid {grid} has no lanes", "grid")
    return mask, shapely.from_wkb(bytes(row.base)), f"{row.name}网格街巷"


def _lonlat(xy) -> list[list[float]]:
    pts = gpd.GeoSeries(gpd.points_from_xy(*np.asarray(xy, dtype=float).T), crs=METRIC_SRID)
    return [[round(p.x, 6), round(p.y, 6)] for p in pts.to_crs(SRID)]


def _hotspots(session: Session, v):
    """Where a budget route should stop: the village's hotspot peaks (metric x, y, priority).

    Gi* hotspots of the last year's incidents first; a quiet village with no
    significant hotspot gets its busiest cells instead, so the patrol still
    goes where things happen. ``None`` when the village had no incident at all.
    """
    latest = session.execute(
        text("SELECT max(reported_at)::date FROM incident WHERE village_id = :v"), {"v": v.id}
    ).scalar()
    if latest is None:
        return None
    since = latest - timedelta(days=HOTSPOT_WINDOW_DAYS)
    x, y = incident_points(session, since, latest, village_id=v.id)
    if len(x) == 0:
        return None
    result = gi_star_points(x, y, cell_m=50.0, area=shapely.from_wkb(bytes(v.metric)))
    clusters = hotspot_clusters(result, METRIC_SRID)
    clusters = clusters[clusters["priority"] > 0]
    if len(clusters):
        # Stops at the peak cells; the clusters' own x, y (weighted centres) are dropped
        # first, or the renamed columns would be doubled.
        peaks = clusters.drop(columns=["x", "y"], errors="ignore")
        out = peaks.rename(columns={"x_peak": "x", "y_peak": "y"})[["x", "y", "priority"]]
        return out.assign(source="gistar")
    counts = result.counts.ravel()
    busiest = np.argsort(-counts, kind="stable")[:10]
    busiest = busiest[counts[busiest] >= 2]
    if busiest.size == 0:
        return None
    cx, cy = (c.ravel()[busiest] for c in result.grid.centres())
    return pd.DataFrame({"x": cx, "y": cy, "priority": counts[busiest], "source": "busiest"})


def _route(session: Session, route_id: int):
    row = session.execute(
        text(
            "SELECT r.id, r.name, r.mode, r.params, r.village_id, v.code, r.planned_start,"
            " ST_AsBinary(r.geom) AS geom FROM patrol_route r JOIN village v"
            " ON v.id = r.village_id WHERE r.id = :r"
        ),
        {"r": route_id},
    ).one_or_none()
    if row is None:
        raise NotFound(route_id)
    return row


def route_gpx(session: Session, route_id: int) -> str:
    """The route as GPX 1.1 for a phone: the line and its stops as waypoints."""
    r = _route(session, route_id)
    stops = [
        (s["lon"], s["lat"], f"热点 {s.get('hotspot', i + 1)}")
        for i, s in enumerate(r.params.get("stops", []))
    ]
    return write_gpx(
        shapely.from_wkb(bytes(r.geom)), name=r.name, crs="EPSG:4490", waypoints=stops or None
    )


def check_walk(
    session: Session,
    route_id: int,
    gpx: bytes,
    *,
    person_id: int | None = None,
    planned_start: datetime | None = None,
    actor: str = "cli",
) -> dict:
    """Check an uploaded GPX track against route ``route_id`` and store the track.

    Cover routes are checked for the share of the village's lanes walked
    (of the assigned lanes, when the route had some);
    budget routes for the stops visited and how long the patrol stayed. The
    start is compared with ``planned_start``, by default the route's own
    (the patrols of a week plan have one).
    """
    r = _route(session, route_id)
    planned_start = planned_start or r.planned_start
    # Only a full-cover walk is judged by its lanes: build the network just for it.
    if r.mode == "cover":
        network, v = village_network(session, r.code)
    else:
        network, v = None, _village(session, r.code)
    try:
        track = read_gpx(gpx, area=shapely.from_wkb(bytes(v.lonlat)))
    except PatrolInputError as exc:
        raise Invalid(str(exc), "gpx") from exc
    x, y = track.xy(f"EPSG:{METRIC_SRID}")
    stops = r.params.get("stops", [])
    checkpoints = min_dwell = None
    if stops:
        pts = gpd.GeoSeries(
            gpd.points_from_xy([s["lon"] for s in stops], [s["lat"] for s in stops]), crs=SRID
        )
        metric = pts.to_crs(METRIC_SRID)
        checkpoints = np.column_stack([metric.x, metric.y])
        # The stop is kept when most of the planned time was spent there.
        min_dwell = 0.8 * 60 * float(r.params.get("stop_min", 12))
    t = track.time if np.isfinite(track.time).any() else None
    report = check_track(
        x,
        y,
        t,
        checkpoints=checkpoints,
        min_dwell_s=min_dwell or 0.0,
        network=network,
        lane_edges=_checked_lanes(session, network, v, r.params) if network else None,
        planned_start_s=planned_start.timestamp() if planned_start else None,
    )
    summary = {
        k: (None if isinstance(val, float) and not np.isfinite(val) else val)
        for k, val in report.summary().items()
    }
    times = track.time if t is not None else np.zeros(len(x))
    times = np.where(np.isfinite(times), times, np.nanmin(times) if t is not None else 0.0)
    started = datetime.fromtimestamp(float(np.min(times)), UTC)
    ended = datetime.fromtimestamp(float(np.max(times)), UTC)
    wkt = (
        "LINESTRING M ("
        + ", ".join(
            f"{lon:.7f} {lat:.7f} {m:.0f}"
            for lon, lat, m in zip(track.lon, track.lat, times, strict=True)
        )
        + ")"
    )
    if len(track.lon) < 2:
        raise Invalid("轨迹点太少 / the track has fewer than two points", "gpx")
    track_id = session.execute(
        text(
            "INSERT INTO patrol_track (village_id, route_id, person_id, started_at, ended_at,"
            " geom, report) VALUES (:v, :r, :p, :s, :e, ST_GeomFromText(:g, 4490),"
            " CAST(:rep AS jsonb)) RETURNING id"
        ),
        {
            "v": r.village_id,
            "r": r.id,
            "p": person_id,
            "s": started,
            "e": ended,
            "g": wkt,
            "rep": json.dumps(summary),
        },
    ).scalar_one()
    audit.record(
        session,
        "patrol.check",
        actor_name=actor,
        object_type="patrol_track",
        object_id=track_id,
        detail={"route": route_id},
    )
    return {"track_id": track_id, "route_id": route_id, "warnings": list(track.warnings), **summary}


def _checked_lanes(session: Session, network, v, params: dict) -> np.ndarray:
    """Edges a cover walk is judged by: the assigned ones when the route had some, else all."""
    assigned = params.get("lanes")
    if not assigned:
        return np.arange(network.n_edges)
    keep = (network.kind == "lane") & np.isin(network.key.astype(np.int64), assigned)
    if params.get("grid"):
        # Only the pieces inside the grid were asked for (while the grid is current).
        with contextlib.suppress(Invalid, NotFound):
            keep, _, _ = _assigned_lanes(session, network, v, None, params["grid"])
    if not keep.any():
        raise Invalid("路线的指定街巷已不存在 / the route's assigned lanes no longer exist")
    return np.flatnonzero(keep)


def check_week_input(minutes: float, stop_min: float, seed: int, team: str | None) -> None:
    """:class:`Invalid` (bilingual, naming the field) unless the week plan's inputs are usable."""
    lo, hi = WEEK_MINUTES
    if not lo <= minutes <= hi:
        raise Invalid(
            f"每次巡逻时长应在 {lo:g}–{hi:g} 分钟之间"
            f" / minutes per patrol must be between {lo:g} and {hi:g}",
            "minutes",
        )
    lo, hi = STOP_MINUTES
    if not lo <= stop_min <= hi:
        raise Invalid(
            f"每个热点停留时间应在 {lo:g}–{hi:g} 分钟之间"
            f" / minutes per stop must be between {lo:g} and {hi:g}",
            "stop_min",
        )
    if stop_min > minutes:
        raise Invalid("停留时间不能超过巡逻时长 / a stop cannot outlast the patrol", "stop_min")
    if not 0 <= seed < 2**31:
        raise Invalid("seed 应为 0 到 2147483647 的整数 / seed must be 0 to 2147483647", "seed")
    if team is not None and not 1 <= len(team.strip()) <= 40:
        raise Invalid("巡逻队名称应为 1–40 个字 / the team name must be 1–40 characters", "team")


def plan_week(
    session: Session,
    village_code: str,
    week_start: date,
    *,
    minutes: float = 60.0,
    stop_min: float = 12.0,
    seed: int = 0,
    team: str | None = None,
    actor: str = "cli",
    actor_user_id: int | None = None,
) -> dict:
    """Plan and store a week of twice-daily patrols for the village's patrol team.

    The hotspots are those a budget route would stop at (see :func:`plan_route`);
    :func:`~layers.patrol.weekplan.week_plan` chooses 7 × 2 routes with varied
    stops and start times while steering each hotspot's visits toward its
    share. Each patrol is stored as a budget route carrying the plan, its
    window of the day (``slot`` 0: morning, 1: afternoon) and its planned start.

    Parameters
    ----------
    week_start
        First day of the week (any weekday); start times are Beijing times.
    minutes, stop_min
        Length of each patrol and time spent at each hotspot (minutes).
    seed
        Varies the routes and times: plan a new week with a new seed.
    team
        The patrol team's name (default: the village's name + 巡逻队).

    Returns
    -------
    dict
        The stored plan as :func:`layers.patrol.queries.week_plan_detail` reads it.
    """
    check_week_input(minutes, stop_min, seed, team)
    network, v = village_network(session, village_code)
    stops = _hotspots(session, v)
    if stops is None:
        raise Invalid(
            f"{v.name}近一年没有事件热点，无需限时巡逻路线"
            f" / no hotspots in {village_code} over the last year"
        )
    base = shapely.from_wkb(bytes(v.base))
    priority = stops["priority"].to_numpy(dtype=float)
    try:
        placed = place_stops(
            network, (base.x, base.y), stops["x"].to_numpy(), stops["y"].to_numpy()
        )
        plan = week_plan(placed, priority, budget_min=minutes, stop_min=stop_min, seed=seed)
    except PatrolInputError as exc:
        raise Invalid(str(exc)) from exc
    if not plan.best.stops:
        raise Invalid(f"{minutes:g} 分钟内到不了任何热点 / no hotspot is reachable in time")
    hotspots = [
        {"hotspot": k + 1, "lon": lon, "lat": lat, "priority": round(float(pr), 1)}
        for k, ((lon, lat), pr) in enumerate(
            zip(_lonlat(stops[["x", "y"]].to_numpy()), priority, strict=True)
        )
    ]
    # NaN (no bound when the routes were sampled) is not JSON: stored as null.
    metrics = {
        k: round(float(val), 3) if np.isfinite(val) else None
        for k, val in plan.metrics(priority).items()
    }
    team = team.strip() if team else f"{v.name}巡逻队"
    plan_params = {
        "minutes": minutes,
        "stop_min": stop_min,
        "seed": seed,
        "windows": [list(w) for w in DEFAULT_WINDOWS],
        "base": _lonlat([(base.x, base.y)])[0],
        "stops_from": str(stops["source"].iloc[0]),
        "hotspots": hotspots,
        "target_visits": [int(t) for t in plan.target_visits],
        "visits": [int(t) for t in plan.visits],
        "metrics": metrics,
        "shortfalls": list(plan.shortfalls),
        "proved_infeasible": list(plan.proved_infeasible),
        "coverage": [round(float(c), 4) for c in plan.coverage],
    }
    plan_id = session.execute(
        text(
            "INSERT INTO patrol_week_plan (village_id, team, week_start, params)"
            " VALUES (:v, :t, :w, CAST(:p AS jsonb)) RETURNING id"
        ),
        {"v": v.id, "t": team, "w": week_start, "p": json.dumps(plan_params, ensure_ascii=False)},
    ).scalar_one()
    lines = gpd.GeoSeries([p.route.geometry for p in plan.patrols], crs=METRIC_SRID).to_crs(SRID)
    for patrol, line in zip(plan.patrols, lines, strict=True):
        route = patrol.route
        day = week_start + timedelta(days=patrol.day)
        # Whole minutes: a start of 06:14 is what a volunteer is told.
        start = datetime.combine(day, time(), LOCAL) + timedelta(minutes=round(patrol.start_min))
        chosen = [hotspots[k] for k in route.stops]
        params = {
            "minutes": minutes,
            "stop_min": stop_min,
            "prize": round(route.prize, 1),
            "total_min": round(route.total_s / 60, 1),
            "stops": [
                {**h, "arrive_min": round(float(a) / 60, 1), "leave_min": round(float(b) / 60, 1)}
                for h, a, b in zip(chosen, route.arrive_s, route.leave_s, strict=True)
            ],
            "message": route.message,
        }
        window = "上午" if patrol.slot == 0 else "下午"
        session.execute(
            text(
                "INSERT INTO patrol_route (name, village_id, mode, geom, length_m, params,"
                " week_plan_id, planned_start, slot) VALUES (:n, :v, 'budget',"
                " ST_Multi(ST_GeomFromWKB(:g, 4490)), :l, CAST(:p AS jsonb), :w, :s, :slot)"
            ),
            {
                "n": f"{team}{day.month}月{day.day}日{window}巡逻",
                "v": v.id,
                "g": line.wkb,
                "l": route.walk_m,
                "p": json.dumps(params, ensure_ascii=False),
                "w": plan_id,
                "s": start,
                "slot": patrol.slot,
            },
        )
    audit.record(
        session,
        "patrol.week_plan",
        actor_user_id=actor_user_id,
        actor_name=actor,
        object_type="patrol_week_plan",
        object_id=plan_id,
        detail={"village": village_code, "week_start": week_start.isoformat(), "seed": seed},
    )
    return week_plan_detail(session, None, plan_id, unrestricted=True)
