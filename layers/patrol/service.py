"""Patrol routes and tracks on the stored village data: plan, export as GPX, check a walk.

The algorithms live in the modules beside this one (postman, budget, gpx,
compliance); this module reads a village's lanes and incidents from PostGIS,
runs them, and stores routes and walked tracks with their check.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

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
from layers.patrol.budget import budget_route
from layers.patrol.compliance import check_track
from layers.patrol.errors import PatrolInputError
from layers.patrol.gpx import read_gpx, write_gpx
from layers.patrol.network import build_network
from layers.patrol.postman import chinese_postman

#: Incidents of this many days before the latest one decide where a budget route stops.
HOTSPOT_WINDOW_DAYS = 365


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
    actor: str = "cli",
) -> dict:
    """Plan and store a route for the village; return what was stored.

    Parameters
    ----------
    mode
        ``cover``: walk every lane and street from the base and back (exact
        undirected Chinese postman). ``budget``: in ``minutes``, stop
        ``stop_min`` minutes at the hotspots that matter most (Gi* on the
        village's incidents of the last year).
    seed
        Varies the walking order (cover) or the search (budget); use the day.
    """
    if mode not in ("cover", "budget"):
        raise Invalid("mode 应为 cover 或 budget / mode must be cover or budget", "mode")
    network, v = village_network(session, village_code)
    base = shapely.from_wkb(bytes(v.base))
    params: dict = {"base": _lonlat([(base.x, base.y)])[0], "seed": seed}
    if mode == "cover":
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
        out = clusters.rename(columns={"x_peak": "x", "y_peak": "y"})[["x", "y", "priority"]]
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
            "SELECT r.id, r.name, r.mode, r.params, r.village_id, v.code,"
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
    stops = [(s["lon"], s["lat"], f"热点 {i + 1}") for i, s in enumerate(r.params.get("stops", []))]
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

    Cover routes are checked for the share of the village's lanes walked;
    budget routes for the stops visited and how long the patrol stayed.
    """
    r = _route(session, route_id)
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
        lanes=network.edges_gdf().geometry.to_numpy() if network else None,
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


def monthly_report(session: Session, month: date) -> list[dict]:
    """Per village and route mode: walks checked in the month and their mean coverage."""
    rows = session.execute(
        text(
            "SELECT v.code, v.name, r.mode, count(*) AS walks,"
            " avg((t.report->>'lane_share')::float) AS lane_share,"
            " avg((t.report->>'checkpoint_share')::float) AS checkpoint_share"
            " FROM patrol_track t JOIN patrol_route r ON r.id = t.route_id"
            " JOIN village v ON v.id = t.village_id"
            " WHERE date_trunc('month', t.started_at AT TIME ZONE 'Asia/Shanghai') = :m"
            " GROUP BY v.code, v.name, r.mode ORDER BY v.code, r.mode"
        ),
        {"m": month.replace(day=1)},
    ).all()
    return [dict(r._mapping) for r in rows]
