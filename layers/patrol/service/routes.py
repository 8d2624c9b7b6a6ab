"""Plan and store a village's patrol route (cover or budget); read it back as GPX."""

from __future__ import annotations

import json

import geopandas as gpd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts import audit
from layers.db import METRIC_SRID, SRID
from layers.errors import Invalid, NotFound
from layers.patrol.budget import budget_route
from layers.patrol.errors import PatrolInputError
from layers.patrol.gpx import write_gpx
from layers.patrol.postman import chinese_postman, rural_postman
from layers.patrol.service.hotspots import _hotspots
from layers.patrol.service.village import _assigned_lanes, _lonlat, village_network


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
    actor_user_id: int | None = None,
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
            parts=len(route.parts),
            message=route.message,
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
        actor_user_id=actor_user_id,
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
