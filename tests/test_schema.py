"""Constraints live in the database: bad rows are refused there, whatever the client."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

SQUARE = "MULTIPOLYGON(((116.10 38.20, 116.11 38.20, 116.11 38.21, 116.10 38.21, 116.10 38.20)))"
BOWTIE = "MULTIPOLYGON(((116.10 38.20, 116.11 38.21, 116.11 38.20, 116.10 38.21, 116.10 38.20)))"


@pytest.fixture
def town_village(connection):
    town = connection.execute(
        text(
            "INSERT INTO town (code, name, geom) VALUES ('130999100', '测试镇',"
            " ST_GeomFromText(:g, 4490)) RETURNING id"
        ),
        {"g": SQUARE},
    ).scalar_one()
    village = connection.execute(
        text(
            "INSERT INTO village (town_id, code, name, geom) VALUES (:t, '130999100201', '测试村',"
            " ST_GeomFromText(:g, 4490)) RETURNING id"
        ),
        {"t": town, "g": SQUARE},
    ).scalar_one()
    return town, village


def _refused(connection, sql: str, params: dict, error=IntegrityError) -> str:
    with pytest.raises(error) as exc, connection.begin_nested():
        connection.execute(text(sql), params)
    return str(exc.value)


def test_invalid_polygon_refused(connection, town_village):
    town, _ = town_village
    msg = _refused(
        connection,
        "INSERT INTO village (town_id, code, name, geom)"
        " VALUES (:t, '130999100202', 'x', ST_GeomFromText(:g, 4490))",
        {"t": town, "g": BOWTIE},
    )
    assert "ck_village_geom_valid" in msg


def test_wrong_srid_refused(connection, town_village):
    town, _ = town_village
    msg = _refused(
        connection,
        "INSERT INTO village (town_id, code, name, geom)"
        " VALUES (:t, '130999100203', 'x', ST_GeomFromText(:g, 4326))",
        {"t": town, "g": SQUARE},
        error=DBAPIError,
    )
    assert "SRID" in msg


def test_grid_parent_must_be_one_level_up(connection, town_village):
    _, village = town_village
    insert = (
        "INSERT INTO grid (code, level, parent_id, parent_level, village_id, name, geom)"
        " VALUES (:code, :level, :pid, :plevel, :v, 'g', ST_GeomFromText(:g, 4490)) RETURNING id"
    )
    g1 = connection.execute(
        text(insert),
        {
            "code": "1309991002010000",
            "level": 1,
            "pid": None,
            "plevel": None,
            "v": village,
            "g": SQUARE,
        },
    ).scalar_one()
    params = {
        "code": "1309991002010101",
        "level": 3,
        "pid": g1,
        "plevel": 1,
        "v": village,
        "g": SQUARE,
    }
    assert "ck_grid_parent_level" in _refused(connection, insert, params)
    # Claiming the parent is level 2 when it is level 1: the composite key refuses it.
    params["plevel"] = 2
    assert "fk_grid_parent" in _refused(connection, insert, params)
    params.update(level=2, plevel=1, code="1309991002010100")
    assert connection.execute(text(insert), params).scalar_one() > g1


def test_current_grid_code_unique_but_history_kept(connection, town_village):
    _, village = town_village
    insert = (
        "INSERT INTO grid (code, level, village_id, name, geom, valid_from, valid_to)"
        " VALUES ('1309991002010000', 1, :v, 'g', ST_GeomFromText(:g, 4490), :f, :t)"
    )
    connection.execute(
        text(insert), {"v": village, "g": SQUARE, "f": "2024-01-01", "t": "2025-01-01"}
    )
    connection.execute(text(insert), {"v": village, "g": SQUARE, "f": "2025-01-01", "t": None})
    msg = _refused(connection, insert, {"v": village, "g": SQUARE, "f": "2025-06-01", "t": None})
    assert "uq_grid_current_code" in msg


def test_person_id_number_format(connection, town_village):
    _, village = town_village
    sql = "INSERT INTO person (village_id, name, id_number) VALUES (:v, '王某某0001', :n)"
    assert "id_number_format" in _refused(connection, sql, {"v": village, "n": "12345"})
    connection.execute(text(sql), {"v": village, "n": "13099919800101001X"})


def test_audit_log_is_append_only(connection):
    connection.execute(
        text("INSERT INTO audit_log (actor_name, action) VALUES ('tester', 'login')")
    )
    for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        msg = _refused(connection, sql, {}, error=DBAPIError)
        assert "append-only" in msg
    assert connection.execute(text("SELECT count(*) FROM audit_log")).scalar() >= 1


def test_seeded_catalogue(connection):
    top = dict(
        connection.execute(
            text("SELECT code, name_zh FROM incident_category WHERE parent_code IS NULL")
        ).all()
    )
    assert top["01"] == "环境卫生"
    assert top["08"] == "民生诉求"
    assert len(top) == 8
    orphans = connection.execute(
        text(
            "SELECT count(*) FROM incident_category c WHERE parent_code IS NOT NULL"
            " AND left(c.code, 2) <> c.parent_code"
        )
    ).scalar_one()  # sub-categories are coded under their class: 0101 under 01
    assert orphans == 0
    open_ = set(
        connection.execute(text("SELECT code FROM incident_status WHERE is_open")).scalars()
    )
    assert "closed" not in open_
    assert {"reported", "in_progress"} <= open_
