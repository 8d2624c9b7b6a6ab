"""Streets and lanes as lines in the editor's API: snapping, staying inside the village,
keeping the network in one piece, versions, audit, access."""

from __future__ import annotations

import math

import pytest
import shapely
from shapely.geometry import LineString
from shapely.ops import nearest_points
from sqlalchemy import text

from layers.boundaries.ingress import ShapeRefused, parse_line
from layers.boundaries.lines import snap_ends

VILLAGE = "130999100201"  # the officer's village
OTHER = "130999100202"
M_LAT = 1 / 110_574  # one metre north, in degrees


def send(client, method: str, url: str, body=None):
    return client.open(url, method=method, json=body, headers={"X-CSRF-Token": client.csrf})


def see_all(conn) -> None:
    conn.execute(text("SELECT set_config('wangge.household_all', 'on', true)"))


def stored(conn) -> dict:
    """Everything a refused edit must leave as it was."""
    see_all(conn)
    return {
        "lines": conn.execute(
            text(
                "SELECT 's', id, name, version, md5(ST_AsBinary(geom)) FROM street UNION ALL"
                " SELECT 'l', id, name, version, md5(coalesce(ST_AsBinary(geom), '')) FROM lane"
                " ORDER BY 1, 2"
            )
        ).all(),
        "households": conn.execute(
            text("SELECT md5(string_agg(id || ':' || lane_id, ',' ORDER BY id)) FROM household")
        ).scalar_one(),
        "audit": conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one(),
    }


class Site:
    """A quiet spot in the officer's village: ``q`` is > 17 m from every street and lane,
    ``n`` the nearest point of the network to it; ``u`` the unit vector from n to q, ``p`` a
    perpendicular one (both in degrees per metre)."""

    def __init__(self, conn) -> None:
        village, lines = conn.execute(
            text(
                "SELECT ST_AsText(v.geom), (SELECT ST_AsText(ST_Union(geom)) FROM ("
                " SELECT geom FROM street WHERE village_id = v.id UNION ALL"
                " SELECT geom FROM lane WHERE village_id = v.id AND geom IS NOT NULL) x)"
                " FROM village v WHERE v.code = :c"
            ),
            {"c": VILLAGE},
        ).one()
        self.village = shapely.from_wkt(village)
        self.lines = shapely.from_wkt(lines)
        self.kx = 1 / (111_320 * math.cos(math.radians(self.village.centroid.y)))
        free = self.village.buffer(-0.0002).difference(self.lines.buffer(0.0002))
        assert not free.is_empty, "the demo village has no quiet spot"
        q = free.representative_point()
        n = nearest_points(self.lines, q)[0]
        dx, dy = (q.x - n.x) / self.kx, (q.y - n.y) / M_LAT  # metres
        length = math.hypot(dx, dy)
        self.q, self.n = (q.x, q.y), (n.x, n.y)
        self.u = (dx / length * self.kx, dy / length * M_LAT)
        self.p = (-dy / length * self.kx, dx / length * M_LAT)

    def at(self, origin, along: float = 0.0, across: float = 0.0) -> list[float]:
        """``origin`` moved ``along`` metres from the network and ``across`` metres sideways."""
        return [
            origin[0] + self.u[0] * along + self.p[0] * across,
            origin[1] + self.u[1] * along + self.p[1] * across,
        ]


def line(*points) -> dict:
    return {"type": "LineString", "coordinates": [list(p) for p in points]}


def version_of(conn, kind: str, ident: int) -> int:
    return conn.execute(
        text(f"SELECT version FROM {kind} WHERE id = :i"), {"i": ident}
    ).scalar_one()


def geom_of(conn, kind: str, ident: int):
    wkt = conn.execute(
        text(f"SELECT ST_AsText(geom) FROM {kind} WHERE id = :i"), {"i": ident}
    ).scalar_one_or_none()
    return shapely.from_wkt(wkt) if wkt else None


# --- pure pieces -----------------------------------------------------------------------


def test_ends_snap_to_a_vertex_first_then_to_the_line():
    street = LineString([(116.0, 38.0), (116.001, 38.0)])
    near_vertex = parse_line(line((116.001, 38.0 + 1.5 * M_LAT), (116.001, 38.001)))
    assert snap_ends(near_vertex, [street]).geoms[0].coords[0] == (116.001, 38.0)
    near_edge = parse_line(line((116.0005, 38.0 + M_LAT), (116.0005, 38.001)))
    assert snap_ends(near_edge, [street]).geoms[0].coords[0] == pytest.approx((116.0005, 38.0))
    far = parse_line(line((116.0005, 38.0 + 3 * M_LAT), (116.0005, 38.001)))
    assert snap_ends(far, [street]) == far  # 3 m: left as drawn


