"""Reading patrol routes, week plans, tracks and their monthly coverage within a user's areas.

Patrol data is per village; a user sees the patrol of the villages his
``track`` scope covers (a grid grant covers its village's patrol). Walked
tracks are also guarded by row-level security.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts.access import Principal, Scope
from layers.errors import NotFound
from layers.patrol.compliance import monthly_coverage

#: Roles that may plan patrols (the leaders of the village's patrol): the town's
#: administrators, grid officers, and of the grid team the village cadre (治保) and
#: the community police officer who lead the 治安巡防 volunteers. Patrol members
#: walk the plans and upload their tracks; they do not plan.
PLANNER_ROLES = frozenset({"town_admin", "grid_officer", "village_cadre", "community_police"})


def _villages_sql(scope: Scope) -> tuple[str, dict]:
    """Villages whose patrol data the scope covers (a grid grant covers its village's patrol)."""
    if scope.all:
        return "true", {}
    return (
        "(r.village_id = ANY(:villages) OR r.village_id IN"
        " (SELECT village_id FROM grid WHERE id = ANY(:grids)))",
        {"villages": sorted(scope.villages), "grids": sorted(scope.grids)},
    )


def _bbox_sql(bbox: tuple[float, float, float, float] | None) -> tuple[str, dict]:
    if bbox is None:
        return "true", {}
    return "r.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4490)", dict(
        zip(("x0", "y0", "x1", "y1"), bbox, strict=True)
    )


def _collection(
    session: Session,
    principal: Principal | None,
    select_from: str,
    filters: str,
    params: dict,
    bbox: tuple[float, float, float, float] | None,
) -> dict:
    """Rows of ``select_from`` (alias ``r``; columns ``id``, ``geojson`` and properties) in
    the user's patrol areas and the view, newest first (at most 200), as GeoJSON."""
    scope = principal.scope("track") if principal else Scope()
    if scope.empty:
        return {"type": "FeatureCollection", "features": []}
    where, area = _villages_sql(scope)
    in_view, view = _bbox_sql(bbox)
    rows = session.execute(
        text(
            f"{select_from} WHERE {where} AND {in_view} AND {filters} ORDER BY r.id DESC LIMIT 200"
        ),
        {**area, **view, **params},
    ).mappings()
    features = []
    for row in rows:
        props = {k: _plain(v) for k, v in row.items() if k not in ("geojson", "extra")}
        features.append(
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": json.loads(row["geojson"]),
                "properties": {**props, **(row.get("extra") or {})},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _plain(value):
    """Timestamps as ISO text, so that the collection is plain JSON."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def route_features(
    session: Session,
    principal: Principal | None,
    village: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    route_id: int | None = None,
) -> dict:
    """Visible routes as GeoJSON (newest first, at most 200), with their stops.

    A route of a week plan also carries ``week_plan_id``, ``planned_start`` and ``slot``.
    """
    return _collection(
        session,
        principal,
        "SELECT r.id, r.name, r.mode, round(r.length_m::numeric, 1)::float8 AS length_m,"
        " r.created_at, v.code AS village, r.week_plan_id, r.planned_start, r.slot,"
        " jsonb_build_object('stops', coalesce(r.params->'stops', '[]'::jsonb)) AS extra,"
        " ST_AsGeoJSON(r.geom, 7) AS geojson"
        " FROM patrol_route r JOIN village v ON v.id = r.village_id",
        "(CAST(:code AS text) IS NULL OR v.code = :code)"
        " AND (CAST(:route AS int) IS NULL OR r.id = :route)",
        {"code": village, "route": route_id},
        bbox,
    )


def check_route_visible(session: Session, principal: Principal | None, route_id: int) -> None:
    """:class:`NotFound` unless the route lies in the user's patrol areas."""
    scope = principal.scope("track") if principal else Scope()
    if scope.empty:
        raise NotFound(route_id)
    where, params = _villages_sql(scope)
    found = session.execute(
        text(f"SELECT 1 FROM patrol_route r WHERE r.id = :id AND {where}"),
        {**params, "id": route_id},
    ).scalar()
    if not found:
        raise NotFound(route_id)


def route_detail(session: Session, principal: Principal | None, route_id: int) -> dict:
    """One route in the user's patrol areas, for its page; :class:`NotFound` otherwise.

    Returns
    -------
    dict
        ``id``, ``name``, ``mode``, ``village``, ``village_name``, ``length_m``,
        ``created_at``, ``params`` (as planned: stops, message, …),
        ``week_plan_id``, ``team``, ``slot`` and ``planned_start`` (ISO,
        Beijing time; None outside a week plan).
    """
    check_route_visible(session, principal, route_id)
    row = (
        session.execute(
            text(
                "SELECT r.id, r.name, r.mode, v.code AS village, v.name AS village_name,"
                " round(r.length_m::numeric, 1)::float8 AS length_m, r.created_at, r.params,"
                " r.week_plan_id, w.team, r.slot,"
                " to_char(r.planned_start AT TIME ZONE 'Asia/Shanghai',"
                " 'YYYY-MM-DD\"T\"HH24:MI:SS+08:00') AS planned_start"
                " FROM patrol_route r JOIN village v ON v.id = r.village_id"
                " LEFT JOIN patrol_week_plan w ON w.id = r.week_plan_id WHERE r.id = :id"
            ),
            {"id": route_id},
        )
        .mappings()
        .one()
    )
    return {k: _plain(v) for k, v in row.items()}


def route_tracks(
    session: Session, principal: Principal | None, route_id: int, limit: int = 50
) -> list[dict]:
    """The walked tracks of a visible route with their check, newest first.

    Each: ``id``, ``started_at``, ``ended_at`` (ISO, Beijing time), ``points``
    and ``report`` (as :func:`layers.patrol.service.check_walk` stored it;
    tracks checked before per-stop figures were stored have no ``checkpoints``).
    """
    check_route_visible(session, principal, route_id)
    local = "AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD\"T\"HH24:MI:SS+08:00'"
    rows = session.execute(
        text(
            f"SELECT id, to_char(started_at {local}) AS started_at,"
            f" to_char(ended_at {local}) AS ended_at, ST_NPoints(geom) AS points, report"
            " FROM patrol_track WHERE route_id = :r ORDER BY started_at DESC, id DESC LIMIT :n"
        ),
        {"r": route_id, "n": limit},
    ).mappings()
    return [dict(r) for r in rows]


def route_list(session: Session, principal: Principal | None, limit: int = 100) -> list[dict]:
    """Visible routes planned one at a time (outside week plans), newest first.

    Each: ``id``, ``name``, ``mode``, ``village``, ``village_name``,
    ``length_m``, ``created_at``, ``tracks`` (walks checked against it) and
    ``message`` (set when the lane network falls apart).
    """
    scope = principal.scope("track") if principal else Scope()
    if scope.empty:
        return []
    where, params = _villages_sql(scope)
    rows = session.execute(
        text(
            "SELECT r.id, r.name, r.mode, v.code AS village, v.name AS village_name,"
            " round(r.length_m::numeric, 1)::float8 AS length_m, r.created_at,"
            " (SELECT count(*) FROM patrol_track t WHERE t.route_id = r.id) AS tracks,"
            " r.params->>'message' AS message"
            " FROM patrol_route r JOIN village v ON v.id = r.village_id"
            f" WHERE r.week_plan_id IS NULL AND {where} ORDER BY r.id DESC LIMIT :n"
        ),
        {**params, "n": limit},
    ).mappings()
    return [{k: _plain(v) for k, v in r.items()} for r in rows]


def track_features(
    session: Session,
    principal: Principal | None,
    route_id: int | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> dict:
    """Visible walked tracks (2D lines) with their check, newest first (at most 200)."""
    return _collection(
        session,
        principal,
        "SELECT r.id, r.route_id, r.started_at, r.ended_at, r.report AS extra,"
        " ST_AsGeoJSON(ST_Force2D(r.geom), 7) AS geojson FROM patrol_track r",
        "(CAST(:route AS int) IS NULL OR r.route_id = :route)",
        {"route": route_id},
        bbox,
    )


def checkpoint_features(routes: dict) -> dict:
    """The stops of the given routes (budget routes stop at hotspots) as points."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [stop["lon"], stop["lat"]]},
                "properties": {"route_id": f["id"], "n": n + 1, **stop},
            }
            for f in routes["features"]
            for n, stop in enumerate(f["properties"]["stops"])
        ],
    }


def village_by_code(session: Session, code: str):
    """``(id, code, name)`` of village ``code``; :class:`NotFound` with a bilingual message.

    Village codes and names are public (notice boards), so saying that a code does
    not exist gives nothing away.
    """
    row = session.execute(
        text("SELECT id, code, name FROM village WHERE code = :c"), {"c": code}
    ).one_or_none()
    if row is None:
        raise NotFound(f"没有代码为 {code} 的村 / no village {code}")
    return row


def _planner_villages(principal: Principal | None) -> tuple[str, dict] | None:
    """WHERE clause on ``village`` (alias ``v``) for the villages the user may plan for."""
    grants = [g for g in (principal.grants if principal else ()) if g.role in PLANNER_ROLES]
    if not grants:
        return None
    if any(g.area_type == "town" for g in grants):
        return "true", {}
    # A grid grant covers its village's patrol, as for seeing patrol data.
    return (
        "(v.id = ANY(:pv) OR v.id IN (SELECT village_id FROM grid WHERE id = ANY(:pg)))",
        {
            "pv": sorted(g.area_id for g in grants if g.area_type == "village"),
            "pg": sorted(g.area_id for g in grants if g.area_type == "grid"),
        },
    )


def may_plan(session: Session, principal: Principal | None, village_id: int) -> bool:
    """Whether the user holds a :data:`PLANNER_ROLES` grant covering the village.

    A town grant covers every village, a village grant its village, and a grid
    grant the grid's village.
    """
    where = _planner_villages(principal)
    if where is None:
        return False
    clause, params = where
    return bool(
        session.execute(
            text(f"SELECT EXISTS (SELECT 1 FROM village v WHERE v.id = :id AND {clause})"),
            {**params, "id": village_id},
        ).scalar()
    )


def plannable_villages(session: Session, principal: Principal | None) -> list[tuple[str, str]]:
    """``(code, name)`` of the villages the user may plan patrols for, by code."""
    where = _planner_villages(principal)
    if where is None:
        return []
    clause, params = where
    rows = session.execute(
        text(f"SELECT v.code, v.name FROM village v WHERE {clause} ORDER BY v.code"), params
    )
    return [(code, name) for code, name in rows]


def _plan_scope(principal: Principal | None, unrestricted: bool) -> tuple[str, dict] | None:
    """The WHERE clause on ``r.village_id`` for week plans, or None when nothing is visible."""
    if unrestricted:
        return "true", {}
    scope = principal.scope("track") if principal else Scope()
    if scope.empty:
        return None
    return _villages_sql(scope)


def week_plan_detail(
    session: Session, principal: Principal | None, plan_id: int, *, unrestricted: bool = False
) -> dict:
    """A week plan with its patrols in time order; :class:`NotFound` outside the user's areas.

    Parameters
    ----------
    unrestricted
        Read without a user (the command line, which runs as the database owner).

    Returns
    -------
    dict
        ``id``, ``village``, ``village_name``, ``team``, ``week_start``,
        ``created_at``, ``params`` and ``patrols``: per patrol its ``route_id``,
        ``day`` (date), ``slot`` (0 morning, 1 afternoon), ``start`` (HH:MM,
        Beijing time), ``planned_start`` (ISO, +08:00), ``stops`` (hotspot
        numbers in walking order), ``minutes``, ``walk_m`` and ``gpx`` (path).
    """
    where = _plan_scope(principal, unrestricted)
    if where is None:
        raise NotFound(plan_id)
    clause, params = where
    plan = (
        session.execute(
            text(
                "SELECT r.id, v.code AS village, v.name AS village_name, r.team,"
                " r.week_start, r.created_at, r.params FROM patrol_week_plan r"
                f" JOIN village v ON v.id = r.village_id WHERE r.id = :id AND {clause}"
            ),
            {**params, "id": plan_id},
        )
        .mappings()
        .one_or_none()
    )
    if plan is None:
        raise NotFound(plan_id)
    rows = session.execute(
        text(
            "SELECT id, slot, params,"
            " to_char(planned_start AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS day,"
            " to_char(planned_start AT TIME ZONE 'Asia/Shanghai', 'HH24:MI') AS start,"
            " to_char(planned_start AT TIME ZONE 'Asia/Shanghai',"
            " 'YYYY-MM-DD\"T\"HH24:MI:SS+08:00') AS planned_start, length_m"
            " FROM patrol_route WHERE week_plan_id = :id ORDER BY planned_start, id"
        ),
        {"id": plan_id},
    ).mappings()
    patrols = [
        {
            "route_id": r["id"],
            "day": r["day"],
            "slot": r["slot"],
            "start": r["start"],
            "planned_start": r["planned_start"],
            "stops": [s.get("hotspot") for s in r["params"].get("stops", [])],
            "minutes": r["params"].get("total_min"),
            "walk_m": round(r["length_m"], 1),
            "gpx": f"/api/patrol/routes/{r['id']}.gpx",
        }
        for r in rows
    ]
    return {
        **{k: _plain(v) for k, v in plan.items()},
        "patrols": patrols,
    }


def week_plans(session: Session, principal: Principal | None, limit: int = 100) -> list[dict]:
    """The visible week plans, newest first: id, village, team, week start, when made."""
    where = _plan_scope(principal, False)
    if where is None:
        return []
    clause, params = where
    rows = session.execute(
        text(
            "SELECT r.id, v.code AS village, v.name AS village_name, r.team, r.week_start,"
            " r.created_at, (SELECT count(*) FROM patrol_route p WHERE p.week_plan_id = r.id)"
            " AS patrols FROM patrol_week_plan r JOIN village v ON v.id = r.village_id"
            f" WHERE {clause} ORDER BY r.id DESC LIMIT :limit"
        ),
        {**params, "limit": limit},
    ).mappings()
    return [{k: _plain(v) for k, v in r.items()} for r in rows]


#: Columns of a coverage row after area, team and month (the page and the CSV).
COVERAGE_COLUMNS = (
    "planned",
    "planned_walked",
    "walked_share",
    "walked",
    "checkpoints_visited",
    "checkpoints_total",
    "checkpoint_share",
    "dwell_ok",
    "lane_length_m",
    "lane_share",
)


def coverage(
    session: Session,
    principal: Principal | None,
    since: date,
    until: date,
    *,
    by: str = "team",
) -> list[dict]:
    """Monthly patrol coverage per patrol team and village (or per village), for 每月评议.

    Months are Beijing months from ``since``'s month to ``until``'s. Walked
    tracks are summed by :func:`~layers.patrol.compliance.monthly_coverage`;
    the planned patrols are the week plans' patrols starting in the month.

    Parameters
    ----------
    by
        ``team``: a row per (village, patrol team, month); tracks of routes
        outside any week plan form a team of their own (``team`` None).
        ``village``: a row per (village, month).

    Returns
    -------
    list of dict
        ``area_code``, ``area_name``, ``team``, ``month`` (YYYY-MM) and
        :data:`COVERAGE_COLUMNS`: ``planned`` patrols, ``planned_walked`` (of
        those, walked at least once), ``walked_share`` (their share), ``walked``
        (tracks checked), checkpoint visits of the budget patrols and their
        ``checkpoint_share``, stops long enough (``dwell_ok``), and the
        length-weighted ``lane_share`` of the lanes assigned to full-cover walks
        (None where nothing was planned, visited or assigned).
    """
    if by not in ("team", "village"):
        raise ValueError(by)
    where = _plan_scope(principal, False)
    if where is None:
        return []
    clause, params = where
    first = since.replace(day=1)
    end = (pd.Timestamp(until.replace(day=1)) + pd.offsets.MonthBegin(1)).date()
    window = {**params, "since": first, "until": end}
    local = "AT TIME ZONE 'Asia/Shanghai'"
    tracks = pd.DataFrame(
        session.execute(
            text(
                "SELECT v.code AS area, w.team AS patrol, r.started_at,"
                " coalesce((r.report->>'lane_length_m')::float, 0) AS lane_length_m,"
                " (r.report->>'lane_share')::float AS lane_share,"
                " coalesce((r.report->>'checkpoints_visited')::int, 0) AS checkpoints_visited,"
                " coalesce((r.report->>'checkpoints_total')::int, 0) AS checkpoints_total,"
                " coalesce((r.report->>'dwell_ok')::int, 0) AS dwell_ok"
                " FROM patrol_track r JOIN village v ON v.id = r.village_id"
                " LEFT JOIN patrol_route p ON p.id = r.route_id"
                " LEFT JOIN patrol_week_plan w ON w.id = p.week_plan_id"
                f" WHERE {clause} AND r.started_at {local} >= :since"
                f" AND r.started_at {local} < :until"
            ),
            window,
        )
        .mappings()
        .all(),
        columns=[
            "area",
            "patrol",
            "started_at",
            "lane_length_m",
            "lane_share",
            "checkpoints_visited",
            "checkpoints_total",
            "dwell_ok",
        ],
    )
    planned = pd.DataFrame(
        session.execute(
            text(
                "SELECT v.code AS area, w.team AS patrol,"
                f" to_char(r.planned_start {local}, 'YYYY-MM') AS month, count(*) AS planned,"
                " count(*) FILTER (WHERE EXISTS (SELECT 1 FROM patrol_track t"
                " WHERE t.route_id = r.id)) AS planned_walked"
                " FROM patrol_route r JOIN patrol_week_plan w ON w.id = r.week_plan_id"
                " JOIN village v ON v.id = r.village_id"
                f" WHERE {clause} AND r.planned_start {local} >= :since"
                f" AND r.planned_start {local} < :until GROUP BY 1, 2, 3"
            ),
            window,
        )
        .mappings()
        .all(),
        columns=["area", "patrol", "month", "planned", "planned_walked"],
    )
    keys = ["area", "patrol", "month"]
    # The pure function groups by a patrol label: the team, or "" (no plan, or per village).
    label = "" if by == "village" else None
    tracks["patrol"] = tracks["patrol"].fillna("") if label is None else label
    planned["patrol"] = planned["patrol"].fillna("") if label is None else label
    planned = planned.groupby(keys, as_index=False)[["planned", "planned_walked"]].sum()
    walked = (
        monthly_coverage(tracks)
        if len(tracks)
        else pd.DataFrame(columns=[*keys, "patrols", "checkpoints_visited"])
    )
    out = walked.rename(columns={"patrols": "walked"}).merge(planned, on=keys, how="outer")
    if out.empty:
        return []
    names = dict(session.execute(text("SELECT code, name FROM village")).all())
    rows = []
    for r in out.sort_values(["area", "patrol", "month"]).to_dict("records"):
        planned_n = _count(r.get("planned"))
        rows.append(
            {
                "area_code": r["area"],
                "area_name": names.get(r["area"], r["area"]),
                "team": r["patrol"] or None,
                "month": r["month"],
                "planned": planned_n,
                "planned_walked": _count(r.get("planned_walked")),
                "walked_share": _share(_count(r.get("planned_walked")), planned_n),
                "walked": _count(r.get("walked")),
                "checkpoints_visited": _count(r.get("checkpoints_visited")),
                "checkpoints_total": _count(r.get("checkpoints_total")),
                "checkpoint_share": _ratio(r.get("checkpoint_share")),
                "dwell_ok": _count(r.get("dwell_ok")),
                "lane_length_m": round(float(r.get("lane_length_m") or 0.0), 1),
                "lane_share": _ratio(r.get("lane_share")),
            }
        )
    return rows


def _count(value) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def _ratio(value) -> float | None:
    """A share rounded for display; None where it is undefined (0 ÷ 0)."""
    return None if value is None or not np.isfinite(float(value)) else round(float(value), 4)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
