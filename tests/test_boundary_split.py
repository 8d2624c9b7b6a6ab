"""Splitting a grid along a drawn line: the API on the demo town, and the pure cut."""

from __future__ import annotations

import math

import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, box, mapping
from sqlalchemy import text

from layers.boundaries.ingress import ShapeRefused
from layers.boundaries.splitting import cut

GRID3 = "1309991002010302"  # officer's village (130999100201), level 3
PARENT2 = "1309991002010300"
NEXT3 = "1309991002010303"  # the next free code under PARENT2 (never used)
OTHER_VILLAGE3 = "1309991002020101"
LEVEL1 = "1309991002010000"


def send(client, method: str, url: str, body=None):
    return client.open(url, method=method, json=body, headers={"X-CSRF-Token": client.csrf})


def shape_of(conn, code: str):
    wkt = conn.execute(
        text("SELECT ST_AsText(geom) FROM grid WHERE code = :c AND valid_to IS NULL"), {"c": code}
    ).scalar_one()
    return shapely.from_wkt(wkt)


def version_of(conn, code: str) -> int:
    return conn.execute(
        text("SELECT version FROM grid WHERE code = :c AND valid_to IS NULL"), {"c": code}
    ).scalar_one()


def across(shape, *, at: float = 0.5) -> dict:
    """A north–south line through ``shape`` at fraction ``at`` of its width, ends outside."""
    x0, y0, x1, y1 = shape.bounds
    x = x0 + (x1 - x0) * at
    return mapping(LineString([(x, y0 - 0.001), (x, y1 + 0.001)]))


def see_all(conn) -> None:
    """Row-level security as for the whole town (each request leaves its user's scope set)."""
    conn.execute(text("SELECT set_config('wangge.household_all', 'on', true)"))
    conn.execute(text("SELECT set_config('wangge.incident_all', 'on', true)"))


def stored(conn) -> dict:
    """Everything a refused split must leave as it was."""
    see_all(conn)
    return {
        "grids": conn.execute(
            text(
                "SELECT code, version, valid_to, md5(ST_AsBinary(geom)) FROM grid"
                " WHERE village_id = (SELECT id FROM village WHERE code = '130999100201')"
                " ORDER BY code, id"
            )
        ).all(),
        "households": conn.execute(
            text("SELECT md5(string_agg(id || ':' || grid_id, ',' ORDER BY id)) FROM household")
        ).scalar_one(),
        "audit": conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one(),
    }


def households_in(conn, code: str) -> int:
    see_all(conn)
    return conn.execute(
        text(
            "SELECT count(*) FROM household h JOIN grid g ON g.id = h.grid_id"
            " WHERE g.code = :c AND g.valid_to IS NULL"
        ),
        {"c": code},
    ).scalar_one()


# --- the pure cut ---------------------------------------------------------------------


def test_cut_makes_two_parts_sharing_the_cut_edge():
    square = MultiPolygon([box(116.0, 38.0, 116.002, 38.002)])
    a, b = cut(square, LineString([(116.001, 37.999), (116.001, 38.003)]))
    assert a.union(b).symmetric_difference(square).area < 1e-14
    assert a.intersection(b).area == 0
    assert a.boundary.intersection(b.boundary).length == pytest.approx(0.002)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ([(116.001, 37.999), (116.001, 38.001)], "not_crossing"),  # stops inside
        ([(116.003, 37.999), (116.003, 38.003)], "not_crossing"),  # misses
        ([(116.00001, 37.999), (116.00001, 38.003)], "sliver"),  # a 0.9 m strip
        (
            [(115.999, 38.0015), (116.003, 38.0015), (116.003, 38.0005), (115.999, 38.0005)],
            "too_many_parts",
        ),
    ],
)
def test_cut_refusals_say_where(line, reason):
    square = MultiPolygon([box(116.0, 38.0, 116.002, 38.002)])
    with pytest.raises(ShapeRefused) as caught:
        cut(square, LineString(line))
    assert caught.value.reason == reason
    assert " / " in caught.value.message
    assert caught.value.where is not None


def test_untouched_parts_go_to_the_nearest_piece():
    two = MultiPolygon([box(116.0, 38.0, 116.002, 38.002), box(116.003, 38.0, 116.004, 38.002)])
    a, b = cut(two, LineString([(116.001, 37.999), (116.001, 38.003)]))
    east = a if a.bounds[2] > b.bounds[2] else b
    assert len(east.geoms) == 2  # the far square went with the eastern half


# --- the API --------------------------------------------------------------------------