def test_a_line_that_crosses_itself_is_refused_where():
    with pytest.raises(ShapeRefused) as caught:
        parse_line(line((116.0, 38.0), (116.1, 38.1), (116.1, 38.0), (116.0, 38.1)))
    assert caught.value.reason == "self_crossing"
    assert caught.value.where == pytest.approx((116.05, 38.05))


# --- the API --------------------------------------------------------------------------


def test_lane_life_cycle(signed_in, demo_app_connection):
    conn = demo_app_connection
    site = Site(conn)
    officer = signed_in("officer")

    # A: from a metre off the network out to the quiet spot; its start snaps on.
    r = send(officer, "POST", "/api/boundaries/lane",
             {"geometry": line(site.at(site.n, along=1), site.q), "name": "试验巷"})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    a = r.get_json()["feature"]
    assert a["properties"]["name"] == "试验巷"
    assert a["properties"]["version"] == 1
    stored_a = geom_of(conn, "lane", a["properties"]["id"])
    assert stored_a.geoms[0].distance(site.lines) < 1e-9  # really on the network now
    assert shapely.Point(stored_a.geoms[0].coords[0]).distance(site.lines) < 1e-9

    # B hangs on A's far end only (drawn 1 m beside it: snapped to A's vertex).
    r = send(officer, "POST", "/api/boundaries/lane",
             {"geometry": line(site.at(site.q, across=1), site.at(site.q, along=8))})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    b = r.get_json()["feature"]
    assert geom_of(conn, "lane", b["properties"]["id"]).geoms[0].coords[0] == pytest.approx(
        site.q, abs=1e-12
    )

    before = stored(conn)
    # C touches nothing: refused, where it starts.
    far = site.at(site.q, across=10)
    r = send(officer, "POST", "/api/boundaries/lane",
             {"geometry": line(far, site.at(far, along=5))})  # fmt: skip
    assert r.status_code == 422
    assert r.get_json()["reason"] == "disconnected"
    assert r.get_json()["where"] == pytest.approx(far)
    # Deleting A would leave B on its own.
    url_a = f"/api/boundaries/lane/{a['properties']['id']}"
    r = send(officer, "DELETE", f"{url_a}?version={a['properties']['version']}")
    assert r.status_code == 422
    assert r.get_json()["reason"] == "disconnected"
    # So would pulling A off the network.
    r = send(officer, "PUT", url_a, {"version": a["properties"]["version"],
             "geometry": line(site.at(site.q, across=-10), site.q)})  # fmt: skip
    assert r.status_code == 422
    assert r.get_json()["reason"] == "disconnected"
    # Out of the village.
    r = send(officer, "PUT", url_a, {"version": a["properties"]["version"],
             "geometry": line(site.n, site.q, site.at(site.q, along=3000))})  # fmt: skip
    assert r.status_code == 422
    assert r.get_json()["reason"] == "outside_parent"
    assert stored(conn) == before

    # A bend in the middle, same ends: saved, new version, audited with the old line.
    mid = site.at(((site.n[0] + site.q[0]) / 2, (site.n[1] + site.q[1]) / 2), across=5)
    r = send(officer, "PUT", url_a, {"version": a["properties"]["version"],
             "geometry": line(stored_a.geoms[0].coords[0], mid, site.q)})  # fmt: skip
    assert r.status_code == 200, r.get_json()
    a2 = r.get_json()["feature"]
    assert a2["properties"]["version"] == 2
    assert version_of(conn, "lane", a["properties"]["id"]) == 2
    previous = conn.execute(
        text(
            "SELECT detail->'previous' FROM audit_log WHERE action = 'boundary.update'"
            " AND object_type = 'lane' AND object_id = :i"
        ),
        {"i": str(a["properties"]["id"])},
    ).scalar_one()
    assert shapely.geometry.shape(previous).equals(stored_a)
    # The version loaded before that save is stale: 409 with the current line.
    before = stored(conn)
    r = send(officer, "PUT", url_a, {"version": a["properties"]["version"],
             "geometry": line(stored_a.geoms[0].coords[0], site.q)})  # fmt: skip
    assert r.status_code == 409
    assert r.get_json()["current"]["properties"]["version"] == a2["properties"]["version"]
    assert r.get_json()["edited_by"] == "officer"
    assert "第 2 版" in r.get_json()["message"]
    # A stale version cannot delete either, and a version that is no number is refused.
    r = send(officer, "DELETE", f"{url_a}?version={a['properties']['version']}")
    assert r.status_code == 409
    for bad in ("abc", "0", "", "1.5"):
        r = send(officer, "DELETE", f"{url_a}?version={bad}")
        assert r.status_code == 400, bad
        assert "version" in r.get_json()["message"]
    assert stored(conn) == before
    # A rename alone is an edit too: the version moves on.
    r = send(officer, "PUT", url_a, {"version": 2, "name": "改名巷",
             "geometry": a2["geometry"]})  # fmt: skip
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["feature"]["properties"]["version"] == 3
    assert r.get_json()["feature"]["properties"]["name"] == "改名巷"

    # B is a dead end: it may go.
    url_b = f"/api/boundaries/lane/{b['properties']['id']}"
    r = send(officer, "DELETE", f"{url_b}?version={b['properties']['version']}")
    assert r.status_code == 200, r.get_json()
    assert geom_of(conn, "lane", b["properties"]["id"]) is None
    actions = conn.execute(
        text("SELECT action FROM audit_log WHERE object_type = 'lane' ORDER BY id")
    ).scalars()
    assert list(actions) == ["boundary.create", "boundary.create", "boundary.update",
                             "boundary.update", "boundary.delete"]  # fmt: skip


