"""Check an uploaded walk (GPX track) against its route and store the track with its check."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts import audit
from layers.db import METRIC_SRID, SRID
from layers.errors import Invalid, NotFound
from layers.patrol.compliance import check_track
from layers.patrol.errors import PatrolInputError
from layers.patrol.gpx import read_gpx
from layers.patrol.service.routes import _route
from layers.patrol.service.village import _assigned_lanes, _village, village_network
from layers.patrol.service.week_plans import LOCAL


def check_walk(
    session: Session,
    route_id: int,
    gpx: bytes,
    *,
    person_id: int | None = None,
    planned_start: datetime | None = None,
    actor: str = "cli",
    actor_user_id: int | None = None,
) -> dict:
    """Check an uploaded GPX track against route ``route_id`` and store the track.

    Cover routes are checked for the share of the village's lanes walked
    (of the assigned lanes, when the route had some);
    budget routes for the stops visited and how long the patrol stayed. The
    start is compared with ``planned_start``, by default the route's own
    (the patrols of a week plan have one), and so is the arrival at each stop
    (the start plus the stop's planned ``arrive_min``).

    Returns
    -------
    dict
        ``track_id``, ``route_id``, the figures of
        :meth:`~layers.patrol.compliance.ComplianceReport.summary` (NaN as
        None), ``checkpoints`` (per stop in walking order: ``order``,
        ``hotspot`` and ``name`` when the stop has them, ``visited``,
        ``arrived_at`` (ISO, Beijing time), ``dwell_min``, ``dwell_ok``,
        ``planned_at``, ``delay_min``, ``nearest_m``) and ``warnings``; all
        but the two ids are stored as the track's ``report``.

    Raises
    ------
    Invalid
        A GPX file that cannot be read or checked (bilingual, field ``gpx``):
        too large, not XML, no points, fewer than two usable points, mostly
        far outside the village.
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
    # One usable point (or one left after the far-away ones were dropped) is no walk:
    # refused here, before anything is measured or stored.
    if len(track.lon) < 2:
        raise Invalid(
            f"轨迹点太少（{len(track.lon)} 个可用），无法核查"
            f" / the track has {len(track.lon)} usable point(s): at least two are needed",
            "gpx",
        )
    x, y = track.xy(f"EPSG:{METRIC_SRID}")
    stops = r.params.get("stops", [])
    checkpoints = min_dwell = planned_arrive = None
    if stops:
        pts = gpd.GeoSeries(
            gpd.points_from_xy([s["lon"] for s in stops], [s["lat"] for s in stops]), crs=SRID
        )
        metric = pts.to_crs(METRIC_SRID)
        checkpoints = np.column_stack([metric.x, metric.y])
        # The stop is kept when most of the planned time was spent there.
        min_dwell = 0.8 * 60 * float(r.params.get("stop_min", 12))
        planned_arrive = _planned_arrivals(stops, planned_start)
    t = track.time if np.isfinite(track.time).any() else None
    try:
        report = check_track(
            x,
            y,
            t,
            checkpoints=checkpoints,
            min_dwell_s=min_dwell or 0.0,
            network=network,
            lane_edges=_checked_lanes(session, network, v, r.params) if network else None,
            planned_start_s=planned_start.timestamp() if planned_start else None,
            planned_arrive_s=planned_arrive,
        )
    except PatrolInputError as exc:
        raise Invalid(str(exc), "gpx") from exc
    summary = {k: _finite(val) for k, val in report.summary().items()}
    stored = {
        **summary,
        "checkpoints": _checkpoint_rows(report.checkpoints, stops, planned_arrive),
        "warnings": list(track.warnings),
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
            "rep": json.dumps(stored, ensure_ascii=False),
        },
    ).scalar_one()
    audit.record(
        session,
        "patrol.check",
        actor_user_id=actor_user_id,
        actor_name=actor,
        object_type="patrol_track",
        object_id=track_id,
        detail={"route": route_id},
    )
    return {"track_id": track_id, "route_id": route_id, **stored}


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


def _finite(value):
    """NaN and infinities are not JSON: stored as null."""
    return None if isinstance(value, float) and not np.isfinite(value) else value


def _planned_arrivals(stops: list[dict], planned_start: datetime | None) -> np.ndarray | None:
    """Planned arrival at each stop (epoch seconds): the start plus the stop's minute offset.

    None without a planned start; NaN for a stop stored without ``arrive_min``.
    """
    if planned_start is None:
        return None
    offsets = np.array([s.get("arrive_min", np.nan) for s in stops], dtype=float)
    return planned_start.timestamp() + 60.0 * offsets


def _local_time(epoch_s: float) -> str | None:
    """Epoch seconds as ISO 8601 in Beijing time (what the patrol's watches show), or None."""
    if epoch_s is None or not np.isfinite(epoch_s):
        return None
    return datetime.fromtimestamp(float(epoch_s), LOCAL).isoformat(timespec="seconds")


def _checkpoint_rows(
    checked: pd.DataFrame, stops: list[dict], planned: np.ndarray | None
) -> list[dict]:
    """Per stop of the route, in walking order: visited, arrival, stay, planned arrival, delay.

    ``dwell_min`` and ``arrived_at`` are None when the stop was missed or the
    track has no times; ``planned_at`` and ``delay_min`` when nothing was planned.
    """
    rows = []
    for i, (stop, c) in enumerate(zip(stops, checked.itertuples(index=False), strict=True)):
        timed = bool(c.visited) and np.isfinite(c.arrive_s)
        rows.append(
            {
                "order": i + 1,
                "hotspot": stop.get("hotspot"),
                "name": stop.get("name"),
                "visited": bool(c.visited),
                "arrived_at": _local_time(c.arrive_s),
                "dwell_min": round(float(c.dwell_s) / 60, 1) if timed else None,
                "dwell_ok": bool(c.dwell_ok),
                "planned_at": _local_time(planned[i]) if planned is not None else None,
                "delay_min": round(float(c.delay_s) / 60, 1) if np.isfinite(c.delay_s) else None,
                "nearest_m": round(float(c.min_dist_m), 1) if np.isfinite(c.min_dist_m) else None,
            }
        )
    return rows