def test_preview_counts_both_parts_and_writes_nothing(signed_in, demo_app_connection):
    conn = demo_app_connection
    before = stored(conn)
    shape = shape_of(conn, GRID3)
    r = send(
        signed_in("officer"), "POST", f"/api/boundaries/grid/{GRID3}/split",
        {"version": version_of(conn, GRID3), "line": across(shape), "preview": True},
    )  # fmt: skip
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["preview"] is True
    assert body["rule"] == [30, 150]
    keep, new = body["parts"]
    assert keep["keeps_code"]
    assert not new["keeps_code"]
    assert keep["feature"]["properties"]["code"] == GRID3
    assert new["feature"]["properties"]["code"] == NEXT3 == body["new_code"]
    assert keep["households"] + new["households"] == households_in(conn, GRID3)
    assert keep["households"] >= new["households"]  # the bigger half keeps the code
    for part in (keep, new):
        assert part["within"] == (30 <= part["households"] <= 150)
    assert stored(conn) == before


def test_split_stores_two_grids_reassigns_and_audits(signed_in, demo_app_connection):
    conn = demo_app_connection
    shape = shape_of(conn, GRID3)
    version = version_of(conn, GRID3)
    total = households_in(conn, GRID3)
    r = send(
        signed_in("officer"), "POST", f"/api/boundaries/grid/{GRID3}/split",
        {"version": version, "line": across(shape, at=0.4), "name": "新分出的网格"},
    )  # fmt: skip
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    keep, new = body["parts"]
    assert keep["feature"]["properties"]["version"] == version + 1
    assert new["feature"]["properties"] | {"id": None} == {
        "kind": "grid", "id": None, "code": NEXT3, "name": "新分出的网格", "level": 3,
        "version": 1,
    }  # fmt: skip
    # The two stored grids cover the old one exactly and do not overlap.
    a, b = shape_of(conn, GRID3), shape_of(conn, NEXT3)
    assert a.union(b).symmetric_difference(shape).area < shape.area * 1e-9
    assert a.intersection(b).area < shape.area * 1e-9
    row = conn.execute(
        text("SELECT parent_id, village_id FROM grid WHERE code = :c AND valid_to IS NULL"),
        {"c": NEXT3},
    ).one()
    parent = conn.execute(
        text("SELECT parent_id, village_id FROM grid WHERE code = :c"), {"c": GRID3}
    ).one()
    assert tuple(row) == tuple(parent)  # a sibling
    # Every household of the old grid now points at the part it lies in.
    assert households_in(conn, GRID3) == keep["households"]
    assert households_in(conn, NEXT3) == new["households"]
    assert keep["households"] + new["households"] == total
    see_all(conn)
    misplaced = conn.execute(
        text(
            "SELECT count(*) FROM household h JOIN grid g ON g.id = h.grid_id"
            " WHERE g.code IN (:a, :b) AND NOT ST_Intersects(g.geom, h.geom)"
        ),
        {"a": GRID3, "b": NEXT3},
    ).scalar_one()
    assert misplaced == 0
    audit = conn.execute(
        text(
            "SELECT object_id, actor_name, detail FROM audit_log WHERE action = 'boundary.split'"
            " ORDER BY id"
        )
    ).all()
    assert [a.object_id for a in audit] == [GRID3, NEXT3]
    assert {a.actor_name for a in audit} == {"officer"}
    previous = shapely.geometry.shape(audit[0].detail["previous"])
    assert previous.symmetric_difference(shape).area < shape.area * 1e-9
    assert audit[0].detail["new_code"] == NEXT3
    assert audit[1].detail["split_from"] == GRID3

    # The version loaded before the split is stale now: 409, nothing more written.
    before = stored(conn)
    r = send(
        signed_in("officer"), "POST", f"/api/boundaries/grid/{GRID3}/split",
        {"version": version, "line": across(a)},
    )  # fmt: skip
    assert r.status_code == 409
    assert r.get_json()["current"]["properties"]["version"] == version + 1
    assert "草稿" in r.get_json()["message"]
    assert stored(conn) == before


