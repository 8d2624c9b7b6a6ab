"""Splitting a village along a line: the town administrator's tool, on the demo town.

The line follows the inner edge of one level-2 grid (drawn a little off it: the
server snaps it onto the grid edges), so that grid goes to the new village with
its child, recoded; the rest stays. Everything that hangs on the village must
follow its side consistently, and a refused split must leave everything as it was.
"""

from __future__ import annotations

import math

import pytest
import shapely
import shapely.affinity
from shapely.geometry import LineString, mapping
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.boundaries.saving import next_code

VILLAGE = "130999100201"
MOVING = "1309991002010100"  # the smallest level-2 grid of the village: it leaves
NEW_VILLAGE = "130999100220"  # the town's villages run 201..219
M_LAT = 1 / 110_574


def send(client, method: str, url: str, body=None):
    return client.open(url, method=method, json=body, headers={"X-CSRF-Token": client.csrf})


def see_all(conn) -> None:
    """Row-level security as for the whole town (each request leaves its user's scope set)."""
    for kind in ("household", "incident", "track"):
        conn.execute(text(f"SELECT set_config('wangge.{kind}_all', 'on', true)"))


def shape(conn, table: str, code: str):
    alive = " AND valid_to IS NULL" if table == "grid" else ""
    wkt = conn.execute(
        text(f"SELECT ST_AsText(geom) FROM {table} WHERE code = :c{alive}"), {"c": code}
    ).scalar_one()
    return shapely.from_wkt(wkt)


def version(conn, code: str = VILLAGE) -> int:
    return conn.execute(
        text("SELECT version FROM village WHERE code = :c"), {"c": code}
    ).scalar_one()


def m2(geom) -> float:
    """Area in square metres (local equirectangular: exact enough for a village)."""
    k = 111_320 * math.cos(math.radians(geom.centroid.y)) / M_LAT
    return geom.area * k


def extend(line: LineString, metres: float) -> LineString:
    """``line`` made longer by ``metres`` at both ends, along its end segments."""
    coords = list(line.coords)
    kx = 1 / (111_320 * math.cos(math.radians(coords[0][1])))

    def out(a, b):
        dx, dy = (b[0] - a[0]) / kx, (b[1] - a[1]) / M_LAT
        n = math.hypot(dx, dy)
        return (b[0] + dx / n * metres * kx, b[1] + dy / n * metres * M_LAT)

    return LineString([out(coords[1], coords[0]), *coords, out(coords[-2], coords[-1])])


def inner_edge(conn, grid: str = MOVING, village: str = VILLAGE) -> LineString:
    """The part of ``grid``'s outline inside the village, as one line."""
    g, v = shape(conn, "grid", grid), shape(conn, "village", village)
    inner = shapely.line_merge(g.boundary.difference(v.boundary.buffer(1e-6)))
    assert inner.geom_type == "LineString", "the grid's inner edge is not one line"
    return inner


def drawn_line(conn, *, off_m: float = 0.5) -> dict:
    """The inner edge of MOVING, shifted ``off_m`` metres north (a hand-drawn line), with its
    ends 20 m outside the village."""
    edge = extend(inner_edge(conn), 20)
    shifted = shapely.affinity.translate(edge, yoff=off_m * M_LAT)
    v = shape(conn, "village", VILLAGE)
    assert not v.contains(shapely.Point(shifted.coords[0]))
    assert not v.contains(shapely.Point(shifted.coords[-1]))
    return mapping(shifted)


def stored(conn) -> dict:
    """Everything a refused split must leave as it was."""
    see_all(conn)
    q = {
        "villages": "SELECT code, version, md5(ST_AsBinary(geom)) FROM village ORDER BY code",
        "grids": "SELECT id, code, village_id, parent_id, version, md5(ST_AsBinary(geom))"
        " FROM grid ORDER BY id",
        "households": "SELECT md5(string_agg(id || ':' || village_id || ':' ||"
        " coalesce(grid_id, 0) || ':' || version, ',' ORDER BY id)) FROM household",
        "persons": "SELECT md5(string_agg(id || ':' || village_id, ',' ORDER BY id)) FROM person",
        "incidents": "SELECT md5(string_agg(id || ':' || village_id || ':' || grid_id, ','"
        " ORDER BY id)) FROM incident",
        "areas": "SELECT md5(string_agg(id || ':' || code || ':' || village_id || ':' ||"
        " md5(ST_AsBinary(geom)), ',' ORDER BY id)) FROM captain_area",
        "members": "SELECT md5(string_agg(household_id || ':' || area_id, ','"
        " ORDER BY household_id)) FROM captain_area_member",
        "lines": "SELECT md5(string_agg(id || ':' || village_id || ':' || version, ','"
        " ORDER BY id)) FROM (SELECT id, village_id, version FROM street UNION ALL"
        " SELECT -id, village_id, version FROM lane) x",
        "audit": "SELECT count(*) FROM audit_log",
        "runs": "SELECT count(*) FROM gridding_run",
    }
    return {k: conn.execute(text(v)).all() for k, v in q.items()}


