"""Loading the generated demo township into PostGIS, in one transaction, by COPY.

Ids are assigned here (the tables are empty or cleared first), so that the
hierarchy (town → village → grid → household …) can be written with COPY in
one pass instead of row-by-row inserts with RETURNING: 8,000 households and
their history load in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from layers.bulk import copy_rows, ewkb, nullable
from layers.captains.gridrun import run_gridding
from layers.demo.captains import assign_demo_captains
from layers.demo.generate import DemoTownship, generate
from layers.demo.incidents import CATEGORIES
from layers.demo.patrols import load_patrols
from layers.errors import Invalid
from layers.hotspots.runs import run_hotspots
from layers.hotspots.trends import run_emerging
from layers.incidents.sla import load_calendar

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
    "patrol_week_plan",
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


def _assign_ids(session: Session, table: str, keys) -> dict:
    """key → id for new rows, counting on from the table's maximum.

    Assigning ids here lets children be written in the same pass, by COPY,
    without reading ids back.
    """
    keys = list(keys)
    start = session.execute(text(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")).scalar_one()
    return dict(zip(keys, range(start, start + len(keys)), strict=True))


def _copy(session: Session, table: str, columns: dict[str, Sequence]) -> None:
    copy_rows(session, table, tuple(columns), zip(*columns.values(), strict=True))


def _insert(session: Session, table: str, keys, columns: dict[str, Sequence]) -> dict:
    """COPY ``columns`` into ``table`` with new ids; return key → id."""
    ids = _assign_ids(session, table, keys)
    _copy(session, table, {"id": list(ids.values()), **columns})
    return ids


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
        Counts of what was loaded, per table; ``patrol_teams``: the patrol history
        per team (see :func:`layers.demo.patrols.load_patrols`); ``hotspot_runs``: the
        ids of the stored Gi* and emerging runs.

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

    steps = [
        "generate",
        "territory",
        "people",
        "captain areas",
        "incidents",
        "accounts",
        "patrols",
        "hotspots",
    ]
    bar = progress(steps) if progress else _NullBar(steps)
    with bar as named_steps:
        it = iter(named_steps)
        next(it)
        # The histories follow this database's catalogue and calendar (time limits).
        town = generate(
            seed=seed,
            households=households,
            as_of=as_of,
            time_limits=_class_limits(session),
            calendar=load_calendar(session),
        )
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
        next(it)
        # Routes are planned on the stored lanes and incidents: after both are written.
        teams = load_patrols(session, town.as_of, seed)
        next(it)
        runs = _store_hotspot_runs(session, town.as_of)
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
    counts["patrol_teams"] = teams
    counts["hotspot_runs"] = runs
    return counts


def _store_hotspot_runs(session: Session, as_of: date) -> dict[str, int | None]:
    """One all-categories Gi* run of the last year and one quarterly emerging run of two years.

    The map's hotspot and trend layers then show something from the first login.
    """
    last = as_of - timedelta(days=1)
    runs: dict[str, int | None] = {}
    for method, run in (
        ("gistar", lambda: run_hotspots(session, since=last - timedelta(days=364), until=last,
                                        actor="demo")),
        ("emerging", lambda: run_emerging(session, since=last - timedelta(days=2 * 365),
                                          until=last, step="quarter", actor="demo")),
    ):  # fmt: skip
        try:
            runs[method] = run()["run_id"]
        except Invalid:  # a tiny demo may have no incidents in the period: no layer, no failure
            runs[method] = None
    return runs


class _NullBar:
    def __init__(self, steps: list[str]):
        self.steps = steps

    def __enter__(self):
        return self.steps

    def __exit__(self, *exc) -> None:
        return None


def _load_territory(session: Session, town: DemoTownship) -> dict[str, dict]:
    t, v, s, lanes, h = town.town, town.villages, town.streets, town.lanes, town.households
    # A county-sized demo has several towns (at most 99 villages each, by the code format).
    town_ids = _insert(
        session,
        "town",
        t["code"],
        {
            "code": t["code"],
            "name": t["name"],
            "geom": ewkb(t.geometry, multi=True),
        },
    )
    village_ids = _insert(
        session,
        "village",
        v["code"],
        {
            "town_id": v["code"].str.slice(0, 9).map(town_ids),
            "code": v["code"],
            "name": v["name"],
            "kind": v["kind"],
            "geom": ewkb(v.geometry, multi=True),
        },
    )
    street_ids = _insert(
        session,
        "street",
        s["key"],
        {
            "village_id": s["village_code"].map(village_ids),
            "name": s["name"],
            "is_main": s["is_main"],
            "geom": ewkb(s.geometry, multi=True),
        },
    )
    lane_ids = _insert(
        session,
        "lane",
        lanes["key"],
        {
            "village_id": lanes["village_code"].map(village_ids),
            "street_id": nullable(lanes["street_key"].map(street_ids), int),
            "name": lanes["name"],
            "geom": ewkb(lanes.geometry, multi=True),
        },
    )
    b, w = town.barriers, town.water
    _insert(
        session,
        "barrier",
        b["key"],
        {
            "town_id": [town_ids[t["code"].iloc[0]]] * len(b),
            "kind": b["kind"],
            "name": b["name"],
            "geom": ewkb(b.geometry, multi=True),
        },
    )
    _insert(session, "water", w["key"], {"name": w["name"], "geom": ewkb(w.geometry, multi=True)})
    g = town.grids.sort_values(["level", "code"])  # parents first: ids follow the order
    grid_ids = _assign_ids(session, "grid", g["code"])
    _copy(
        session,
        "grid",
        {
            "id": list(grid_ids.values()),
            "code": g["code"],
            "level": g["level"],
            "parent_id": nullable(g["parent_code"].map(grid_ids), int),
            "parent_level": [None if lvl == 1 else lvl - 1 for lvl in g["level"]],
            "village_id": g["village_code"].map(village_ids),
            "name": g["name"],
            "geom": ewkb(g.geometry, multi=True),
            "valid_from": [town.as_of.replace(year=town.as_of.year - 2).isoformat()] * len(g),
        },
    )
    household_ids = _insert(
        session,
        "household",
        h["key"],
        {
            "village_id": h["village_code"].map(village_ids),
            "lane_id": nullable(h["lane_key"].map(lane_ids), int),
            "grid_id": h["grid_code"].map(grid_ids),
            "address": h["address"],
            "people": h["people"],
            "geom": ewkb(h.geometry),
        },
    )
    return {"town": town_ids, "village": village_ids, "grid": grid_ids, "household": household_ids}


def _load_people(session: Session, town: DemoTownship, ids: dict[str, dict]) -> None:
    p, r = town.persons, town.roles
    ids["person"] = _insert(
        session,
        "person",
        p["key"],
        {
            "village_id": p["village_code"].map(ids["village"]),
            "household_id": nullable(p["household_key"].map(ids["household"]), int),
            "name": p["name"],
            "phone": p["phone"],
            "id_number": p["id_number"],
            "gender": p["gender"],
            "birth_date": p["birth_date"],
        },
    )
    on_village = (r["area_type"] == "village").to_numpy()
    _copy(
        session,
        "role_assignment",
        {
            "person_id": r["person_key"].map(ids["person"]),
            "role": r["role"],
            "village_id": [
                ids["village"][c] if v else None
                for c, v in zip(r["area_code"], on_village, strict=True)
            ],
            "grid_id": [
                None if v else ids["grid"][c]
                for c, v in zip(r["area_code"], on_village, strict=True)
            ],
            "valid_from": [town.as_of.isoformat()] * len(r),
        },
    )


def _class_limits(session: Session) -> dict[str, tuple[int, str, str]]:
    """Time limit, unit and handler level of the incident classes the demo uses."""
    rows = session.execute(
        text(
            "SELECT code, time_limit, time_unit, handler_level FROM incident_category"
            " WHERE code = ANY(:codes)"
        ),
        {"codes": list(CATEGORIES)},
    ).all()
    limits = {r.code: (r.time_limit, r.time_unit, r.handler_level) for r in rows}
    missing = sorted(set(CATEGORIES) - set(limits))
    if missing:
        raise DemoLoadError(
            f"事件类别目录缺少 {', '.join(missing)}，请先迁移数据库"
            f" / the incident catalogue lacks {', '.join(missing)}: migrate the database first"
        )
    return limits


def _load_incidents(session: Session, town: DemoTownship, ids: dict[str, dict]) -> None:
    inc, ev = town.incidents.sort_values("reported_at"), town.incident_events
    village_of_grid = town.grids.set_index("code")["village_code"]
    incident_ids = _insert(
        session,
        "incident",
        inc["key"],
        {
            "code": inc["key"],
            "category_code": inc["category_code"],
            "status": inc["status"],
            "title": inc["title"],
            "description": inc["description"],
            "geom": ewkb(inc.geometry),
            "village_id": inc["grid_code"].map(village_of_grid).map(ids["village"]),
            "grid_id": inc["grid_code"].map(ids["grid"]),
            "reporter_person_id": nullable(inc["reporter_person_key"].map(ids["person"]), int),
            "reported_at": _iso(inc["reported_at"]),
            "closed_at": _iso(inc["closed_at"]),
            "due_at": _iso(inc["due_at"]),
            "level": inc["level"],
            "escalated_at": _iso(inc["escalated_at"]),
            "satisfaction": nullable(inc["satisfaction"], int),
        },
    )
    _copy(
        session,
        "incident_event",
        {
            "incident_id": ev["incident_key"].map(incident_ids),
            "seq": ev["seq"],
            "from_status": nullable(ev["from_status"]),
            "to_status": ev["to_status"],
            "at": _iso(ev["at"]),
            "actor_role": ev["actor_role"],
            "note": nullable(ev["note"]),
            "action": nullable(ev["action"]),
            "detail": nullable(ev["detail"]),
        },
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
