"""Creating a village from the map: town administrator only, inside the town, clear of the
other villages, coded by the town's scheme, with its level-1 grid."""

from __future__ import annotations

import shapely
from shapely.geometry import box, mapping
from sqlalchemy import text


def send(client, method: str, url: str, body=None):
    return client.open(url, method=method, json=body, headers={"X-CSRF-Token": client.csrf})


def stored(conn) -> dict:
    conn.execute(text("SELECT set_config('wangge.household_all', 'on', true)"))
    return {
        "villages": conn.execute(
            text("SELECT code, name, version, md5(ST_AsBinary(geom)) FROM village ORDER BY code")
        ).all(),
        "grids": conn.execute(text("SELECT count(*), max(id) FROM grid")).one(),
        "households": conn.execute(
            text("SELECT md5(string_agg(id || ':' || village_id, ',' ORDER BY id)) FROM household")
        ).scalar_one(),
        "audit": conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one(),
    }


def gap_square(conn, side: float = 0.002):
    """A square inside the town and clear of every village."""
    wkt = conn.execute(
        text(
            "SELECT ST_AsText(ST_PointOnSurface(ST_Buffer(ST_Difference(t.geom,"
            " (SELECT ST_Union(geom) FROM village)), -0.003))) FROM town t ORDER BY t.code LIMIT 1"
        )
    ).scalar_one()
    p = shapely.from_wkt(wkt)
    return box(p.x - side / 2, p.y - side / 2, p.x + side / 2, p.y + side / 2)


def test_admin_draws_a_village(signed_in, demo_app_connection):
    conn = demo_app_connection
    town = conn.execute(text("SELECT code FROM town ORDER BY code LIMIT 1")).scalar_one()
    highest = conn.execute(
        text("SELECT max(substr(code, 11, 2)::int) FROM village WHERE code LIKE :t"),
        {"t": town + "2__"},
    ).scalar_one()
    expected = f"{town}2{highest + 1:02d}"
    sq = gap_square(conn)
    r = send(signed_in("admin"), "POST", "/api/boundaries/village",
             {"geometry": mapping(sq), "name": "新建试验村"})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    props = r.get_json()["feature"]["properties"]
    assert props["code"] == expected
    assert props["name"] == "新建试验村"
    assert props["version"] == 1
    village = shapely.from_wkt(
        conn.execute(
            text("SELECT ST_AsText(geom) FROM village WHERE code = :c"), {"c": expected}
        ).scalar_one()
    )
    assert village.symmetric_difference(sq).area < sq.area * 1e-6
    grid = conn.execute(
        text(
            "SELECT g.level, g.name, ST_Equals(g.geom, v.geom) FROM grid g"
            " JOIN village v ON v.id = g.village_id WHERE g.code = :c AND g.valid_to IS NULL"
        ),
        {"c": expected + "0000"},
    ).one()
    assert tuple(grid) == (1, "新建试验村网格", True)
    entry = conn.execute(
        text(
            "SELECT actor_name, detail FROM audit_log WHERE action = 'boundary.create'"
            " AND object_type = 'village' AND object_id = :c"
        ),
        {"c": expected},
    ).one()
    assert entry.actor_name == "admin"
    assert entry.detail["grid"] == expected + "0000"
    listed = signed_in("admin").get("/api/boundaries?kind=village").get_json()["features"]
    assert expected in {f["properties"]["code"] for f in listed}


def test_refused_villages_store_nothing(signed_in, demo_app_connection):
    conn = demo_app_connection
    before = stored(conn)
    admin = signed_in("admin")
    edge = shapely.from_wkt(
        conn.execute(
            text("SELECT ST_AsText(ST_PointOnSurface(ST_Boundary(geom))) FROM village"
                 " ORDER BY code LIMIT 1")
        ).scalar_one()
    )  # fmt: skip
    straddling = box(edge.x - 0.001, edge.y - 0.001, edge.x + 0.001, edge.y + 0.001)
    r = send(admin, "POST", "/api/boundaries/village", {"geometry": mapping(straddling)})
    assert r.status_code == 422
    assert r.get_json()["reason"] == "overlap"
    assert "重叠" in r.get_json()["message"]
    far = box(100.0, 30.0, 100.002, 30.002)  # in China, in no town of ours
    r = send(admin, "POST", "/api/boundaries/village", {"geometry": mapping(far)})
    assert r.status_code == 422
    assert r.get_json()["reason"] == "outside_parent"
    sq = gap_square(conn)
    r = send(admin, "POST", "/api/boundaries/village",
             {"geometry": mapping(sq), "kind": "city"})  # fmt: skip
    assert r.status_code == 400
    for user in ("officer", "police_a", "cadre_a", "lane_captain", "resident"):
        r = send(signed_in(user), "POST", "/api/boundaries/village", {"geometry": mapping(sq)})
        assert r.status_code == 403, user
        assert " / " in r.get_json()["message"]
    assert stored(conn) == before