def _refusal_lines(shape) -> dict[str, dict]:
    x0, y0, x1, y1 = shape.bounds
    cx, cy = shape.centroid.x, shape.centroid.y
    h = (y1 - y0) / 6
    return {
        "not_crossing": mapping(LineString([(cx, y0 - 0.001), (cx, cy)])),
        "sliver": across(shape, at=0.0) | {"coordinates": [[x0 + 1e-5, y0 - 0.001],
                                                          [x0 + 1e-5, y1 + 0.001]]},
        "too_many_parts": mapping(
            LineString([(x0 - 0.001, cy + h), (x1 + 0.001, cy + h),
                        (x1 + 0.001, cy - h), (x0 - 0.001, cy - h)])
        ),
        "self_crossing": {"type": "LineString", "coordinates": [
            [x0 - 0.001, y0 - 0.001], [x1 + 0.001, y1 + 0.001],
            [x1 + 0.001, y0 - 0.001], [x0 - 0.001, y1 + 0.001]]},
        "type": {"type": "Point", "coordinates": [cx, cy]},
    }  # fmt: skip


@pytest.mark.parametrize("reason", ["not_crossing", "sliver", "too_many_parts", "self_crossing",
                                    "type"])  # fmt: skip
def test_refused_splits_change_nothing(signed_in, demo_app_connection, reason):
    conn = demo_app_connection
    before = stored(conn)
    line = _refusal_lines(shape_of(conn, GRID3))[reason]
    for preview in (True, False):
        r = send(
            signed_in("officer"), "POST", f"/api/boundaries/grid/{GRID3}/split",
            {"version": version_of(conn, GRID3), "line": line, "preview": preview},
        )  # fmt: skip
        assert r.status_code == 422, r.get_json()
        body = r.get_json()
        assert body["reason"] == reason
        assert " / " in body["message"]  # Chinese, then English
    assert stored(conn) == before


def test_level2_split_may_not_cut_children(signed_in, demo_app_connection):
    conn = demo_app_connection
    before = stored(conn)
    r = send(
        signed_in("officer"), "POST", f"/api/boundaries/grid/{PARENT2}/split",
        {"version": version_of(conn, PARENT2), "line": across(shape_of(conn, PARENT2))},
    )  # fmt: skip
    assert r.status_code == 422
    assert r.get_json()["reason"] == "child_cut"
    assert "下级网格" in r.get_json()["message"]
    r = send(
        signed_in("admin"), "POST", f"/api/boundaries/grid/{LEVEL1}/split",
        {"version": version_of(conn, LEVEL1), "line": across(shape_of(conn, LEVEL1))},
    )  # fmt: skip
    assert r.status_code == 422
    assert r.get_json()["reason"] == "not_splittable"
    assert stored(conn) == before


def test_split_access(signed_in, demo_app_connection):
    conn = demo_app_connection
    before = stored(conn)
    other = shape_of(conn, OTHER_VILLAGE3)
    body = {"version": version_of(conn, OTHER_VILLAGE3), "line": across(other)}
    url = f"/api/boundaries/grid/{OTHER_VILLAGE3}/split"
    assert send(signed_in("officer"), "POST", url, body).status_code == 403  # another village
    for user in ("police_a", "cadre_a", "worker_a", "lane_captain", "resident", "patrol"):
        r = send(signed_in(user), "POST", f"/api/boundaries/grid/{GRID3}/split", body)
        assert r.status_code == 403, user
        assert " / " in r.get_json()["message"]
    r = send(signed_in("officer"), "POST", "/api/boundaries/grid/1309991099990101/split", body)
    assert r.status_code == 404
    r = send(signed_in("officer"), "POST", "/api/boundaries/village/130999100201/split", body)
    assert r.status_code == 403  # village outlines are the town's
    r = send(signed_in("officer"), "POST", "/api/boundaries/lake/1/split", body)
    assert r.status_code == 404
    r = signed_in("officer").post(f"/api/boundaries/grid/{GRID3}/split", json=body)
    assert r.status_code == 400  # no CSRF header
    r = send(signed_in("officer"), "POST", f"/api/boundaries/grid/{GRID3}/split", {"line": 1})
    assert r.status_code == 400  # no version
    assert stored(conn) == before
    # The town administrator may split anywhere.
    r = send(signed_in("admin"), "POST", url, body)
    assert r.status_code == 201, r.get_json()


def _shared_edge_line(conn, a: str, b: str, parent: str) -> dict:
    """The edge grids ``a`` and ``b`` share, extended 20 m beyond ``parent`` at both ends."""
    ga, gb, gp = shape_of(conn, a), shape_of(conn, b), shape_of(conn, parent)
    edge = shapely.line_merge(ga.boundary.intersection(gb.buffer(1e-7)))
    assert edge.geom_type == "LineString"
    coords = list(edge.coords)

    def out(p, q):  # q pushed 20 m further along p → q
        kx = 111_320 * math.cos(math.radians(q[1]))
        dx, dy = (q[0] - p[0]) * kx, (q[1] - p[1]) * 110_574
        n = math.hypot(dx, dy)
        return (q[0] + dx / n * 20 / kx, q[1] + dy / n * 20 / 110_574)

    line = LineString([out(coords[1], coords[0]), *coords, out(coords[-2], coords[-1])])
    assert not gp.contains(shapely.Point(line.coords[0]))
    assert not gp.contains(shapely.Point(line.coords[-1]))
    return mapping(line)


