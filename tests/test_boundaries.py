"""The boundary editor's API on the demo town: validation, access, versions, audit, recount."""

from __future__ import annotations

import json

import pytest
import shapely
from shapely.geometry import mapping
from sqlalchemy import text

from layers.boundaries.ingress import ShapeRefused, parse_polygon

VILLAGE_GRID3 = "1309991002010302"  # officer's village (130999100201), level 3
SIBLING3 = "1309991002010301"
PARENT2 = "1309991002010300"
OTHER_VILLAGE3 = "1309991002020101"


def shape_of(conn, code: str):
    wkt = conn.execute(
        text("SELECT ST_AsText(geom) FROM grid WHERE code = :c AND valid_to IS NULL"), {"c": code}
    ).scalar_one()
    return shapely.from_wkt(wkt)


def version_of(conn, code: str) -> int:
    return conn.execute(
        text("SELECT version FROM grid WHERE code = :c AND valid_to IS NULL"), {"c": code}
    ).scalar_one()


def polygon(geom) -> dict:
    """The first part as a GeoJSON Polygon, as Leaflet.draw sends it."""
    part = geom.geoms[0] if hasattr(geom, "geoms") else geom
    return mapping(part)


def square(lon: float, lat: float, d: float = 0.0002) -> dict:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def send(client, method: str, url: str, body=None, **kw):
    return client.open(
        url,
        method=method,
        json=body,
        headers={"X-CSRF-Token": client.csrf},
        **kw,
    )


# --- ingress, no database ------------------------------------------------------------


@pytest.mark.parametrize(
    ("geometry", "srid", "reason", "words"),
    [
        ({"type": "GeometryCollection", "geometries": []}, None, "type", "GeometryCollection"),
        ({"type": "Point", "coordinates": [116.1, 38.2]}, None, "type", "多边形"),
        (square(116.1, 38.2), 3857, "srid", "EPSG:3857"),
        (square(38.2, 116.1), None, "range", "颠倒"),
        (
            {"type": "Polygon", "coordinates": [[[116.1, 38.2], [116.2, 38.2], [116.2, 38.3]]]},
            None,
            "",
            "4 个点",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[116.1, 38.2], [116.2, 38.2], [116.2, 38.3], [116.1, 38.3]]],
            },
            None,
            "",
            "未闭合",
        ),
    ],
)
def test_ingress_refuses_clearly(geometry, srid, reason, words):
    with pytest.raises(ShapeRefused) as caught:
        parse_polygon(geometry, srid)
    assert words in caught.value.message
    assert " / " in caught.value.message  # bilingual
    if reason:
        assert caught.value.reason == reason


def test_self_intersection_says_where():
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[116.0, 38.0], [116.1, 38.1], [116.1, 38.0], [116.0, 38.1], [116.0, 38.0]]
        ],
    }
    with pytest.raises(ShapeRefused) as caught:
        parse_polygon(bowtie)
    assert "自相交" in caught.value.message
    assert caught.value.where == pytest.approx((116.05, 38.05))


def test_crs_member_must_be_cgcs2000_or_wgs84():
    g = square(116.1, 38.2) | {"crs": {"type": "name", "properties": {"name": "EPSG:4490"}}}
    assert parse_polygon(g).area > 0
    g["crs"]["properties"]["name"] = "EPSG:3857"
    with pytest.raises(ShapeRefused, match="EPSG:3857"):
        parse_polygon(g)


# --- the API --------------------------------------------------------------------------


def test_editor_lists_only_his_grids(signed_in):
    data = signed_in("officer").get("/api/boundaries?kind=grid&level=3").get_json()
    codes = {f["properties"]["code"] for f in data["features"]}
    assert VILLAGE_GRID3 in codes
    assert all(c.startswith("130999100201") for c in codes)
    assert signed_in("officer").get("/api/boundaries?kind=village").get_json()["features"] == []


