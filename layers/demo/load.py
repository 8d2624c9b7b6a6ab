"""Loading the generated demo township into PostGIS, in one transaction, by COPY.

Ids are assigned here (the tables are empty or cleared first), so that the
hierarchy (town → village → grid → household …) can be written with COPY in
one pass instead of row-by-row inserts with RETURNING: 8,000 households and
their history load in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from layers.bulk import copy_rows, ewkb, nullable
from layers.captains.gridrun import run_gridding
from layers.demo.captains import assign_demo_captains
from layers.demo.generate import DemoTownship, generate

TOWN_CODE = "130999100"
DEMO_PASSWORD = "wangge-demo-2026"

#: The demo logins: one per role; two 铁三角 teams on grids of different villages.
#: (user name, role, area kind, which area — resolved against the generated data)
DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    ("admin", "town_admin", "town", "town"),
    ("officer", "grid_officer", "village", "village_a"),
    ("police_a", "community_police", "grid", "grid_a"),
    ("cadre_a", "village_cadre", "grid", "grid_a"),
    ("worker_a", "grid_worker", "grid", "grid_a"),
    ("police_b", "community_police", "grid", "grid_b"),
    ("cadre_b", "village_cadre", "grid", "grid_b"),
    ("worker_b", "grid_worker", "grid", "grid_b"),
    ("patrol", "patrol_member", "village", "village_a"),
    ("street_captain", "street_captain", "captain_area", "street_area_a"),
    ("lane_captain", "lane_captain", "captain_area", "lane_area_a"),
    ("resident", "resident", "village", "village_a"),
)

# Tables the demo fills, children first (the order TRUNCATE … CASCADE does not need,
# but that a reader follows). Catalogues, accounts' audit log and alembic stay.
DEMO_TABLES = (
    "user_grant",
    "user_account",
    "hotspot_cell",
    "hotspot_run",
    "patrol_track",
    "patrol_route",
    "incident_event",
    "incident",
    "role_assignment",
    "captain_area_member",
    "captain_area",
    "gridding_run",
    "person",
    "household",
    "grid",
    "lane",
    "street",
    "barrier",
    "water",
    "village",
    "town",
)

ProgressFactory = Callable[[list[str]], object]


class DemoLoadError(RuntimeError):
    """The demo cannot be loaded as asked (e.g. the database already holds data)."""


# -- COPY helpers ---------------------------------------------------------------------------


def _ids(frame: pd.DataFrame, key: str, start: int) -> dict:
    return dict(zip(frame[key], range(start, start + len(frame)), strict=True))


def _next_id(session: Session, table: str) -> int:
    return session.execute(text(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")).scalar_one()


def _reset_sequences(session: Session) -> None:
    for table in DEMO_TABLES:
        if table == "captain_area_member":
            continue
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
        )


# -- the load -------------------------------------------------------------------------------


def load_demo(
    session: Session,
    *,
    seed: int = 20261101,
    households: int = 8000,
    as_of: date | None = None,
    if_missing: bool = False,
    replace: bool = False,
    progress: ProgressFactory | None = None,
) -> dict:
    """Generate the demo township and write it to the database in the session's transaction.

    Parameters
    ----------
    session
        An open session; the caller commits.
    seed, households, as_of
        Passed to :func:`layers.demo.generate.generate`.
    if_missing
        Return without loading when the demo town is already there.
    replace
        Delete every territory, people, incident and account row first.
    progress
        Wraps the list of step names (e.g. a click progress bar) for long runs.

    Returns
    -------
    dict
        Counts of what was loaded, per table.

    Raises
    ------
    DemoLoadError
        The database holds data and neither ``if_missing`` nor ``replace`` was given.
    """
    existing = session.execute(text("SELECT code FROM town LIMIT 1")).scalar()
    if existing is not None:
        if if_missing and existing == TOWN_CODE:
            return {"skipped": "demo town already loaded"}
        if not replace:
            raise DemoLoadError(
                "数据库中已有数据；如确要清空并重新载入演示数据，请加 --replace"
                " / the database already holds data: add --replace to wipe it and reload"
            )
        session.execute(text(f"TRUNCATE {', '.join(DEMO_TABLES)} RESTART IDENTITY CASCADE"))

    steps = ["generate", "territory", "people", "captain areas", "incidents", "accounts"]
    bar = progress(steps) if progress else _NullBar(steps)
    with bar as named_steps:
        it = iter(named_steps)
        next(it)
        town = generate(seed=seed, households=households, as_of=as_of)
        next(it)
        ids = _load_territory(session, town)
        next(it)
        _load_people(session, town, ids)
        next(it)
        grid = run_gridding(session, seed=seed, actor="demo")
        assign_demo_captains(session, town.as_of)
        ids["captain_area"] = dict(session.execute(text("SELECT code, id FROM captain_area")).all())
        next(it)
        _load_incidents(session, town, ids)
        next(it)
        users = _load_users(session, town, ids)
        for _ in it:
            pass
    _reset_sequences(session)
    counts = {
        t: session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
        for t in reversed(DEMO_TABLES)
    }
    counts["people"] = int(town.households["people"].sum())
    counts["captain_areas_infeasible_villages"] = [
        r["village"] for r in grid.village_reports if not r["feasible"]
    ]
    counts["users"] = users
    return counts


class _NullBar:
    def __init__(self, steps: list[str]):
        self.steps = steps

    def __enter__(self):
        return self.steps

    def __exit__(self, *exc) -> None:
        return None


def _load_territory(session: Session, town: DemoTownship) -> dict[str, dict]:
    # A county-sized demo has several towns (at most 99 villages each, by the code format).
    t = town.town
    town_ids = _ids(t, "code", _next_id(session, "town"))
    copy_rows(
        session,
        "town",
        ("id", "code", "name", "geom"),
        zip(town_ids.values(), t["code"], t["name"], ewkb(t.geometry, multi=True), strict=True),
    )

    v = town.villages
    village_ids = _ids(v, "code", _next_id(session, "village"))
    copy_rows(
        session,
        "village",
        ("id", "town_id", "code", "name", "kind", "geom"),
        zip(
            village_ids.values(),
            v["code"].str.slice(0, 9).map(town_ids),
            v["code"],
            v["name"],
            v["kind"],
            ewkb(v.geometry, multi=True),
            strict=True,
        ),
    )

    s = town.streets
    street_ids = _ids(s, "key", _next_id(session, "street"))
    copy_rows(
        session,
        "street",
        ("id", "village_id", "name", "is_main", "geom"),
        zip(
            street_ids.values(),
            s["village_code"].map(village_ids),
            s["name"],
            s["is_main"],
            ewkb(s.geometry, multi=True),
            strict=True,
        ),
    )

    lanes = town.lanes
    lane_ids = _ids(lanes, "key", _next_id(session, "lane"))
    copy_rows(
        session,
        "lane",
        ("id", "village_id", "street_id", "name", "geom"),
        zip(
            lane_ids.values(),
            lanes["village_code"].map(village_ids),
            nullable(lanes["street_key"].map(street_ids), int),
            lanes["name"],
            ewkb(lanes.geometry, multi=True),
            strict=True,
        ),
    )

    b = town.barriers
    copy_rows(
        session,
        "barrier",
        ("id", "town_id", "kind", "name", "geom"),
        zip(
            range(_next_id(session, "barrier"), _next_id(session, "barrier") + len(b)),
            [town_ids[t["code"].iloc[0]]] * len(b),
            b["kind"],
            b["name"],
            ewkb(b.geometry, multi=True),
            strict=True,
        ),
    )
    w = town.water
    copy_rows(
        session,
        "water",
        ("id", "name", "geom"),
        zip(
            range(_next_id(session, "water"), _next_id(session, "water") + len(w)),
            w["name"],
            ewkb(w.geometry, multi=True),
            strict=True,
        ),
    )

    g = town.grids.sort_values(["level", "code"])
    grid_ids = _ids(g, "code", _next_id(session, "grid"))
    parent_ids = g["parent_code"].map(grid_ids)
    copy_rows(
        session,
        "grid",
        (
            "id",
            "code",
            "level",
            "parent_id",
            "parent_level",
            "village_id",
            "name",
            "geom",
            "valid_from",
        ),
        zip(
            grid_ids.values(),
            g["code"],
            g["level"],
            nullable(parent_ids, int),
            [None if lvl == 1 else lvl - 1 for lvl in g["level"]],
            g["village_code"].map(village_ids),
            g["name"],
            ewkb(g.geometry, multi=True),
            [town.as_of.replace(year=town.as_of.year - 2).isoformat()] * len(g),
            strict=True,
        ),
    )

    h = town.households
    household_ids = _ids(h, "key", _next_id(session, "household"))
    lane_col = h["lane_key"].map(lane_ids)
    copy_rows(
        session,
        "household",
        ("id", "village_id", "lane_id", "grid_id", "address", "people", "geom"),
        zip(
            household_ids.values(),
            h["village_code"].map(village_ids),
            nullable(lane_col, int),
            h["grid_code"].map(grid_ids),
            h["address"],
            h["people"],
            ewkb(h.geometry),
            strict=True,
        ),
    )
    return {
        "town": town_ids,
        "village": village_ids,
        "street": street_ids,
        "lane": lane_ids,
        "grid": grid_ids,
        "household": household_ids,
    }


def _load_people(session: Session, town: DemoTownship, ids: dict[str, dict]) -> None:
    p = town.persons
    person_ids = _ids(p, "key", _next_id(session, "person"))
    ids["person"] = person_ids
    hh = p["household_key"].map(ids["household"])
    copy_rows(
        session,
        "person",
        ("id", "village_id", "household_id", "name", "phone", "id_number", "gender", "birth_date"),
        zip(
            person_ids.values(),
            p["village_code"].map(ids["village"]),
            nullable(hh, int),
            p["name"],
            p["phone"],
            p["id_number"],
            p["gender"],
            p["birth_date"],
            strict=True,
        ),
    )
    r = town.roles
    area = [
        (ids["village"][code], None) if kind == "village" else (None, ids["grid"][code])
        for kind, code in zip(r["area_type"], r["area_code"], strict=True)
    ]
    copy_rows(
        session,
        "role_assignment",
        ("person_id", "role", "village_id", "grid_id", "valid_from"),
        (
            (person_ids[k], role, vid, gid, town.as_of.isoformat())
            for k, role, (vid, gid) in zip(r["person_key"], r["role"], area, strict=True)
        ),
    )


def _load_incidents(session: Session, town: DemoTownship, ids: dict[str, dict]) -> None:
    inc = town.incidents.sort_values("reported_at")
    incident_ids = _ids(inc, "key", _next_id(session, "incident"))
    grid_ids = inc["grid_code"].map(ids["grid"])
    village_of_grid = town.grids.set_index("code")["village_code"]
    reporter = inc["reporter_person_key"].map(ids["person"])
    copy_rows(
        session,
        "incident",
        (
            "id",
            "code",
            "category_code",
            "status",
            "title",
            "description",
            "geom",
            "village_id",
            "grid_id",
            "reporter_person_id",
            "reported_at",
            "closed_at",
            "satisfaction",
        ),
        zip(
            incident_ids.values(),
            inc["key"],
            inc["category_code"],
            inc["status"],
            inc["title"],
            inc["description"],
            ewkb(inc.geometry),
            inc["grid_code"].map(village_of_grid).map(ids["village"]),
            grid_ids,
            nullable(reporter, int),
            _iso(inc["reported_at"]),
            _iso(inc["closed_at"]),
            nullable(inc["satisfaction"], int),
            strict=True,
        ),
    )
    ev = town.incident_events
    copy_rows(
        session,
        "incident_event",
        ("incident_id", "seq", "from_status", "to_status", "at", "actor_role", "note"),
        zip(
            ev["incident_key"].map(incident_ids),
            ev["seq"],
            nullable(ev["from_status"]),
            ev["to_status"],
            _iso(ev["at"]),
            ev["actor_role"],
            nullable(ev["note"]),
            strict=True,
        ),
    )


def _iso(series: pd.Series) -> list:
    return nullable(series, lambda v: pd.Timestamp(v).isoformat())


def _load_users(session: Session, town: DemoTownship, ids: dict[str, dict]) -> list[dict]:
    """One login per role (README table); 铁三角 users are the team persons of their grid."""
    villages = sorted(ids["village"])
    level2 = town.grids[town.grids["level"] == 2].sort_values("code")
    grid_a = level2[level2["village_code"] == villages[0]]["code"].iloc[0]
    grid_b = level2[level2["village_code"] == villages[1]]["code"].iloc[0]
    lane_areas = [c for c in sorted(ids["captain_area"]) if c.startswith(villages[0] + "-L")]
    street_areas = [c for c in sorted(ids["captain_area"]) if c.startswith(villages[0] + "-S")]
    areas = {
        "town": ("town_id", ids["town"][TOWN_CODE], TOWN_CODE),
        "village_a": ("village_id", ids["village"][villages[0]], villages[0]),
        "grid_a": ("grid_id", ids["grid"][grid_a], grid_a),
        "grid_b": ("grid_id", ids["grid"][grid_b], grid_b),
        "lane_area_a": ("captain_area_id", ids["captain_area"][lane_areas[0]], lane_areas[0]),
        "street_area_a": ("captain_area_id", ids["captain_area"][street_areas[0]], street_areas[0]),
    }
    team = town.roles[town.roles["area_type"] == "grid"].set_index(["area_code", "role"])
    names = town.persons.set_index("key")["name"]
    password_hash = generate_password_hash(DEMO_PASSWORD)
    users = []
    for username, role, _kind, which in DEMO_USERS:
        column, area_id, area_code = areas[which]
        person_key = None
        if which in ("grid_a", "grid_b") and (area_code, role) in team.index:
            person_key = team.loc[(area_code, role), "person_key"]
            person_key = person_key if isinstance(person_key, str) else person_key.iloc[0]
        user_id = session.execute(
            text(
                "INSERT INTO user_account (username, display_name, password_hash, person_id)"
                " VALUES (:u, :d, :h, :p) RETURNING id"
            ),
            {
                "u": username,
                "d": names[person_key] if person_key else username,
                "h": password_hash,
                "p": ids["person"][person_key] if person_key else None,
            },
        ).scalar_one()
        session.execute(
            text(f"INSERT INTO user_grant (user_id, role, {column}) VALUES (:u, :r, :a)"),
            {"u": user_id, "r": role, "a": area_id},
        )
        users.append({"username": username, "role": role, "area": area_code})
    return users
