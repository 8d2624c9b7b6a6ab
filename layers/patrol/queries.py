"""Reading patrol routes and tracks within a user's areas."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts.access import Principal, Scope
from layers.errors import NotFound


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
) -> dict:
    """Visible routes as GeoJSON (newest first, at most 200), with their stops."""
    return _collection(
        session,
        principal,
        "SELECT r.id, r.name, r.mode, round(r.length_m::numeric, 1)::float8 AS length_m,"
        " r.created_at, v.code AS village, jsonb_build_object('stops',"
        " coalesce(r.params->'stops', '[]'::jsonb)) AS extra, ST_AsGeoJSON(r.geom, 7) AS geojson"
        " FROM patrol_route r JOIN village v ON v.id = r.village_id",
        "(CAST(:code AS text) IS NULL OR v.code = :code)",
        {"code": village},
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