def test_reshape_bumps_version_audits_and_recounts(signed_in, demo_app_connection):
    client = signed_in("officer")
    conn = demo_app_connection
    before = version_of(conn, VILLAGE_GRID3)
    # Pull the grid in by 5 m: the households along its edge leave it.
    smaller = shape_of(conn, VILLAGE_GRID3).buffer(-0.00005)
    r = send(
        client, "PUT", f"/api/boundaries/grid/{VILLAGE_GRID3}",
        {"version": before, "geometry": polygon(smaller)},
    )  # fmt: skip
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["feature"]["properties"]["version"] == before + 1
    assert body["rule"] == [30, 150]
    inside = conn.execute(
        text(
            "SELECT count(*) FROM household h JOIN grid g ON g.id = h.grid_id"
            " WHERE g.code = :c AND g.valid_to IS NULL"
        ),
        {"c": VILLAGE_GRID3},
    ).scalar_one()
    assert inside == body["households"]  # household.grid_id follows the new shape
    entry = conn.execute(
        text(
            "SELECT actor_name, detail FROM audit_log WHERE action = 'boundary.update'"
            " AND object_id = :c ORDER BY id DESC LIMIT 1"
        ),
        {"c": VILLAGE_GRID3},
    ).one()
    assert entry.actor_name == "officer"
    assert entry.detail["previous"]["type"] == "MultiPolygon"

    # A second save on the version loaded before: 409 with the current boundary.
    r = send(
        client, "PUT", f"/api/boundaries/grid/{VILLAGE_GRID3}",
        {"version": before, "geometry": polygon(smaller.buffer(-0.00001))},
    )  # fmt: skip
    assert r.status_code == 409
    body = r.get_json()
    assert body["current"]["properties"]["version"] == before + 1
    assert body["edited_by"] == "officer"
    assert "草稿" in body["message"]
    assert version_of(conn, VILLAGE_GRID3) == before + 1  # nothing written


def test_overlap_with_sibling_is_refused_where_it_happens(signed_in, demo_app_connection):
    conn = demo_app_connection
    grown = shape_of(conn, VILLAGE_GRID3).union(shape_of(conn, SIBLING3).buffer(-0.0001))
    grown = grown.intersection(shape_of(conn, PARENT2))
    r = send(
        signed_in("officer"), "PUT", f"/api/boundaries/grid/{VILLAGE_GRID3}",
        {"version": version_of(conn, VILLAGE_GRID3), "geometry": mapping(grown)},
    )  # fmt: skip
    assert r.status_code == 422
    body = r.get_json()
    assert body["reason"] == "overlap"
    assert "重叠" in body["message"]
    assert SIBLING3 in body["message"]
    assert shape_of(conn, SIBLING3).buffer(0.00001).contains(shapely.Point(body["where"]))


def test_outside_parent_and_children_outside_are_refused(signed_in, demo_app_connection):
    conn = demo_app_connection
    client = signed_in("officer")
    moved = shapely.affinity.translate(shape_of(conn, VILLAGE_GRID3), xoff=0.01)
    r = send(
        client, "PUT", f"/api/boundaries/grid/{VILLAGE_GRID3}",
        {"version": version_of(conn, VILLAGE_GRID3), "geometry": mapping(moved)},
    )  # fmt: skip
    assert r.status_code == 422
    assert r.get_json()["reason"] == "outside_parent"
    shrunk = shape_of(conn, PARENT2).buffer(-0.0002)
    r = send(
        client, "PUT", f"/api/boundaries/grid/{PARENT2}",
        {"version": version_of(conn, PARENT2), "geometry": mapping(shrunk)},
    )  # fmt: skip
    assert r.status_code == 422
    assert r.get_json()["reason"] == "child_outside"


