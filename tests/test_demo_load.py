"""The demo township as loaded: the figures the README and the issue promise."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.demo.incidents import TIME_LIMITS
from layers.demo.load import DemoLoadError, load_demo
from layers.demo.patrols import TEAMS


def scalar(conn, sql: str):
    return conn.execute(text(sql)).scalar_one()


def test_counts(demo_connection):
    c = demo_connection
    assert scalar(c, "SELECT count(*) FROM village") == 19
    assert 7500 <= scalar(c, "SELECT count(*) FROM household") <= 8500
    assert scalar(c, "SELECT sum(people) FROM household") == pytest.approx(30600, rel=0.05)
    levels = dict(c.execute(text("SELECT level, count(*) FROM grid GROUP BY level")).all())
    assert set(levels) == {1, 2, 3}
    assert levels[1] == 19
    assert scalar(c, "SELECT count(DISTINCT category_code) FROM incident") == 8
    assert scalar(c, "SELECT count(*) FROM barrier WHERE kind IN ('river', 'road')") >= 2
    # A patrol history per team: one week plan of 14 patrols, walked tracks in its village.
    assert scalar(c, "SELECT count(*) FROM patrol_week_plan") == len(TEAMS)
    planned = scalar(c, "SELECT count(*) FROM patrol_route WHERE week_plan_id IS NOT NULL")
    assert planned == 14 * len(TEAMS)
    assert scalar(c, "SELECT count(DISTINCT village_id) FROM patrol_track") == len(TEAMS)


def test_every_household_in_one_lane_area_within_bounds(demo_connection):
    c = demo_connection
    assert (
        scalar(
            c,
            "SELECT count(*) FROM household h LEFT JOIN captain_area_member m"
            " ON m.household_id = h.id WHERE m.area_id IS NULL",
        )
        == 0
    )
    sizes = c.execute(
        text(
            "SELECT a.code, a.households, count(m.*) FROM captain_area a"
            " JOIN captain_area_member m ON m.area_id = a.id WHERE a.level = 'lane'"
            " GROUP BY a.id"
        )
    ).all()
    assert all(stored == counted for _, stored, counted in sizes)
    assert all(15 <= n <= 20 for _, n, _ in sizes)
    # Members lie inside (or on the edge of) their area's polygon.
    outside = scalar(
        c,
        "SELECT count(*) FROM captain_area_member m JOIN household h ON h.id = m.household_id"
        " JOIN captain_area a ON a.id = m.area_id WHERE NOT ST_DWithin(a.geom, h.geom, 1e-7)",
    )
    assert outside == 0


def test_incident_history_consistent(demo_connection):
    c = demo_connection
    mismatched = scalar(
        c,
        """
        SELECT count(*) FROM incident i
        JOIN LATERAL (SELECT to_status FROM incident_event e WHERE e.incident_id = i.id
                      ORDER BY seq DESC LIMIT 1) last ON true
        WHERE last.to_status <> i.status
        """,
    )
    assert mismatched == 0
    assert scalar(c, "SELECT max(reported_at) < '2026-11-01' FROM incident")
    # Every incident lies in its grid.
    assert (
        scalar(
            c,
            "SELECT count(*) FROM incident i JOIN grid g ON g.id = i.grid_id"
            " WHERE NOT ST_Intersects(g.geom, i.geom)",
        )
        == 0
    )


def test_two_tiesanjiao_teams_on_grids_of_different_villages(demo_connection):
    rows = demo_connection.execute(
        text(
            "SELECT u.username, g.village_id, u.person_id FROM user_account u"
            " JOIN user_grant ug ON ug.user_id = u.id JOIN grid g ON g.id = ug.grid_id"
            " WHERE u.username LIKE '%\\_a' OR u.username LIKE '%\\_b'"
        )
    ).all()
    villages = {name[-1]: vid for name, vid, _ in rows}
    assert villages["a"] != villages["b"]
    assert all(person is not None for *_, person in rows)
    roles = set(demo_connection.execute(text("SELECT role FROM user_grant")).scalars())
    assert len(roles) == 9  # one login per role


def test_refuses_to_overwrite_and_skips_when_present(demo_connection):
    with Session(bind=demo_connection, join_transaction_mode="create_savepoint") as s:
        assert load_demo(s, if_missing=True) == {"skipped": "demo town already loaded"}
        with pytest.raises(DemoLoadError, match="--replace"):
            load_demo(s)


def test_replace_and_scale(demo_connection):
    with Session(bind=demo_connection, join_transaction_mode="create_savepoint") as s:
        out = load_demo(s, households=1200, replace=True, as_of=date(2026, 1, 1), seed=7)
        s.commit()  # to a savepoint: the fixture's rollback still undoes it
    assert out["household"] == pytest.approx(1200, rel=0.05)
    assert out["village"] < 19
    assert scalar(demo_connection, "SELECT count(*) FROM household") == out["household"]
    assert out["patrol_track"] == sum(t.get("tracks", 0) for t in out["patrol_teams"].values())
    assert out["patrol_track"] > 0


def test_histories_follow_the_catalogue_they_were_loaded_with(demo_connection):
    rows = demo_connection.execute(
        text(
            "SELECT code, time_limit, time_unit, handler_level FROM incident_category"
            " WHERE parent_code IS NULL"
        )
    ).all()
    # The generator's default is the shipped catalogue (the loader passes the database's).
    assert {r.code: (r.time_limit, r.time_unit, r.handler_level) for r in rows} == TIME_LIMITS
    c = demo_connection
    assert (
        scalar(c, "SELECT count(*) FROM incident WHERE due_at IS NULL AND status <> 'draft'") == 0
    )
    # The level climbed once per escalation on timeout, from the class's handler level.
    wrong = scalar(
        c,
        """
        SELECT count(*) FROM incident i JOIN incident_category k ON k.code = i.category_code
        WHERE array_position(ARRAY['lane', 'village', 'town', 'county'], i.level)
              - array_position(ARRAY['lane', 'village', 'town', 'county'], k.handler_level)
              <> (SELECT count(*) FROM incident_event e WHERE e.incident_id = i.id
                  AND e.action = 'escalate' AND e.detail ->> 'reason' = 'timeout')
        """,
    )
    assert wrong == 0
    assert scalar(c, "SELECT count(*) FROM incident WHERE escalated_at IS NOT NULL") > 0
