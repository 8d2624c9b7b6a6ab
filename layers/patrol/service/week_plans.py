"""Plan and store a week of twice-daily patrols for a village's patrol team."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts import audit
from layers.db import METRIC_SRID, SRID
from layers.errors import Invalid
from layers.patrol.budget import place_stops
from layers.patrol.errors import PatrolInputError
from layers.patrol.queries import week_plan_detail
from layers.patrol.service.hotspots import _hotspots
from layers.patrol.service.village import _lonlat, village_network
from layers.patrol.weekplan import DEFAULT_WINDOWS, week_plan

#: Length of one patrol of a week plan (minutes): it must fit the shorter window (6–10 h).
WEEK_MINUTES = (10.0, 240.0)
#: Minutes spent at a hotspot (Koper: 10–15 min deter best; allow a wider range).
STOP_MINUTES = (1.0, 60.0)
#: Planned start times are local (Beijing) times.
LOCAL = ZoneInfo("Asia/Shanghai")


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
