"""Week plans of twice-daily patrols: planned, stored, read back, exported, guarded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from layers import migrate
from layers.accounts.access import load_principal
from layers.errors import Invalid, NotFound
from layers.patrol.gpx import read_gpx
from layers.patrol.queries import PLANNER_ROLES, may_plan, week_plan_detail
from layers.patrol.service import plan_week, route_gpx
from layers.patrol.weekplan import DEFAULT_WINDOWS

VILLAGE = "130999100201"  # village_a: the officer's, police_a's grid, the patrol's
OTHER = "130999100202"  # police_b's grid lies here
MONDAY = date(2026, 11, 2)
BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def owner(demo_connection):
    with Session(bind=demo_connection, join_transaction_mode="create_savepoint") as s:
        yield s


@pytest.fixture
def app_session(demo_app_connection):
    """The app's own connection, so that the app's requests see what the test plans."""
    with Session(bind=demo_app_connection, join_transaction_mode="create_savepoint") as s:
        yield s


def test_week_plan_is_stored_with_varied_times(owner):
    plan = plan_week(owner, VILLAGE, MONDAY, minutes=60, seed=3)
    patrols = plan["patrols"]
    assert len(patrols) == 14
    days = [MONDAY + timedelta(days=d) for d in range(7)]
    assert sorted({p["day"] for p in patrols}) == [d.isoformat() for d in days]
    for day in days:  # a morning and an afternoon patrol every day
        assert sorted(p["slot"] for p in patrols if p["day"] == day.isoformat()) == [0, 1]
    for p in patrols:
        lo, hi = DEFAULT_WINDOWS[p["slot"]]
        start = datetime.fromisoformat(p["planned_start"])
        assert start.utcoffset() == timedelta(hours=8)  # Beijing time
        minute = start.hour * 60 + start.minute
        assert lo <= minute <= hi, p
        assert p["start"] == start.strftime("%H:%M")
        assert 0 < p["minutes"] <= 60
        assert p["stops"], p  # every patrol stops at a hotspot
    for slot in (0, 1):  # irregular: no two days start a round at the same minute
        starts = [p["start"] for p in patrols if p["slot"] == slot]
        assert len(set(starts)) == 7, starts
    hotspots = plan["params"]["hotspots"]
    assert {s for p in patrols for s in p["stops"]} <= {h["hotspot"] for h in hotspots}
    # The visits recorded with the plan are the stops of its stored routes.
    counted = [sum(h["hotspot"] in p["stops"] for p in patrols) for h in hotspots]
    assert counted == plan["params"]["visits"]
    assert plan["team"] == f"{plan['village_name']}巡逻队"

    stored = owner.execute(
        text(
            "SELECT count(*), count(DISTINCT planned_start), min(mode), max(mode)"
            " FROM patrol_route WHERE week_plan_id = :p"
        ),
        {"p": plan["id"]},
    ).one()
    assert tuple(stored) == (14, 14, "budget", "budget")
    # The GPX of one patrol names its stops by their hotspot numbers.
    first = patrols[0]
    gpx = route_gpx(owner, first["route_id"])
    assert [f"热点 {s}" for s in first["stops"]] == list(_waypoint_names(gpx))
    assert len(read_gpx(gpx.encode()).lon) >= 2
    logged = owner.execute(
        text("SELECT count(*) FROM audit_log WHERE action = 'patrol.week_plan' AND object_id = :i"),
        {"i": str(plan["id"])},
    ).scalar_one()
    assert logged == 1


def _waypoint_names(gpx: str) -> list[str]:
    import defusedxml.ElementTree as ET

    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    return [w.findtext("g:name", namespaces=ns) for w in ET.fromstring(gpx).findall("g:wpt", ns)]


def test_a_week_route_needs_its_slot_and_start(owner):
    plan = plan_week(owner, VILLAGE, MONDAY, minutes=30, seed=1)
    with pytest.raises(IntegrityError), owner.begin_nested():
        owner.execute(
            text("UPDATE patrol_route SET slot = NULL WHERE id = :r"),
            {"r": plan["patrols"][0]["route_id"]},
        )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"minutes": 5}, "minutes"),
        ({"minutes": 241}, "minutes"),
        ({"stop_min": 0}, "stop_min"),
        ({"minutes": 20, "stop_min": 30}, "stop_min"),
        ({"seed": -1}, "seed"),
        ({"team": " " * 3}, "team"),
    ],
)
def test_week_plan_refuses_bad_input(owner, kwargs, field):
    with pytest.raises(Invalid) as caught:
        plan_week(owner, VILLAGE, MONDAY, **kwargs)
    assert caught.value.field == field
    assert " / " in caught.value.message  # Chinese, then English


def test_week_plan_refuses_an_unknown_village(owner):
    with pytest.raises(NotFound, match="no village 130999999999"):
        plan_week(owner, "130999999999", MONDAY)


# -- the command line --------------------------------------------------------------------------

WANGGE = Path(sys.executable).parent / "wangge"


def _run(*args: str, url: tuple[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": url[0],
        "WANGGE_APP_DATABASE_URL": url[1],
        "WANGGE_VAR": str(tmp_path / "var"),
    }
    return subprocess.run(
        [str(WANGGE), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_cli_plans_a_week_and_refuses_bad_input(scratch_db, app_url_of, tmp_path):
    url = scratch_db("wangge_test_week_cli")
    migrate.upgrade(url)
    env_url = {"url": (url, app_url_of(url)), "tmp_path": tmp_path}
    loaded = _run("demo", "load", "--households", "300", "--as-of", "2026-11-01", **env_url)
    assert loaded.returncode == 0, loaded.stderr
    from layers.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        code = conn.execute(text("SELECT min(code) FROM village")).scalar_one()
    engine.dispose()

    out = _run("patrol", "week", "--area", code, "--start", "2026-11-02", "--seed", "4", **env_url)
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["village"] == code
    assert plan["week_start"] == "2026-11-02"
    assert len(plan["patrols"]) == 14
    assert plan["params"]["seed"] == 4
    assert all(p["gpx"] == f"/api/patrol/routes/{p['route_id']}.gpx" for p in plan["patrols"])
    gpx = tmp_path / "monday.gpx"
    first = plan["patrols"][0]["route_id"]
    assert _run("patrol", "gpx", str(first), str(gpx), **env_url).returncode == 0
    assert len(read_gpx(gpx.read_bytes()).lon) >= 2

    # Cover routes of assigned lanes and of a grid's lanes (rural postman).
    engine = make_engine(url)
    with engine.connect() as conn:
        vid = conn.execute(text("SELECT id FROM village WHERE code = :c"), {"c": code}).scalar()
        lane_ids = conn.execute(
            text("SELECT id FROM lane WHERE village_id = :v AND geom IS NOT NULL ORDER BY id"),
            {"v": vid},
        ).scalars()
        lane_ids = list(lane_ids)[:4]
        grid = conn.execute(
            text(
                "SELECT min(code) FROM grid WHERE village_id = :v AND level = 3"
                " AND valid_to IS NULL"
            ),
            {"v": vid},
        ).scalar_one()
    engine.dispose()
    ids = ",".join(map(str, lane_ids))
    lanes_out = _run("patrol", "plan", "--area", code, "--mode", "cover", "--lanes", ids, **env_url)
    assert lanes_out.returncode == 0, lanes_out.stderr
    assert json.loads(lanes_out.stdout)["lanes"] == sorted(lane_ids)
    grid_out = _run("patrol", "plan", "--area", code, "--grid", grid, **env_url)
    assert grid_out.returncode == 0, grid_out.stderr
    assert json.loads(grid_out.stdout)["grid"] == grid
    bad_lanes = _run("patrol", "plan", "--area", code, "--lanes", "3,x", **env_url)
    assert bad_lanes.returncode == 2
    assert "逗号分隔的整数" in bad_lanes.stderr
    assert "comma-separated integers" in bad_lanes.stderr
    budget_lanes = _run(
        "patrol", "plan", "--area", code, "--mode", "budget", "--lanes", ids, **env_url
    )
    assert budget_lanes.returncode == 1
    assert "mode cover only" in budget_lanes.stderr

    bad_date = _run("patrol", "week", "--area", code, "--start", "2026-13-01", **env_url)
    assert bad_date.returncode == 2
    assert "日期应为 YYYY-MM-DD" in bad_date.stderr
    assert "must be YYYY-MM-DD" in bad_date.stderr
    too_long = _run(
        "patrol", "week", "--area", code, "--start", "2026-11-02", "--minutes", "500", **env_url
    )
    assert too_long.returncode == 1
    assert "分钟" in too_long.stderr
    assert "minutes per patrol" in too_long.stderr
    unknown = _run("patrol", "week", "--area", "999", "--start", "2026-11-02", **env_url)
    assert unknown.returncode == 1
    assert "没有代码为 999 的村 / no village 999" in unknown.stderr
    for refused in (bad_date, too_long, unknown, bad_lanes, budget_lanes):
        assert "Traceback" not in refused.stderr


# -- who may plan ------------------------------------------------------------------------------

#: Demo users and whether they may plan village_a's patrols (PLANNER_ROLES on an area covering it).
MAY_PLAN = {
    "admin": True,  # town administrator
    "officer": True,  # grid officer of village_a
    "police_a": True,  # community police of a grid in village_a
    "cadre_a": True,  # village cadre of a grid in village_a
    "worker_a": False,  # grid worker: sees the patrol, does not lead it
    "police_b": False,  # another village's grid
    "cadre_b": False,
    "worker_b": False,
    "patrol": False,  # patrol member: walks the plans
    "street_captain": False,
    "lane_captain": False,
    "resident": False,
}


@pytest.mark.parametrize(("username", "allowed"), MAY_PLAN.items())
def test_who_may_plan_village_a(owner, username, allowed):
    user_id = owner.execute(
        text("SELECT id FROM user_account WHERE username = :u"), {"u": username}
    ).scalar_one()
    principal = load_principal(owner, user_id)
    village_id = owner.execute(
        text("SELECT id FROM village WHERE code = :c"), {"c": VILLAGE}
    ).scalar_one()
    assert may_plan(owner, principal, village_id) is allowed
    assert bool(principal.roles & PLANNER_ROLES) or not allowed


def test_every_demo_login_is_in_the_planning_table(owner):
    users = set(owner.execute(text("SELECT username FROM user_account")).scalars())
    assert users == set(MAY_PLAN)


# -- the API and the pages ---------------------------------------------------------------------


def _post(client, body, **kwargs):
    return client.post(
        "/api/patrol/week-plans", json=body, headers={"X-CSRF-Token": client.csrf}, **kwargs
    )


def test_api_plans_a_week_for_a_planner(signed_in):
    officer = signed_in("officer")
    made = _post(officer, {"area": VILLAGE, "start": "2026-11-09", "minutes": 45, "seed": 7})
    assert made.status_code == 201, made.get_json()
    plan = made.get_json()
    assert made.headers["Location"].endswith(f"/api/patrol/week-plans/{plan['id']}")
    assert len(plan["patrols"]) == 14
    assert plan["params"]["minutes"] == 45
    assert all(p["minutes"] <= 45 for p in plan["patrols"])
    # Read back by the planner, by the village's patrol and by a grid team in the village.
    for who in ("officer", "patrol", "worker_a"):
        got = signed_in(who).get(f"/api/patrol/week-plans/{plan['id']}")
        assert got.status_code == 200, who
        assert got.get_json()["patrols"] == plan["patrols"]
    listed = signed_in("patrol").get("/api/patrol/week-plans").get_json()
    assert plan["id"] in {p["id"] for p in listed}
    # Outside the village: not found, and not listed.
    assert signed_in("police_b").get(f"/api/patrol/week-plans/{plan['id']}").status_code == 404
    assert signed_in("resident").get(f"/api/patrol/week-plans/{plan['id']}").status_code == 404
    assert signed_in("resident").get("/api/patrol/week-plans").get_json() == []
    # Each patrol's route shows on the map and downloads as GPX for the patrol.
    patrol = signed_in("patrol")
    rid = plan["patrols"][0]["route_id"]
    one = patrol.get(f"/api/patrol/routes/{rid}").get_json()
    assert one["id"] == rid
    assert one["properties"]["week_plan_id"] == plan["id"]
    assert one["properties"]["slot"] == plan["patrols"][0]["slot"]
    assert patrol.get(plan["patrols"][0]["gpx"]).status_code == 200
    assert signed_in("police_b").get(f"/api/patrol/routes/{rid}").status_code == 404

    page = officer.get(f"/patrol/week-plans/{plan['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("data-route=") == 14
    assert "上午" in html
    assert "下午" in html
    assert "星期一" in html
    assert f"/map/patrol?route={rid}" in html
    english = officer.get(f"/patrol/week-plans/{plan['id']}?lang=en").get_data(as_text=True)
    assert "Morning" in english
    assert "Monday" in english


def test_a_grid_team_plans_from_all_the_village_incidents(signed_in, owner):
    # police_a reads only his grid's incidents, yet the hotspots are the village's:
    # the plan is the one the command line (the owner, no row security) makes.
    made = _post(signed_in("police_a"), {"area": VILLAGE, "start": "2026-11-09", "seed": 8})
    assert made.status_code == 201, made.get_json()
    by_owner = plan_week(owner, VILLAGE, MONDAY + timedelta(days=7), seed=8)
    assert made.get_json()["params"]["hotspots"] == by_owner["params"]["hotspots"]
    assert [p["stops"] for p in made.get_json()["patrols"]] == [
        p["stops"] for p in by_owner["patrols"]
    ]


def test_api_town_admin_plans_any_village(signed_in):
    made = _post(signed_in("admin"), {"area": OTHER, "start": "2026-11-09", "minutes": 30})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["village"] == OTHER


@pytest.mark.parametrize("username", ["patrol", "worker_a", "resident", "lane_captain"])
def test_api_refuses_those_who_do_not_plan(signed_in, username):
    refused = _post(signed_in(username), {"area": VILLAGE, "start": "2026-11-09"})
    assert refused.status_code == 403


def test_api_refuses_a_planner_outside_his_village(signed_in):
    refused = _post(signed_in("police_b"), {"area": VILLAGE, "start": "2026-11-09"})
    assert refused.status_code == 403
    assert "you may not plan patrols for 130999100201" in refused.get_json()["message"]


@pytest.mark.parametrize(
    ("body", "status", "field", "words"),
    [
        ({"area": "130999999999", "start": "2026-11-09"}, 404, "area", "no village 130999999999"),
        ({"area": VILLAGE, "start": "2026-02-30"}, 400, "start", "YYYY-MM-DD"),
        ({"area": VILLAGE, "start": "next monday"}, 400, "start", "YYYY-MM-DD"),
        ({"area": VILLAGE}, 400, "start", "YYYY-MM-DD"),
        ({"start": "2026-11-09"}, 400, "area", "village code"),
        ({"area": VILLAGE, "start": "2026-11-09", "minutes": 600}, 400, "minutes", "between"),
        ({"area": VILLAGE, "start": "2026-11-09", "minutes": 0}, 400, "minutes", "between"),
        ({"area": VILLAGE, "start": "2026-11-09", "minutes": "sixty"}, 400, "minutes", "number"),
        ({"area": VILLAGE, "start": "2026-11-09", "minutes": True}, 400, "minutes", "number"),
        ({"area": VILLAGE, "start": "2026-11-09", "seed": 1.5}, 400, "seed", "whole"),
        ({"area": VILLAGE, "start": "2026-11-09", "team": ["x"]}, 400, "team", "text"),
    ],
)
def test_api_bad_input(signed_in, body, status, field, words):
    answer = _post(signed_in("officer"), body)
    assert answer.status_code == status, answer.get_json()
    got = answer.get_json()
    assert got["field"] == field
    assert words in got["message"]
    chinese, english = got["message"].split(" / ", 1)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese)
    assert english.isascii()


def test_api_refuses_a_body_that_is_not_json(signed_in):
    officer = signed_in("officer")
    answer = officer.post(
        "/api/patrol/week-plans",
        data="area=1",
        content_type="application/x-www-form-urlencoded",
        headers={"X-CSRF-Token": officer.csrf},
    )
    assert answer.status_code == 415
    assert _post(officer, ["area"]).status_code == 400


def test_week_plan_pages_by_role(signed_in):
    officer = signed_in("officer")
    listing = officer.get("/patrol/week-plans")
    assert listing.status_code == 200
    assert 'name="area"' in listing.get_data(as_text=True)  # a planner gets the form
    patrol = signed_in("patrol").get("/patrol/week-plans")
    assert patrol.status_code == 200
    assert 'name="area"' not in patrol.get_data(as_text=True)
    assert signed_in("resident").get("/patrol/week-plans").status_code == 403
    assert signed_in("lane_captain").get("/patrol/week-plans").status_code == 403


def test_week_plan_form_plans_and_shows_the_plan(signed_in, app_session):
    officer = signed_in("officer")
    made = officer.post(
        "/patrol/week-plans",
        data={
            "csrf_token": officer.csrf,
            "area": VILLAGE,
            "start": "2026-11-16",
            "minutes": "40",
            "stop_min": "10",
            "seed": "2",
            "team": "夕阳红<b>巡逻队</b>",
        },
    )
    assert made.status_code == 303
    page = officer.get(made.headers["Location"])
    html = page.get_data(as_text=True)
    assert html.count("data-route=") == 14
    assert "夕阳红&lt;b&gt;巡逻队&lt;/b&gt;" in html
    assert "<b>巡逻队</b>" not in html
    plan_id = int(made.headers["Location"].rsplit("/", 1)[1])
    stored = week_plan_detail(app_session, None, plan_id, unrestricted=True)
    assert stored["params"]["stop_min"] == 10
    assert stored["team"] == "夕阳红<b>巡逻队</b>"
    bad = officer.post(
        "/patrol/week-plans",
        data={"csrf_token": officer.csrf, "area": VILLAGE, "start": "2026-11-16", "minutes": "9"},
    )
    assert bad.status_code == 400
    assert "minutes per patrol must be between" in bad.get_data(as_text=True)


def test_week_plan_page_shows_shortfalls(signed_in, app_session, monkeypatch):
    officer = signed_in("officer")
    made = officer.post(
        "/patrol/week-plans",
        data={"csrf_token": officer.csrf, "area": VILLAGE, "start": "2026-11-23", "seed": "5"},
    )
    assert made.status_code == 303
    plan_id = int(made.headers["Location"].rsplit("/", 1)[1])
    stored = week_plan_detail(app_session, None, plan_id, unrestricted=True)["params"]
    # What the solver could not meet is stored with the plan, with its own figures.
    assert isinstance(stored["shortfalls"], list)
    over = stored["metrics"]["overlap_stops"] > 0.5
    assert over == any("overlap" in note for note in stored["shortfalls"])
    html = officer.get(made.headers["Location"]).get_data(as_text=True)
    assert ("week-shortfalls" in html) == bool(stored["shortfalls"])

    # A plan with a shortfall (its text made to carry markup): shown, escaped.
    import dataclasses

    # plan_week looks week_plan up in its own module of the service package.
    from layers.patrol.service import week_plans

    real = week_plans.week_plan
    note = "不同日路线重合度 0.61 高于 0.50 <i>x</i> / day-to-day overlap 0.61 is above 0.50"

    def with_note(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), shortfalls=(note,))

    monkeypatch.setattr(week_plans, "week_plan", with_note)
    made = officer.post(
        "/patrol/week-plans",
        data={"csrf_token": officer.csrf, "area": VILLAGE, "start": "2026-11-30", "seed": "6"},
    )
    assert made.status_code == 303
    html = officer.get(made.headers["Location"]).get_data(as_text=True)
    assert "week-shortfalls" in html
    assert "未达到的要求" in html
    assert "不同日路线重合度 0.61 高于 0.50 &lt;i&gt;x&lt;/i&gt; / day-to-day overlap" in html
    assert "<i>x</i>" not in html
