"""Plain pages: the township overview (the map pages come with the web-map work)."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import text

from layers.boundaries.queries import town_names, village_summaries
from webgis.db import session

bp = Blueprint("pages", __name__)


@bp.get("/")
def overview():
    villages = village_summaries(session())
    return render_template("overview.html", towns=town_names(session()), villages=villages)


@bp.get("/healthz")
def healthz():
    """Liveness for load balancers and `make demo`: the database answers."""
    session().execute(text("SELECT 1"))
    return jsonify(status="ok")
