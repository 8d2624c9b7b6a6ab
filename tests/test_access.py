"""Every endpoint × every role × own area / other area: nobody reads outside their areas.

The expectations are written here from the roles' definitions, independently of
the application's scope code: which roles see incidents and households at all,
and which objects lie in each demo user's area (computed with plain SQL as the
owner). The app runs as its own database role, so both the application filter
and row-level security are in play.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mapbox_vector_tile
import pytest
from sqlalchemy import create_engine, text

from layers.db import make_engine

USERS = (
    "admin",
    "officer",
    "police_a",
    "cadre_a",
    "worker_a",
    "police_b",
    "cadre_b",
    "worker_b",
    "patrol",
    "street_captain",
    "lane_captain",
    "resident",
)

#: Every user in their own area and in another; the town administrator's area is the
#: whole town, so there is no other area for them.
PLACES = [(u, w) for u in USERS for w in ("own", "other") if (u, w) != ("admin", "other")]

SEES_INCIDENTS = set(USERS) - {"patrol", "resident"}
SEES_HOUSEHOLDS = SEES_INCIDENTS
MAY_UNMASK = SEES_HOUSEHOLDS - {"street_captain", "lane_captain"}


@dataclass(frozen=True)
class Target:
    incident: int
    incident_xy: tuple[float, float]
    household: int
    household_xy: tuple[float, float]
    person: int


def _area_sql(username: str) -> tuple[str, str]:
    """SQL conditions (on incident i / household h) for the user's own area, by its grant."""
    grant = (
        f"(SELECT {{col}} FROM user_grant g JOIN user_account u ON u.id = g.user_id"
        f" WHERE u.username = '{username}')"
    )
    if username == "admin":
        return "true", "true"
    if username in ("officer", "patrol", "resident"):
        v = grant.format(col="village_id")
        return f"i.village_id = {v}", f"h.village_id = {v}"
    if username.endswith(("_a", "_b")):
        g = grant.format(col="grid_id")
        sub = f"(SELECT id FROM grid WHERE id = {g} OR parent_id = {g})"
        return f"i.grid_id IN {sub}", f"h.grid_id IN {sub}"
    a = grant.format(col="captain_area_id")
    lanes = f"(SELECT id FROM captain_area WHERE id = {a} OR street_area_id = {a})"
    return (
        f"EXISTS (SELECT 1 FROM captain_area ca WHERE ca.id IN {lanes}"
        " AND ST_Intersects(ca.geom, i.geom))",
        f"h.id IN (SELECT household_id FROM captain_area_member WHERE area_id IN {lanes})",
    )


def _pick(conn, incident_where: str, household_where: str) -> Target:
    inc = conn.execute(
        text(
            f"SELECT i.id, ST_X(i.geom), ST_Y(i.geom) FROM incident i WHERE {incident_where}"
            " ORDER BY i.id LIMIT 1"
        )
    ).one()
    hh = conn.execute(
        text(
            f"SELECT h.id, ST_X(h.geom), ST_Y(h.geom), min(p.id) FROM household h"
            f" JOIN person p ON p.household_id = h.id WHERE {household_where}"
            " GROUP BY h.id ORDER BY h.id LIMIT 1"
        )
    ).one()
    return Target(inc[0], (inc[1], inc[2]), hh[0], (hh[1], hh[2]), hh[3])


@pytest.fixture(scope="module")
def targets(demo_url) -> dict[tuple[str, str], Target]:
    """(user, "own"|"other") → objects to ask for; "other" lies in the last village."""
    engine = make_engine(demo_url)
    out = {}
    with engine.connect() as conn:
        last = "(SELECT max(id) FROM village)"
        other = _pick(conn, f"i.village_id = {last}", f"h.village_id = {last}")
        for user in USERS:
            out[user, "own"] = _pick(conn, *_area_sql(user))
            out[user, "other"] = other
    engine.dispose()
    return out


