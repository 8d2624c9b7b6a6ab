"""Vector tiles: ``/tiles/{layer}/{z}/{x}/{y}.pbf``, filtered by the user's areas."""

from __future__ import annotations

from flask import Blueprint, Response

from layers.tiles import tile
from webgis.auth import principal
from webgis.db import session

bp = Blueprint("tiles", __name__, url_prefix="/tiles")


@bp.get("/<layer>/<int:z>/<int:x>/<int:y>.pbf")
def vector_tile(layer: str, z: int, x: int, y: int):
    data = tile(session(), principal(), layer, z, x, y)
    return Response(data, mimetype="application/vnd.mapbox-vector-tile")
