"""The access matrix for the map, boundary and patrol endpoints: role × own area / other area.

Boundary writes are asked with a stale version: a user who may edit the area
gets the conflict (409), anyone else is refused (403) before versions matter,
and nothing is written either way.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.patrol.service import plan_route

EDITS = {"admin": "own", "officer": "own"}  # whose "own" grid is editable
SEES_PATROL = {
    "admin",
    "officer",
    "police_a",
    "cadre_a",
    "worker_a",
    "police_b",
    "cadre_b",
    "worker_b",
    "patrol",
}
SEES_INCIDENTS = SEES_PATROL - {"patrol"} | {"street_captain", "lane_captain"}
USERS = sorted(SEES_INCIDENTS | SEES_PATROL | {"resident"})

#: Every user in their own area and in another; the town administrator's area is the
#: whole town, so there is no other area for them.
PLACES = [(u, w) for u in USERS for w in ("own", "other") if (u, w) != ("admin", "other")]

HOME = {  # the village of each user's own area; "last" is nobody's but the admin's
    "police_b": "second",
    "cadre_b": "second",
    "worker_b": "second",
}


@pytest.fixture
def places(demo_app_connection):
    """Village codes, a level-3 grid in each, and a stored route in each (rolled back)."""
    rows = (
        demo_app_connection.execute(text("SELECT code FROM village ORDER BY code")).scalars().all()
    )
    villages = {"first": rows[0], "second": rows[1], "last": rows[-1]}
    out = {}
    with Session(bind=demo_app_connection, join_transaction_mode="create_savepoint") as s:
        for key, code in villages.items():
            grid = s.execute(
                text(
                    "SELECT g.code, g.version, ST_AsGeoJSON(g.geom) FROM grid g JOIN village v"
                    " ON v.id = g.village_id WHERE v.code = :c AND g.level = 3 ORDER BY g.code"
                    " LIMIT 1"
                ),
                {"c": code},
            ).one()
            route = plan_route(s, code, mode="cover")["route_id"]
            out[key] = {"village": code, "grid": grid, "route": route}
        s.commit()
    return out


def _own_other(user: str, places: dict) -> dict:
    return {"own": places[HOME.get(user, "first")], "other": places["last"]}


@pytest.mark.parametrize(("user", "where"), PLACES)
def test_boundary_write_matrix(user, where, signed_in, places):
    client = signed_in(user)
    code, _version, geojson = _own_other(user, places)[where]["grid"]
    response = client.put(
        f"/api/boundaries/grid/{code}",
        json={"version": -1, "geometry": json.loads(geojson)},
        headers={"X-CSRF-Token": client.csrf},
    )
    allowed = EDITS.get(user) == where or user == "admin"
    assert response.status_code == (409 if allowed else 403), response.get_json()


@pytest.mark.parametrize(("user", "where"), PLACES)
def test_patrol_matrix(user, where, signed_in, places):
    client = signed_in(user)
    expected = user in SEES_PATROL and where == "own"
    route = _own_other(user, places)[where]["route"]
    gpx = client.get(f"/api/patrol/routes/{route}.gpx")
    assert (gpx.status_code == 200) is expected
    assert gpx.status_code in (200, 404)
    layers = client.get("/api/map/patrol").get_json()
    assert (route in {f["properties"]["id"] for f in layers["routes"]["features"]}) is expected
    # The route's page (with its upload form): those without patrol data get 403, the
    # others 404 outside their villages.
    page = client.get(f"/patrol/routes/{route}").status_code
    assert page == (200 if expected else 404 if user in SEES_PATROL else 403)
    upload = client.post(
        f"/patrol/routes/{route}/tracks", data={"csrf_token": client.csrf}
    ).status_code
    assert upload == (400 if expected else 404 if user in SEES_PATROL else 403)  # 400: no file


@pytest.mark.parametrize("user", USERS)
def test_map_pages_by_role(user, signed_in):
    client = signed_in(user)
    assert client.get("/map").status_code == 200
    assert client.get("/map/incidents").status_code == (200 if user in SEES_INCIDENTS else 403)
    editor = client.get("/map/edit").status_code
    assert editor == (200 if user in EDITS else 403)


@pytest.mark.parametrize("where", ["grid_a", "last"])
@pytest.mark.parametrize(
    "user",
    [
        "admin",
        "officer",
        "police_a",
        "cadre_a",
        "worker_a",
        "police_b",
        "cadre_b",
        "worker_b",
        "patrol",
        "resident",
    ],
)
def test_incident_transitions_by_area(user, where, signed_in, demo_connection):
    """Team B can neither see nor move team A's incidents; nobody but the town, the last
    village's."""
    sql = {
        "grid_a": "SELECT min(i.id) FROM incident i JOIN grid g ON g.id = i.grid_id"
        " WHERE g.parent_id = (SELECT id FROM grid WHERE code = '1309991002010100')",
        "last": "SELECT min(id) FROM incident WHERE village_id = (SELECT max(id) FROM village)",
    }[where]
    incident = demo_connection.execute(text(sql)).scalar_one()
    client = signed_in(user)
    visible = user == "admin" or (
        where == "grid_a" and user in {"officer", "police_a", "cadre_a", "worker_a"}
    )
    listed = client.get(f"/api/incidents/{incident}/transitions")
    assert listed.status_code == (200 if visible else 404)
    moved = client.post(
        f"/api/incidents/{incident}/transitions",
        json={"action": "accept", "note": "受理"},
        headers={"X-CSRF-Token": client.csrf},
    )
    if not visible:
        assert moved.status_code == 404
    else:
        assert moved.status_code in (200, 201, 403, 409)  # allowed, or refused by role/status
