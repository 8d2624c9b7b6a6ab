"""Hotspot APIs: the stored Gi* runs, town-wide aggregates without incidents or persons."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from layers.hotspots.runs import run_features
from webgis.auth import principal
from webgis.db import session

bp = Blueprint("hotspots", __name__)


@bp.get("/api/hotspots")
def hotspots():
    """The latest (or a given) Gi* run: town-wide aggregates, for those who see incidents
    or patrol; no incident or person is in them."""
    p = principal()
    if p.scope("incident").empty and p.scope("track").empty:
        abort(403)
    run = request.args.get("run", type=int)
    return jsonify(run_features(session(), run, request.args.get("category") or None))
