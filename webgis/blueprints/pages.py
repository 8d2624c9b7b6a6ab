"""Plain pages: the township overview, a person, an incident (maps come with the web-map work)."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request
from sqlalchemy import text

from layers.accounts.access import CLEARED_ROLES
from layers.boundaries.queries import town_names, village_summaries
from layers.errors import Invalid
from layers.households.queries import get_person, person_view, unmask_person
from layers.incidents.queries import get_incident
from webgis.auth import client_ip, principal
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


@bp.get("/persons/<int:person_id>")
def person(person_id: int):
    p = get_person(session(), principal(), person_id)
    return render_template(
        "person.html", person=person_view(p), can_unmask=bool(principal().roles & CLEARED_ROLES)
    )


@bp.post("/persons/<int:person_id>/unmask")
def person_unmask(person_id: int):
    db = session()
    try:
        view = unmask_person(
            db, principal(), person_id, request.form.get("reason", ""), ip=client_ip()
        )
    except Invalid as exc:
        p = get_person(db, principal(), person_id)
        return render_template(
            "person.html", person=person_view(p), can_unmask=True, error=exc.message
        ), 400
    db.commit()
    return render_template("person.html", person=view)


@bp.get("/incidents/<int:incident_id>")
def incident(incident_id: int):
    return render_template(
        "incident.html", incident=get_incident(session(), principal(), incident_id)
    )