def test_delete_then_draw_in_the_gap(signed_in, demo_app_connection):
    conn = demo_app_connection
    client = signed_in("officer")
    gap = shape_of(conn, VILLAGE_GRID3)
    r = send(
        client,
        "DELETE",
        f"/api/boundaries/grid/{VILLAGE_GRID3}?version={version_of(conn, VILLAGE_GRID3)}",
    )
    assert r.status_code == 200, r.get_json()
    # It has incidents, so it is retired (history), not deleted.
    retired = conn.execute(
        text("SELECT valid_to IS NOT NULL FROM grid WHERE code = :c"), {"c": VILLAGE_GRID3}
    ).scalar_one()
    assert retired
    r = send(client, "POST", "/api/boundaries/grid", {"level": 3, "geometry": polygon(gap)})
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert made["feature"]["properties"]["code"] == "1309991002010303"  # codes never reused
    assert made["feature"]["properties"]["version"] == 1
    assert made["households"] > 0
    # The parent must first lose its children before it can go.
    r = send(client, "DELETE", f"/api/boundaries/grid/{PARENT2}?version=1")
    assert r.status_code == 400
    assert "下级网格" in r.get_json()["message"]


def test_count_while_drawing(signed_in, demo_app_connection):
    gap = shape_of(demo_app_connection, VILLAGE_GRID3)
    r = send(
        signed_in("officer"), "POST", "/api/boundaries/count",
        {"kind": "grid", "level": 3, "geometry": polygon(gap)},
    )  # fmt: skip
    body = r.get_json()
    assert body["households"] > 0
    assert body["rule"] == [30, 150]
    assert body["problem"]
    assert "重叠" in body["problem"]  # it is where 010302 already is


def test_access(signed_in, demo_app_connection):
    conn = demo_app_connection
    other = shape_of(conn, OTHER_VILLAGE3)
    body = {"version": version_of(conn, OTHER_VILLAGE3), "geometry": polygon(other)}
    assert send(signed_in("officer"), "PUT", f"/api/boundaries/grid/{OTHER_VILLAGE3}", body)
    r = send(signed_in("officer"), "PUT", f"/api/boundaries/grid/{OTHER_VILLAGE3}", body)
    assert r.status_code == 403
    r = send(signed_in("police_a"), "POST", "/api/boundaries/grid", {"level": 3})
    assert r.status_code == 403
    r = send(signed_in("officer"), "PUT", "/api/boundaries/village/130999100201", body)
    assert r.status_code == 403  # village outlines are the town's
    r = send(signed_in("officer"), "PUT", "/api/boundaries/grid/0000000000", body)
    assert r.status_code == 404
    # No CSRF header: refused before anything else.
    r = signed_in("officer").put(f"/api/boundaries/grid/{OTHER_VILLAGE3}", json=body)
    assert r.status_code == 400
    assert r.get_json()["error"] == "csrf"


def test_town_admin_reshapes_a_village(signed_in, demo_app_connection):
    conn = demo_app_connection
    code = "130999100201"
    row = conn.execute(
        text("SELECT version, ST_AsText(geom) FROM village WHERE code = :c"), {"c": code}
    ).one()
    same = shapely.from_wkt(row[1])
    r = send(
        signed_in("admin"), "PUT", f"/api/boundaries/village/{code}",
        {"version": row[0], "geometry": mapping(same), "name": "后潘庄村"},
    )  # fmt: skip
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["feature"]["properties"]["version"] == row[0] + 1


def test_bad_bodies_are_4xx(signed_in):
    client = signed_in("officer")
    r = client.post(
        "/api/boundaries/grid",
        data="[" * 10_000,
        content_type="application/json",
        headers={"X-CSRF-Token": client.csrf},
    )
    assert r.status_code == 400
    r = send(client, "POST", "/api/boundaries/grid", {"level": 7, "geometry": square(116, 38)})
    assert r.status_code == 400
    r = send(client, "POST", "/api/boundaries/grid", [1, 2])
    assert r.status_code == 400
    r = send(client, "PUT", f"/api/boundaries/grid/{VILLAGE_GRID3}", {"geometry": None})
    assert r.status_code == 400
    assert "version" in json.dumps(r.get_json())