def _tile_ids(client, layer: str, lon: float, lat: float, z: int = 17) -> set[int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    response = client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf")
    assert response.status_code == 200
    if not response.data:
        return set()
    decoded = mapbox_vector_tile.decode(response.data)
    return {f["properties"]["id"] for f in decoded.get(layer, {}).get("features", [])}


def _bbox(xy: tuple[float, float], d: float = 0.0005) -> str:
    return f"{xy[0] - d},{xy[1] - d},{xy[0] + d},{xy[1] + d}"


# Each check returns whether the object was visible through that endpoint.
def incident_api(c, t):
    return c.get(f"/api/incidents/{t.incident}").status_code == 200


def incident_page(c, t):
    return c.get(f"/incidents/{t.incident}").status_code == 200


def incident_list(c, t):
    features = c.get(f"/api/incidents?bbox={_bbox(t.incident_xy)}").get_json()["features"]
    return t.incident in {f["id"] for f in features}


def incident_tile(c, t):
    return t.incident in _tile_ids(c, "incidents", *t.incident_xy)


def household_list(c, t):
    features = c.get(f"/api/households?bbox={_bbox(t.household_xy)}").get_json()["features"]
    return t.household in {f["id"] for f in features}


def household_tile(c, t):
    return t.household in _tile_ids(c, "households", *t.household_xy)


def household_export(c, t):
    csv = c.get(f"/api/export/households.csv?bbox={_bbox(t.household_xy)}").get_data(as_text=True)
    return any(line.split(",")[0] == str(t.household) for line in csv.splitlines()[1:])


def person_api(c, t):
    return c.get(f"/api/persons/{t.person}").status_code == 200


def person_page(c, t):
    return c.get(f"/persons/{t.person}").status_code == 200


CHECKS = {
    incident_api: SEES_INCIDENTS,
    incident_page: SEES_INCIDENTS,
    incident_list: SEES_INCIDENTS,
    incident_tile: SEES_INCIDENTS,
    household_list: SEES_HOUSEHOLDS,
    household_tile: SEES_HOUSEHOLDS,
    household_export: SEES_HOUSEHOLDS,
    person_api: SEES_HOUSEHOLDS,
    person_page: SEES_HOUSEHOLDS,
}


@pytest.mark.parametrize("check", list(CHECKS), ids=lambda f: f.__name__)
@pytest.mark.parametrize(("user", "where"), PLACES)
def test_matrix(user, check, where, signed_in, targets):
    expected = user in CHECKS[check] and where == "own"
    assert check(signed_in(user), targets[user, where]) is expected


@pytest.mark.parametrize(("user", "where"), PLACES)
def test_unmask_matrix(user, where, signed_in, targets):
    client = signed_in(user)
    t = targets[user, where]
    response = client.post(
        f"/api/persons/{t.person}/unmask",
        json={"reason": "入户走访核实联系方式"},
        headers={"X-CSRF-Token": client.csrf},
    )
    if where == "other" or user not in SEES_HOUSEHOLDS:
        assert response.status_code == 404
    elif user not in MAY_UNMASK:
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        assert "*" not in response.get_json()["phone"]


def test_team_a_sees_none_of_team_b_incidents(signed_in, demo_connection):
    grid_b_subtree = set(
        demo_connection.execute(
            text(
                "SELECT i.id FROM incident i JOIN grid g ON g.id = i.grid_id"
                " WHERE g.parent_id = (SELECT ug.grid_id FROM user_grant ug JOIN user_account u"
                " ON u.id = ug.user_id WHERE u.username = 'police_b')"
            )
        ).scalars()
    )
    assert grid_b_subtree  # team B has incidents to hide
    for user in ("police_a", "cadre_a", "worker_a"):
        seen = {f["id"] for f in signed_in(user).get("/api/incidents").get_json()["features"]}
        assert seen
        assert seen.isdisjoint(grid_b_subtree)


def test_everyone_signed_in_reaches_the_overview_and_me(signed_in):
    for user in USERS:
        client = signed_in(user)
        assert client.get("/").status_code == 200
        assert client.get("/api/me").get_json()["username"] == user


def test_rls_hides_other_areas_even_for_raw_select(demo_url, app_url_of):
    """As the app's role with police_a's scope, a plain SELECT sees only grid A's rows."""
    from sqlalchemy.orm import Session

    from layers.accounts.access import apply_scope, load_principal

    owner = create_engine(demo_url.replace("postgresql://", "postgresql+psycopg2://"))
    with owner.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT count(*) FROM incident i JOIN grid g ON g.id = i.grid_id"
                " WHERE g.parent_id = (SELECT ug.grid_id FROM user_grant ug JOIN user_account u"
                " ON u.id = ug.user_id WHERE u.username = 'police_a')"
            )
        ).scalar_one()
        total = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
        police_a = conn.execute(
            text("SELECT id FROM user_account WHERE username = 'police_a'")
        ).scalar_one()
    owner.dispose()
    app = make_engine(app_url_of(demo_url))
    with app.connect() as conn:
        with conn.begin():
            assert conn.execute(text("SELECT count(*) FROM incident")).scalar_one() == 0
            assert conn.execute(text("SELECT count(*) FROM person")).scalar_one() == 0
        with conn.begin():
            principal = load_principal(Session(bind=conn), police_a)
            apply_scope(conn, principal)
            assert conn.execute(text("SELECT count(*) FROM incident")).scalar_one() == expected
            assert 0 < expected < total
        with conn.begin():  # settings are transaction-local: nothing leaks to the next one
            assert conn.execute(text("SELECT count(*) FROM household")).scalar_one() == 0
    app.dispose()


def test_application_filter_alone_hides_other_areas(demo_connection, targets):
    """As the owner (RLS does not apply), the guarded getters still refuse other areas."""
    from sqlalchemy.orm import Session

    from layers.accounts.access import load_principal
    from layers.errors import NotFound
    from layers.households.queries import get_person
    from layers.incidents.queries import get_incident

    with Session(bind=demo_connection, join_transaction_mode="create_savepoint") as s:
        police_a = s.execute(text("SELECT id FROM user_account WHERE username = 'police_a'"))
        principal = load_principal(s, police_a.scalar_one())
        own, other = targets["police_a", "own"], targets["police_a", "other"]
        assert get_incident(s, principal, own.incident)["id"] == own.incident
        assert get_person(s, principal, own.person).id == own.person
        with pytest.raises(NotFound):
            get_incident(s, principal, other.incident)
        with pytest.raises(NotFound):
            get_person(s, principal, other.person)
