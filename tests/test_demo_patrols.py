"""The demo's patrol history as loaded: checked like uploads, visible on the coverage and
week-plan pages of the demo users, deterministic."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.demo.generate import DEFAULT_SEED
from layers.demo.patrols import TEAMS, load_patrols, patrol_schedule
from layers.patrol.service import LOCAL

AS_OF = date(2026, 11, 1)  # the demo fixture's date


@pytest.fixture(scope="module")
def schedule():
    return patrol_schedule(AS_OF, DEFAULT_SEED)


def _villages(conn) -> list[str]:
    return list(conn.execute(text("SELECT code FROM village ORDER BY code")).scalars())


def _tracks(conn):
    return conn.execute(
        text(
            "SELECT v.code, t.person_id, t.started_at, t.ended_at, t.report, r.mode,"
            " r.week_plan_id FROM patrol_track t JOIN village v ON v.id = t.village_id"
            " JOIN patrol_route r ON r.id = t.route_id ORDER BY t.started_at, t.id"
        )
    ).all()


def test_every_walked_patrol_is_a_checked_track(demo_connection, schedule):
    c = demo_connection
    codes = _villages(c)
    tracks = _tracks(c)
    walked = schedule[schedule["outcome"] != "skipped"]
    assert len(tracks) == len(walked)
    # Stored through the upload's path: each one checked and audited.
    audited = c.execute(
        text("SELECT count(*) FROM audit_log WHERE action = 'patrol.check' AND actor_name = 'demo'")
    ).scalar_one()
    assert audited == len(tracks)
    for k, team in enumerate(TEAMS):
        code = codes[team.village]
        mine = [t for t in tracks if t.code == code]
        planned = walked[walked["team"] == k]
        assert len(mine) == len(planned)
        # The check measured the start against the plan or routine: the schedule's delays.
        assert Counter(round(t.report["start_delay_s"]) for t in mine) == Counter(
            planned["delay_s"]
        )
        assert sum(t.week_plan_id is not None for t in mine) == planned["planned"].sum()
        assert sum(t.mode == "cover" for t in mine) == (planned["route"] == "cover").sum()
        # The phone was carried by one of the team (patrol members, or the village's police).
        holders = set(
            c.execute(
                text(
                    "SELECT ra.person_id FROM role_assignment ra LEFT JOIN grid g"
                    " ON g.id = ra.grid_id WHERE ra.role = :r"
                    " AND coalesce(ra.village_id, g.village_id) ="
                    " (SELECT id FROM village WHERE code = :c)"
                ),
                {"r": team.role, "c": code},
            ).scalars()
        )
        assert {t.person_id for t in mine} <= holders
        assert len({t.person_id for t in mine}) > 1
    first = AS_OF - timedelta(days=7 * max(t.weeks for t in TEAMS))
    local = [(t.started_at.astimezone(LOCAL), t.ended_at.astimezone(LOCAL)) for t in tracks]
    assert all(first <= start.date() and end.date() < AS_OF for start, end in local)


def test_checks_vary_as_walks_do(demo_connection):
    tracks = _tracks(demo_connection)
    budget = [t.report for t in tracks if t.mode == "budget"]
    cover = [t.report for t in tracks if t.mode == "cover"]
    assert all(r["checkpoints_total"] > 0 and r["lane_share"] is None for r in budget)
    # Most stops are kept; some are missed (walks cut short) or too brief.
    visited = sum(r["checkpoints_visited"] for r in budget)
    total = sum(r["checkpoints_total"] for r in budget)
    assert 0.8 < visited / total < 1.0
    assert 0 < sum(r["dwell_ok"] for r in budget) < visited
    assert cover
    assert all(0.2 < r["lane_share"] <= 1.0 for r in cover)
    assert min(r["lane_share"] for r in cover) < 1.0
    late = [r for r in budget if r["start_delay_s"] >= 12 * 60]
    assert 0 < len(late) < len(budget) / 4


def test_tracks_follow_their_routes_with_gps_noise(demo_connection):
    # Fixes lie a few metres off the route, as 5–10 m GPS noise puts them (outliers aside).
    median, p90 = demo_connection.execute(
        text(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d),"
            " percentile_cont(0.9) WITHIN GROUP (ORDER BY d) FROM ("
            " SELECT ST_Distance(ST_Transform(r.geom, 4548), ST_Transform(p.geom, 4548)) AS d"
            " FROM patrol_track t JOIN patrol_route r ON r.id = t.route_id,"
            " ST_DumpPoints(t.geom) p) s"
        )
    ).one()
    assert 2.0 < median < 10.0
    assert p90 < 25.0
    step = demo_connection.execute(
        text(
            "SELECT array_agg(DISTINCT round(ST_M(ST_PointN(geom, 2)) - ST_M(ST_PointN(geom, 1))))"
            " FROM patrol_track"
        )
    ).scalar_one()
    assert set(step) <= {5, 10, 15}


def _coverage(client, **query) -> list[dict]:
    answer = client.get("/api/patrol/coverage", query_string=query)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["rows"]


@pytest.mark.parametrize("username", ["patrol", "officer"])
def test_coverage_shows_the_village_a_history(signed_in, demo_connection, schedule, username):
    village_a = _villages(demo_connection)[0]
    rows = _coverage(signed_in(username), since="2026-09", until="2026-11")
    assert {r["area_code"] for r in rows} == {village_a}
    months = {(r["team"], r["month"]) for r in rows}
    assert months == {(None, "2026-09"), (None, "2026-10"), ("夕阳红巡逻队", "2026-10")}
    mine = schedule[schedule["team"] == 0]
    in_plan = mine[mine["planned"]]
    team = next(r for r in rows if r["team"])
    assert team["planned"] == len(in_plan)
    assert team["planned_walked"] == team["walked"] == (in_plan["outcome"] != "skipped").sum()
    assert 0.5 < team["walked_share"] < 1.0
    for r in rows:
        assert 0.8 < r["checkpoint_share"] <= 1.0
        assert r["dwell_ok"] <= r["checkpoints_visited"]
    october = next(r for r in rows if r["team"] is None and r["month"] == "2026-10")
    assert 0.3 < october["lane_share"] <= 1.0  # the volunteers' Sunday rounds of every lane
    fixed = mine[~mine["planned"] & (mine["outcome"] != "skipped")]
    assert sum(r["walked"] for r in rows if r["team"] is None) == len(fixed)
    page = signed_in(username).get("/patrol/coverage?since=2026-09&until=2026-10")
    assert page.get_data(as_text=True).count(f'data-area="{village_a}"') == 3


def test_coverage_by_village_for_the_town_and_team_b(signed_in, demo_connection):
    village_a, village_b = _villages(demo_connection)[:2]
    town = _coverage(signed_in("admin"), since="2026-09", until="2026-10", by="village")
    assert {r["area_code"] for r in town} == {village_a, village_b}
    shares = {r["walked_share"] for r in town if r["planned"]}
    assert len(shares) == 2  # the two teams kept their plans differently
    police = _coverage(signed_in("police_b"), since="2026-09", until="2026-10")
    assert {r["area_code"] for r in police} == {village_b}
    assert "警民联防巡逻队" in {r["team"] for r in police}


def test_week_plans_are_listed(signed_in, demo_connection):
    village_a, village_b = _villages(demo_connection)[:2]
    week = (AS_OF - timedelta(days=7)).isoformat()
    for username, village, team in (
        ("patrol", village_a, "夕阳红巡逻队"),
        ("officer", village_a, "夕阳红巡逻队"),
        ("police_b", village_b, "警民联防巡逻队"),
    ):
        plans = signed_in(username).get("/api/patrol/week-plans").get_json()
        assert [(p["village"], p["team"], p["week_start"], p["patrols"]) for p in plans] == [
            (village, team, week, 14)
        ]
        page = signed_in(username).get("/patrol/week-plans").get_data(as_text=True)
        assert f'data-plan="{plans[0]["id"]}"' in page
        one = signed_in(username).get(f"/patrol/week-plans/{plans[0]['id']}")
        assert one.status_code == 200
        assert one.get_data(as_text=True).count("data-route=") == 14


def test_same_history_for_the_same_seed_and_date(demo_connection):
    before = [(t.code, t.started_at, t.report) for t in _tracks(demo_connection)]
    with Session(bind=demo_connection, join_transaction_mode="create_savepoint") as s:
        s.execute(text("DELETE FROM patrol_track"))
        s.execute(text("DELETE FROM patrol_route"))
        s.execute(text("DELETE FROM patrol_week_plan"))
        load_patrols(s, AS_OF, DEFAULT_SEED)
        s.flush()
        after = [(t.code, t.started_at, t.report) for t in _tracks(s.connection())]
    assert after == before


def test_coverage_of_a_month_without_a_round_of_every_lane(signed_in):
    # September in village A: the volunteers' fixed routes only, no Sunday round yet.
    rows = _coverage(signed_in("patrol"), since="2026-09", until="2026-09")
    assert [(r["month"], r["lane_share"]) for r in rows] == [("2026-09", None)]