def test_preview_says_what_moves_writes_nothing_and_holds(signed_in, demo_app_connection):
    conn = demo_app_connection
    before = stored(conn)
    see_all(conn)
    total = conn.execute(
        text("SELECT count(*) FROM household WHERE village_id = (SELECT id FROM village"
             " WHERE code = :c)"), {"c": VILLAGE},
    ).scalar_one()  # fmt: skip
    in_moving = conn.execute(
        text("SELECT count(*) FROM household h JOIN grid g ON g.id = h.grid_id"
             " WHERE g.parent_id = (SELECT id FROM grid WHERE code = :c)"), {"c": MOVING},
    ).scalar_one()  # fmt: skip
    r = send(signed_in("admin"), "POST", f"/api/boundaries/village/{VILLAGE}/split",
             {"version": version(conn), "line": drawn_line(conn), "preview": True,
              "name": "新分村"})  # fmt: skip
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["preview"] is True
    assert body["new_code"] == NEW_VILLAGE
    assert body["new_name"] == "新分村"
    keep, new = body["parts"]
    assert keep["keeps_code"]
    assert not new["keeps_code"]
    assert keep["feature"]["properties"]["code"] == VILLAGE
    assert new["feature"]["properties"]["code"] == NEW_VILLAGE
    assert keep["households"] + new["households"] == total
    assert new["households"] == in_moving == body["moves"]["households"]
    assert keep["households"] > new["households"]
    assert body["recoded"] == [
        {"code": MOVING, "new_code": NEW_VILLAGE + "0100", "level": 2,
         "name": "新分村第1网格"},
        {"code": MOVING[:14] + "01", "new_code": NEW_VILLAGE + "0101", "level": 3,
         "name": "新分村第1-1网格"},
    ]  # fmt: skip
    assert body["moves"]["grids"] == 2
    assert stored(conn) == before
    preview = body
    # What the preview said is what the split does.
    r = send(signed_in("admin"), "POST", f"/api/boundaries/village/{VILLAGE}/split",
             {"version": version(conn), "line": drawn_line(conn), "name": "新分村"})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    done = r.get_json()
    assert [p["households"] for p in done["parts"]] == [p["households"] for p in preview["parts"]]
    assert done["recoded"] == preview["recoded"]
    for key in ("grids", "households", "persons", "incidents", "captain_areas", "streets",
                "lanes"):  # fmt: skip
        assert done["moves"][key] == preview["moves"][key], key
    assert (done["regrid"] is not None) == (preview["moves"]["captain_areas_cut"] > 0)


