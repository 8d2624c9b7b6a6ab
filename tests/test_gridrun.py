"""`wangge grid run` on the database: incremental, pinned areas kept, captains kept."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.captains.gridrun import run_gridding
from layers.errors import NotFound


def rows(conn, sql: str, **params):
    return conn.execute(text(sql), params).all()


@pytest.fixture
def owner_session(demo_connection):
    with Session(bind=demo_connection, join_transaction_mode="create_savepoint") as s:
        yield s


def test_incremental_keeps_pinned_areas_and_captains(owner_session, demo_connection):
    c = demo_connection
    village = c.execute(text("SELECT id, code FROM village ORDER BY code LIMIT 1")).one()
    pinned_code, pinned_geom = c.execute(
        text(
            "SELECT code, ST_AsText(geom) FROM captain_area WHERE village_id = :v"
            " AND level = 'lane' ORDER BY code LIMIT 1"
        ),
        {"v": village.id},
    ).one()
    c.execute(text("UPDATE captain_area SET pinned = true WHERE code = :c"), {"c": pinned_code})
    pinned_members = {
        r[0]
        for r in rows(
            c,
            "SELECT household_id FROM captain_area_member m"
            " JOIN captain_area a ON a.id = m.area_id"
            " WHERE a.code = :c",
            c=pinned_code,
        )
    }
    before = dict(
        rows(
            c,
            "SELECT m.household_id, a.code FROM captain_area_member m JOIN"
            " captain_area a ON a.id = m.area_id WHERE a.village_id = :v",
            v=village.id,
        )
    )
    captains = dict(
        rows(
            c,
            "SELECT a.code, r.person_id FROM role_assignment r JOIN captain_area a"
            " ON a.id = r.captain_area_id WHERE r.role = 'lane_captain'"
            " AND a.village_id = :v",
            v=village.id,
        )
    )
    # Four houses demolished (not the pinned area's), three new ones beside others.
    gone = [h for h in sorted(before) if h not in pinned_members][:4]
    c.execute(text("DELETE FROM household WHERE id = ANY(:g)"), {"g": gone})
    c.execute(
        text(
            "INSERT INTO household (village_id, address, people, geom) SELECT village_id,"
            " address || '-新', 3, ST_Translate(geom, 0.00005, 0) FROM household"
            " WHERE id = ANY(:s)"
        ),
        {"s": [h for h in sorted(before) if h not in pinned_members][10:13]},
    )

    result = run_gridding(owner_session, [village.code], seed=1)

    after = dict(
        rows(
            c,
            "SELECT m.household_id, a.code FROM captain_area_member m JOIN"
            " captain_area a ON a.id = m.area_id WHERE a.village_id = :v",
            v=village.id,
        )
    )
    households = {
        r[0] for r in rows(c, "SELECT id FROM household WHERE village_id = :v", v=village.id)
    }
    assert set(after) == households  # every household, each in exactly one area (primary key)
    kept = [h for h in before if h in after]
    changed = sum(before[h] != after[h] for h in kept)
    assert changed == result.summary["changed_captain"]
    assert changed <= 20  # a handful, not a re-drawn village
    assert (
        c.execute(
            text("SELECT ST_AsText(geom) FROM captain_area WHERE code = :c"), {"c": pinned_code}
        ).scalar_one()
        == pinned_geom
    )
    assert {h for h, code in after.items() if code == pinned_code} == pinned_members
    sizes = [
        r[0]
        for r in rows(
            c,
            "SELECT households FROM captain_area WHERE village_id = :v AND level = 'lane'",
            v=village.id,
        )
    ]
    assert all(15 <= n <= 20 for n in sizes)
    # Captains of areas that still exist still hold them.
    still = dict(
        rows(
            c,
            "SELECT a.code, r.person_id FROM role_assignment r JOIN captain_area a"
            " ON a.id = r.captain_area_id WHERE r.role = 'lane_captain'"
            " AND a.village_id = :v",
            v=village.id,
        )
    )
    survivors = set(still) & set(captains)
    assert len(survivors) >= 0.9 * len(captains)
    assert all(still[code] == captains[code] for code in survivors)
    audit = c.execute(text("SELECT action FROM audit_log ORDER BY id DESC LIMIT 1")).scalar_one()
    assert audit == "grid.run"


def test_unknown_village_refused(owner_session):
    with pytest.raises(NotFound, match="999999999999"):
        run_gridding(owner_session, ["999999999999"])
