"""Patrol and hotspot APIs: routes (GeoJSON, GPX), walked tracks (GPX upload), hotspot runs."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from layers.errors import Invalid
from layers.hotspots.runs import run_features
from layers.patrol.gpx import MAX_GPX_BYTES
from layers.patrol.queries import check_route_visible, route_features, track_features
from layers.patrol.service import check_walk, route_gpx
from webgis.auth import principal
from webgis.db import session

bp = Blueprint("patrol", __name__, url_prefix="/api")


@bp.get("/hotspots")
def hotspots():
    """The latest (or a given) Gi* run: town-wide aggregates, for those who see incidents
    or patrol; no incident or person is in them."""
    p = principal()
    if p.scope("incident").empty and p.scope("track").empty:
        abort(403)
    run = request.args.get("run", type=int)
    return jsonify(run_features(session(), run, request.args.get("category") or None))


@bp.get("/patrol/routes")
def routes():
    return jsonify(route_features(session(), principal(), request.args.get("village") or None))


@bp.get("/patrol/routes/<int:route_id>.gpx")
def route_as_gpx(route_id: int):
    check_route_visible(session(), principal(), route_id)
    return Response(
        route_gpx(session(), route_id),
        mimetype="application/gpx+xml",
        headers={"Content-Disposition": f"attachment; filename=route-{route_id}.gpx"},
    )


@bp.post("/patrol/routes/<int:route_id>/tracks")
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


@bp.get("/patrol/tracks")
def tracks():
    return jsonify(track_features(session(), principal(), request.args.get("route", type=int)))