def test_split_moves_everything_on_the_new_side(signed_in, demo_app_connection):
    conn = demo_app_connection
    see_all(conn)
    old = shape(conn, "village", VILLAGE)
    ids = dict(conn.execute(text("SELECT code, id FROM grid WHERE code LIKE :p AND valid_to"
                                 " IS NULL"), {"p": VILLAGE + "%"}).all())  # fmt: skip
    village_id = conn.execute(
        text("SELECT id FROM village WHERE code = :c"), {"c": VILLAGE}
    ).scalar_one()
    households_before = conn.execute(
        text("SELECT count(*) FROM household WHERE village_id = :v"), {"v": village_id}
    ).scalar_one()
    incidents_moving = conn.execute(
        text("SELECT count(*) FROM incident i JOIN grid g ON g.id = i.grid_id"
             " WHERE g.parent_id = :p"), {"p": ids[MOVING]},
    ).scalar_one()  # fmt: skip
    v0 = version(conn)
    line = drawn_line(conn)
    r = send(signed_in("admin"), "POST", f"/api/boundaries/village/{VILLAGE}/split",
             {"version": v0, "line": line, "kind": "community"})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["new_kind"] == "community"
    body = r.get_json()
    keep, new = body["parts"]
    assert keep["feature"]["properties"]["version"] == v0 + 1
    assert new["feature"]["properties"]["version"] == 1
    see_all(conn)

    # Outlines: the two villages cover the old one exactly, without overlap; the new one
    # is the moving grid's outline (the drawn line was snapped onto its edge).
    a, b = shape(conn, "village", VILLAGE), shape(conn, "village", NEW_VILLAGE)
    assert a.union(b).symmetric_difference(old).area < old.area * 1e-9
    assert a.intersection(b).area < old.area * 1e-9
    moving = shape(conn, "grid", NEW_VILLAGE + "0100")
    assert m2(b.symmetric_difference(moving)) < 1.0  # the demo's grids fit to ~0.1 m²
    # Level-1 grids are their villages' outlines.
    assert shape(conn, "grid", VILLAGE + "0000").equals(a)
    assert shape(conn, "grid", NEW_VILLAGE + "0000").equals(b)

    # The moved grids keep their ids, under the new level-1 grid.
    rows = {
        code: (gid, vid, parent)
        for code, gid, vid, parent in conn.execute(
            text("SELECT code, id, village_id, parent_id FROM grid WHERE valid_to IS NULL"
                 " AND code LIKE :p"), {"p": NEW_VILLAGE + "%"},
        )
    }  # fmt: skip
    new_id = conn.execute(
        text("SELECT id FROM village WHERE code = :c"), {"c": NEW_VILLAGE}
    ).scalar_one()
    assert set(rows) == {NEW_VILLAGE + "0000", NEW_VILLAGE + "0100", NEW_VILLAGE + "0101"}
    assert rows[NEW_VILLAGE + "0100"] == (ids[MOVING], new_id, rows[NEW_VILLAGE + "0000"][0])
    assert rows[NEW_VILLAGE + "0101"] == (ids[MOVING[:14] + "01"], new_id, ids[MOVING])
    for code in (MOVING, MOVING[:14] + "01"):  # the old codes are gone
        assert not conn.execute(
            text("SELECT 1 FROM grid WHERE code = :c"), {"c": code}
        ).one_or_none()

    # Households: both villages hold what the old one held, each where it lies.
    counts = dict(conn.execute(
        text("SELECT village_id, count(*) FROM household WHERE village_id IN (:a, :b)"
             " GROUP BY 1"), {"a": village_id, "b": new_id},
    ).all())  # fmt: skip
    assert counts[village_id] + counts[new_id] == households_before
    assert counts[village_id] == keep["households"]
    assert counts[new_id] == new["households"] == body["moves"]["households"]
    assert body["moves"]["incidents"] == incidents_moving
    assert body["moves"]["persons"] > 0
    # The line cuts captain areas of the demo: both villages were re-gridded (incrementally).
    assert body["regrid"]["villages"] == [VILLAGE, NEW_VILLAGE]
    assert body["moves"]["streets"] + body["moves"]["lanes"] > 0
    assert_consistent(conn)

    # Audit: the old outline, the level-1 reshape, the recodes and the new village.
    audit = conn.execute(
        text("SELECT action, object_type, object_id, detail FROM audit_log"
             " WHERE action LIKE 'boundary.%' ORDER BY id"),
    ).all()  # fmt: skip
    split = next(a for a in audit if a.object_id == VILLAGE)
    assert shapely.geometry.shape(split.detail["previous"]).equals_exact(old, 1e-9)
    assert split.detail["new_code"] == NEW_VILLAGE
    assert split.detail["grids"] == {MOVING: NEW_VILLAGE + "0100",
                                     MOVING[:14] + "01": NEW_VILLAGE + "0101"}  # fmt: skip
    recodes = {a.detail["previous_code"]: a.object_id for a in audit
               if a.action == "boundary.recode"}  # fmt: skip
    assert recodes == split.detail["grids"]
    assert ("boundary.split", "village", NEW_VILLAGE) in {a[:3] for a in audit}
    assert ("boundary.update", "grid", VILLAGE + "0000") in {a[:3] for a in audit}
    kinds = dict(conn.execute(text("SELECT code, kind FROM village WHERE code IN (:a, :b)"),
                              {"a": VILLAGE, "b": NEW_VILLAGE}).all())  # fmt: skip
    assert kinds == {VILLAGE: "village", NEW_VILLAGE: "community"}

    # The split is one edit of version v0: the version loaded before it is stale now.
    before = stored(conn)
    r = send(signed_in("admin"), "POST", f"/api/boundaries/village/{VILLAGE}/split",
             {"version": v0, "line": line})  # fmt: skip
    assert r.status_code == 409
    assert stored(conn) == before
    # A code a grid carried is never handed out again: the next level-2 grid of the old
    # village is 0400, not the 0100 that left.
    with Session(bind=conn, join_transaction_mode="create_savepoint") as s:
        assert next_code(s, 2, "grid", ids[VILLAGE + "0000"]) == VILLAGE + "0400"


