"""JSON APIs behind login: the signed-in user, incidents, households, persons, exports."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Blueprint, Response, jsonify, request

from layers.accounts import audit
from layers.errors import Invalid
from layers.households.queries import (
    get_person,
    household_features,
    person_view,
    unmask_person,
)
from layers.incidents.queries import IncidentFilter, get_incident, incident_features, parse_bbox
from webgis.auth import client_ip, principal
from webgis.db import session
from webgis.jsonbody import json_body

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/me")
def me():
    p = principal()
    return jsonify(
        username=p.username,
        display_name=p.display_name,
        grants=[
            {
                "role": g.role,
                "area_type": g.area_type,
                "area_code": g.area_code,
                "area_name": g.area_name,
            }
            for g in p.grants
        ],
    )


def _date(name: str) -> date | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise Invalid(f"{name} 应为 YYYY-MM-DD / {name} must be YYYY-MM-DD", name) from exc


def _list(name: str) -> tuple[str, ...]:
    return tuple(v for v in request.args.get(name, "").split(",") if v)


@bp.get("/incidents")
def incidents():
    f = IncidentFilter(
        bbox=parse_bbox(request.args.get("bbox")),
        categories=_list("category"),
        statuses=_list("status"),
        since=_date("since"),
        until=_date("until"),
        grid_code=request.args.get("grid") or None,
    )
    return jsonify(incident_features(session(), principal(), f))


@bp.get("/incidents/<int:incident_id>")
def incident(incident_id: int):
    return jsonify(get_incident(session(), principal(), incident_id))


@bp.get("/households")
def households():
    return jsonify(household_features(session(), principal(), parse_bbox(request.args.get("bbox"))))


@bp.get("/persons/<int:person_id>")
def person(person_id: int):
    return jsonify(person_view(get_person(session(), principal(), person_id)))


@bp.post("/persons/<int:person_id>/unmask")
def unmask(person_id: int):
    body = json_body()
    reason = body.get("reason", "") if isinstance(body, dict) else ""
    db = session()
    view = unmask_person(db, principal(), person_id, str(reason), ip=client_ip())
    db.commit()
    return jsonify(view)


@bp.get("/export/households.csv")
def export_households():
    """The visible households as CSV (heads masked); every export is audited."""
    p = principal()
    db = session()
    features = household_features(db, p, parse_bbox(request.args.get("bbox")))["features"]
    audit.record(
        db,
        "export.households",
        actor_user_id=p.user_id,
        actor_name=p.username,
        detail={"rows": len(features)},
        ip=client_ip(),
    )
    db.commit()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "address", "people", "head", "phone", "lon", "lat"])
    for f in features:
        pr = f["properties"]
        writer.writerow(
            [
                pr["id"],
                pr["address"],
                pr["people"],
                pr["head"],
                pr["phone"],
                *f["geometry"]["coordinates"],
            ]
        )
    return Response(
        "\ufeff" + out.getvalue(),  # BOM: Excel opens UTF-8 CSV correctly with it
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=households.csv"},
    )