def test_level2_split_moves_the_children_of_the_new_side(signed_in, demo_app_connection):
    conn = demo_app_connection
    see_all(conn)
    children = dict(
        conn.execute(
            text("SELECT code, id FROM grid WHERE parent_id = (SELECT id FROM grid"
                 " WHERE code = :c) AND valid_to IS NULL ORDER BY code"), {"c": PARENT2},
        ).all()
    )  # fmt: skip
    assert list(children) == [PARENT2[:14] + "01", GRID3]
    counts = {c: households_in(conn, c) for c in children}
    incidents = dict(
        conn.execute(
            text("SELECT grid_id, count(*) FROM incident WHERE grid_id = ANY(:g) GROUP BY 1"),
            {"g": list(children.values())},
        ).all()
    )
    line = _shared_edge_line(conn, PARENT2[:14] + "01", GRID3, PARENT2)
    version = version_of(conn, PARENT2)
    body = {"version": version, "line": line}
    r = send(signed_in("officer"), "POST", f"/api/boundaries/grid/{PARENT2}/split",
             body | {"preview": True})  # fmt: skip
    assert r.status_code == 200, r.get_json()
    preview = r.get_json()
    new_parent = "1309991002010400"  # the level-2 grids of the village run 01..03
    assert preview["new_code"] == new_parent
    # The child with fewer households leaves with the new grid.
    stays, leaves = sorted(children, key=lambda c: -counts[c])
    assert preview["recoded"] == [
        {"code": leaves, "new_code": new_parent[:14] + "01", "level": 3,
         "name": "后潘庄村第4-1网格"},
    ]  # fmt: skip
    keep, new = preview["parts"]
    assert keep["households"] == counts[stays]
    assert new["households"] == counts[leaves]

    r = send(signed_in("officer"), "POST", f"/api/boundaries/grid/{PARENT2}/split", body)
    assert r.status_code == 201, r.get_json()
    see_all(conn)
    rows = {
        code: (gid, parent, level)
        for code, gid, parent, level in conn.execute(
            text("SELECT code, id, parent_id, level FROM grid WHERE valid_to IS NULL"
                 " AND code LIKE '13099910020103%' OR code LIKE '13099910020104%'"),
        )
    }  # fmt: skip
    parent_id, new_parent_id = rows[PARENT2][0], rows[new_parent][0]
    assert rows[stays] == (children[stays], parent_id, 3)
    assert rows[new_parent[:14] + "01"] == (children[leaves], new_parent_id, 3)
    assert leaves not in rows  # recoded, same row
    # Households, incidents and the team stay with the moved grid (same id).
    assert households_in(conn, new_parent[:14] + "01") == counts[leaves]
    assert households_in(conn, stays) == counts[stays]
    after = dict(
        conn.execute(
            text("SELECT grid_id, count(*) FROM incident WHERE grid_id = ANY(:g) GROUP BY 1"),
            {"g": list(children.values())},
        ).all()
    )
    assert after == incidents
    assert sum(after.values()) > 0
    # Each parent holds its children.
    for child, parent in ((stays, PARENT2), (new_parent[:14] + "01", new_parent)):
        c, p = shape_of(conn, child), shape_of(conn, parent)
        m2 = c.difference(p).area * 111_320 * math.cos(math.radians(c.centroid.y)) * 110_574
        assert m2 < 1.0  # the demo's grids fit to ~0.1 m²
    recode = conn.execute(
        text("SELECT object_id, actor_name, detail FROM audit_log WHERE action = 'boundary.recode'")
    ).one()
    assert recode.object_id == new_parent[:14] + "01"
    assert recode.actor_name == "officer"
    assert recode.detail["previous_code"] == leaves
    # The code the moved grid carried is not handed out again under the old parent.
    r = send(signed_in("officer"), "POST", f"/api/boundaries/grid/{stays}/split",
             {"version": version_of(conn, stays), "line": across(shape_of(conn, stays)),
              "preview": True})  # fmt: skip
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["new_code"] == PARENT2[:14] + "03"