def assert_consistent(conn) -> None:
    """Every row of the two villages says the same village as the rows it points at."""
    see_all(conn)
    checks = {
        "grid code carries its village's": "SELECT count(*) FROM grid g JOIN village v"
        " ON v.id = g.village_id WHERE g.valid_to IS NULL AND left(g.code, 12) <> v.code",
        "grid code carries its parent's": "SELECT count(*) FROM grid g JOIN grid p"
        " ON p.id = g.parent_id WHERE g.valid_to IS NULL AND (p.village_id <> g.village_id"
        " OR left(g.code, 8 + 2 * g.level) <> left(p.code, 8 + 2 * g.level)"
        " OR p.valid_to IS NOT NULL)",
        "household in its village": "SELECT count(*) FROM household h JOIN village v"
        " ON v.id = h.village_id WHERE NOT ST_Intersects(v.geom, h.geom)"
        " AND v.code IN ('130999100201', '130999100220')",
        "household's grid in its village": "SELECT count(*) FROM household h JOIN grid g"
        " ON g.id = h.grid_id WHERE g.village_id <> h.village_id",
        "person with his household": "SELECT count(*) FROM person p JOIN household h"
        " ON h.id = p.household_id WHERE p.village_id <> h.village_id",
        "incident's grid in its village": "SELECT count(*) FROM incident i JOIN grid g"
        " ON g.id = i.grid_id WHERE g.village_id <> i.village_id",
        "member's area in its village": "SELECT count(*) FROM captain_area_member m"
        " JOIN household h ON h.id = m.household_id JOIN captain_area a ON a.id = m.area_id"
        " WHERE a.village_id <> h.village_id",
        "area code carries its village's": "SELECT count(*) FROM captain_area a JOIN village v"
        " ON v.id = a.village_id WHERE left(a.code, 13) <> v.code || '-'",
        "area grouped in its village": "SELECT count(*) FROM captain_area a JOIN captain_area g"
        " ON g.id IN (a.street_area_id, a.party_group_id) WHERE g.village_id <> a.village_id",
        "household without a captain area": "SELECT count(*) FROM household h WHERE"
        " h.village_id IN (SELECT id FROM village WHERE code IN ('130999100201',"
        " '130999100220')) AND NOT EXISTS (SELECT 1 FROM captain_area_member m"
        " WHERE m.household_id = h.id)",
    }
    wrong = {k: conn.execute(text(q)).scalar_one() for k, q in checks.items()}
    assert wrong == dict.fromkeys(checks, 0)


def _refusals(conn) -> dict[str, tuple[dict, int, str]]:
    v = shape(conn, "village", VILLAGE)
    _, y0, _, y1 = v.bounds
    cx, cy = v.centroid.x, v.centroid.y
    g = shape(conn, "grid", MOVING)
    gx = g.representative_point().x
    return {
        # Straight through the moving grid: it would be cut.
        "grid_cut": (mapping(LineString([(gx, y0 - 0.001), (gx, y1 + 0.001)])), 422, "请先"),
        "not_crossing": (mapping(LineString([(cx, y0 - 0.001), (cx, cy)])), 422, "穿过"),
        "type": ({"type": "Point", "coordinates": [cx, cy]}, 422, "/"),
    }


@pytest.mark.parametrize("reason", ["grid_cut", "not_crossing", "type"])
def test_refused_village_splits_change_nothing(signed_in, demo_app_connection, reason):
    conn = demo_app_connection
    before = stored(conn)
    line, status, words = _refusals(conn)[reason]
    for preview in (True, False):
        r = send(signed_in("admin"), "POST", f"/api/boundaries/village/{VILLAGE}/split",
                 {"version": version(conn), "line": line, "preview": preview})  # fmt: skip
        assert r.status_code == status, r.get_json()
        body = r.get_json()
        assert words in body["message"]
        assert " / " in body["message"]  # Chinese, then English
    if reason == "grid_cut":
        assert body["reason"] == "grid_cut"
        # The grid named is really cut by the line, and the mark is on the line inside it.
        code = body["message"].split("（", 1)[1].split("）", 1)[0]
        grid = shape(conn, "grid", code)
        where = shapely.Point(body["where"])
        assert grid.buffer(1e-7).contains(where)
        assert shapely.geometry.shape(line).distance(where) < 1e-7
    assert stored(conn) == before


def test_only_the_town_administrator_splits_villages(signed_in, demo_app_connection):
    conn = demo_app_connection
    before = stored(conn)
    body = {"version": version(conn), "line": drawn_line(conn)}
    url = f"/api/boundaries/village/{VILLAGE}/split"
    for user in ("officer", "police_a", "cadre_a", "worker_a", "street_captain",
                 "lane_captain", "patrol", "resident"):  # fmt: skip
        for preview in (True, False):
            r = send(signed_in(user), "POST", url, body | {"preview": preview})
            assert r.status_code == 403, user
            assert " / " in r.get_json()["message"]
    assert signed_in("admin").post(url, json=body).status_code == 400  # no CSRF header
    r = send(signed_in("admin"), "POST", "/api/boundaries/village/130999100299/split", body)
    assert r.status_code == 404
    r = send(signed_in("admin"), "POST", url, {"line": body["line"]})
    assert r.status_code == 400  # no version
    r = send(signed_in("admin"), "POST", url, body | {"kind": "town"})
    assert r.status_code == 400
    assert "community" in r.get_json()["message"]
    assert stored(conn) == before
