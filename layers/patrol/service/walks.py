"""Check an uploaded walk (GPX track) against its route and store the track with its check."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
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
