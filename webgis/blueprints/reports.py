"""Pages of the incident loop: the phone-sized report page, the reporter's own reports,
and the statistics dashboard with its CSV and Excel exports."""

from __future__ import annotations

import json

from flask import Blueprint, jsonify, render_template
from sqlalchemy import text

from layers.incidents import catalogue as cat
from webgis.db import session

bp = Blueprint("reports", __name__)


@bp.get("/report")
def report_page():
    """Tap the map or use the phone's position, pick a category, describe, attach photos."""
    centre = (
        session()
        .execute(
            text(
                "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Extent(geom)) AS c FROM grid"
                " WHERE valid_to IS NULL AND level = 3) s"
            )
        )
        .one()
    )
    return render_template(
        "report.html",
        categories=cat.catalogue(session()),
        centre=[centre[0] or 116.1, centre[1] or 38.2],
    )


@bp.get("/report/mine")
def my_reports_page():
    """The reporter's own reports: the loop's status, the result, and the rating."""
    return render_template("report_mine.html")


@bp.get("/report/grids.json")
def grid_outlines():
    """Level-3 grid outlines, simplified (~10 m), for the report map (no tiles offline)."""
    rows = session().execute(
        text(
            "SELECT code, name, ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.0001), 6)"
            " FROM grid WHERE valid_to IS NULL AND level = 3 ORDER BY code"
        )
    )
    features = [
        {"type": "Feature", "properties": {"code": c, "name": n}, "geometry": json.loads(g)}
        for c, n, g in rows
    ]
    response = jsonify(type="FeatureCollection", features=features)
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