def test_lines_in_use_are_not_deleted(signed_in, demo_app_connection):
    conn = demo_app_connection
    see_all(conn)
    lane_id = conn.execute(
        text(
            "SELECT l.id FROM lane l JOIN village v ON v.id = l.village_id WHERE v.code = :c"
            " AND l.geom IS NOT NULL AND EXISTS (SELECT 1 FROM household h WHERE h.lane_id = l.id)"
            " ORDER BY l.id LIMIT 1"
        ),
        {"c": VILLAGE},
    ).scalar_one()
    street_id = conn.execute(
        text(
            "SELECT s.id FROM street s JOIN village v ON v.id = s.village_id WHERE v.code = :c"
            " AND EXISTS (SELECT 1 FROM lane l WHERE l.street_id = s.id) ORDER BY s.id LIMIT 1"
        ),
        {"c": VILLAGE},
    ).scalar_one()
    officer = signed_in("officer")
    before = stored(conn)
    for kind, ident, words in (("lane", lane_id, "户"), ("street", street_id, "巷道")):
        version = officer.get(f"/api/boundaries/{kind}/{ident}").get_json()["properties"]["version"]
        r = send(officer, "DELETE", f"/api/boundaries/{kind}/{ident}?version={version}")
        assert r.status_code == 400
        assert words in r.get_json()["message"]
        assert " / " in r.get_json()["message"]
    assert stored(conn) == before


def test_line_access(signed_in, demo_app_connection):
    conn = demo_app_connection
    other_lane = conn.execute(
        text(
            "SELECT l.id FROM lane l JOIN village v ON v.id = l.village_id"
            " WHERE v.code = :c AND l.geom IS NOT NULL ORDER BY l.id LIMIT 1"
        ),
        {"c": OTHER},
    ).scalar_one()
    listed = signed_in("officer").get("/api/boundaries?kind=lane").get_json()["features"]
    assert listed
    assert {f["properties"]["village_id"] for f in listed} == {
        conn.execute(text("SELECT id FROM village WHERE code = :c"), {"c": VILLAGE}).scalar_one()
    }
    assert signed_in("police_a").get("/api/boundaries?kind=street").get_json()["features"] == []
    before = stored(conn)
    version = signed_in("admin").get(f"/api/boundaries/lane/{other_lane}").get_json()
    body = {"version": version["properties"]["version"], "geometry": version["geometry"]}
    r = send(signed_in("officer"), "PUT", f"/api/boundaries/lane/{other_lane}", body)
    assert r.status_code == 403  # another village's lane
    r = send(signed_in("officer"), "DELETE",
             f"/api/boundaries/lane/{other_lane}?version={body['version']}")  # fmt: skip
    assert r.status_code == 403
    for user in ("police_a", "worker_a", "lane_captain", "street_captain", "resident"):
        r = send(signed_in(user), "POST", "/api/boundaries/lane", {"geometry": body["geometry"]})
        assert r.status_code == 403, user
        r = send(signed_in(user), "PUT", f"/api/boundaries/lane/{other_lane}", body)
        assert r.status_code == 403, user
    # A line drawn in another village by the officer: refused as outside his areas.
    r = send(signed_in("officer"), "POST", "/api/boundaries/street", {"geometry": body["geometry"]})
    assert r.status_code == 403
    for url in ("/api/boundaries/lane/99999999", "/api/boundaries/lane/abc",
                "/api/boundaries/alley/1"):  # fmt: skip
        assert send(signed_in("officer"), "PUT", url, body).status_code == 404
    r = send(signed_in("officer"), "PUT", f"/api/boundaries/lane/{other_lane}", {"geometry": 1})
    assert r.status_code == 403  # access is checked before the body
    r = send(signed_in("officer"), "PUT", f"/api/boundaries/lane/{listed[0]['id'][5:]}",
             {"geometry": listed[0]["geometry"]})  # fmt: skip
    assert r.status_code == 400  # his own lane, but no version
    assert "version" in r.get_json()["message"]
    assert stored(conn) == before
