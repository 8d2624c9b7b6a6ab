"""Hotspot runs and patrol routes on the demo township: stored, exported, checked, guarded."""

from __future__ import annotations

import io
from datetime import date

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.demo import generate
from layers.errors import Invalid
from layers.hotspots.runs import run_features, run_hotspots
from layers.patrol.gpx import read_gpx, write_gpx
from layers.patrol.service import check_walk, plan_route, route_gpx
from layers.patrol.synthetic import simulate_track

VILLAGE = "130999100201"


@pytest.fixture
def owner(demo_connection):
    with Session(bind=demo_connection, join_transaction_mode="create_savepoint") as s:
        yield s


def test_hotspot_run_finds_the_planted_hotspots(owner):
    out = run_hotspots(owner, since=date(2024, 11, 1), until=date(2026, 10, 31))
    planted = generate().planted_hotspots
    peaks = gpd.GeoSeries(
        gpd.points_from_xy(
            [h["lon"] for h in out["hotspots"]], [h["lat"] for h in out["hotspots"]]
        ),
        crs=4490,
    )
    peaks = peaks.to_crs(4548)
    for hotspot in planted.itertuples():
        centre = gpd.GeoSeries(gpd.points_from_xy([hotspot.lon], [hotspot.lat]), crs=4490)
        distance = peaks.distance(centre.to_crs(4548).iloc[0])
        assert distance.min() <= hotspot.radius_m + 75, hotspot.name
    features = run_features(owner, out["run_id"])
    assert features["run"]["params"]["fdr"] == "benjamini-hochberg"
    assert len(features["features"]) == out["hot"] + out["cold"]


def test_hotspot_run_refuses_an_empty_period(owner):
    with pytest.raises(Invalid, match="没有事件"):
        run_hotspots(owner, since=date(2001, 1, 1), until=date(2001, 2, 1))


def test_cover_route_walks_every_lane_and_returns(owner):
    out = plan_route(owner, VILLAGE, mode="cover")
    lanes_m = owner.execute(
        text(
            "SELECT sum(ST_Length(ST_Transform(geom, 4548))) FROM (SELECT geom FROM lane"
            " WHERE village_id = (SELECT id FROM village WHERE code = :v) UNION ALL"
            " SELECT geom FROM street WHERE village_id = (SELECT id FROM village"
            " WHERE code = :v)) t"
        ),
        {"v": VILLAGE},
    ).scalar_one()
    assert out["length_m"] >= lanes_m * 0.999  # every lane at least once
    assert out["length_m"] <= 2 * lanes_m  # and nothing like walking everything twice
    gpx = route_gpx(owner, out["route_id"])
    track = read_gpx(gpx.encode())
    start = np.array([track.lon[0], track.lat[0]])
    end = np.array([track.lon[-1], track.lat[-1]])
    assert np.allclose(start, end, atol=1e-6)  # a closed walk: back at the base


def _lane_ids(owner, village=VILLAGE):
    return [
        r[0]
        for r in owner.execute(
            text(
                "SELECT l.id FROM lane l JOIN village v ON v.id = l.village_id"
                " WHERE v.code = :v AND l.geom IS NOT NULL ORDER BY l.id"
            ),
            {"v": village},
        )
    ]


def _lanes_m(owner, lane_ids):
    """Metres of the given lanes (metric)."""
    lanes = owner.execute(
        text("SELECT sum(ST_Length(ST_Transform(geom, 4548))) FROM lane WHERE id = ANY(:ids)"),
        {"ids": lane_ids},
    ).scalar_one()
    return lanes


def test_cover_route_of_assigned_lanes_walks_just_those(owner):
    ids = _lane_ids(owner)
    chosen = ids[::3][:8]
    out = plan_route(owner, VILLAGE, mode="cover", lanes=chosen, seed=2)
    assert out["lanes"] == sorted(chosen)
    lanes_m = _lanes_m(owner, chosen)
    assert out["required_m"] == pytest.approx(lanes_m, rel=1e-3)
    assert out["lower_bound_m"] <= out["length_m"] + 1e-6
    full = plan_route(owner, VILLAGE, mode="cover")
    assert out["length_m"] < full["length_m"]  # only the assigned lanes, not all
    route = owner.execute(
        text("SELECT ST_Transform(geom, 4548) FROM patrol_route WHERE id = :r"),
        {"r": out["route_id"]},
    ).scalar_one()
    uncovered = owner.execute(
        text(
            "SELECT count(*) FROM lane WHERE id = ANY(:ids) AND NOT ST_Covers("
            " ST_Buffer(ST_Transform(CAST(:g AS geometry), 4548), 0.5),"
            " ST_Transform(geom, 4548))"
        ),
        {"ids": chosen, "g": route},
    ).scalar_one()
    assert uncovered == 0  # every assigned lane lies on the walk
    gpx = read_gpx(route_gpx(owner, out["route_id"]).encode())
    assert np.allclose([gpx.lon[0], gpx.lat[0]], [gpx.lon[-1], gpx.lat[-1]], atol=1e-6)


def test_cover_route_of_a_grid_and_its_check(owner):
    code = owner.execute(
        text(
            "SELECT g.code FROM grid g JOIN village v ON v.id = g.village_id WHERE v.code = :v"
            " AND g.valid_to IS NULL AND g.level = 3 ORDER BY g.code LIMIT 1"
        ),
        {"v": VILLAGE},
    ).scalar_one()
    out = plan_route(owner, VILLAGE, mode="cover", grid=code)
    assert out["grid"] == code
    assert out["lanes"]
    assert "网格街巷巡逻" in out["name"]
    # A walk of the route itself covers its assigned lanes (and only they are judged).
    line = owner.execute(
        text("SELECT ST_AsBinary(ST_Transform(geom, 4548)) FROM patrol_route WHERE id = :r"),
        {"r": out["route_id"]},
    ).scalar_one()
    walk = shapely.line_merge(shapely.from_wkb(bytes(line)))
    walk = walk if walk.geom_type == "LineString" else max(walk.geoms, key=lambda g: g.length)
    x, y, t = simulate_track(walk, interval_s=5, sigma_m=3, outlier_share=0, seed=1)
    gpx = write_gpx(shapely.LineString(np.column_stack([x, y])), times=t, crs="EPSG:4548")
    checked = check_walk(owner, out["route_id"], gpx.encode())
    assert checked["lane_share"] >= 0.9
    # The same walk judged against a route over all the village's lanes falls short.
    full = plan_route(owner, VILLAGE, mode="cover")
    against_all = check_walk(owner, full["route_id"], gpx.encode())
    assert against_all["lanes_total"] > checked["lanes_total"]
    assert against_all["lane_share"] < 0.9


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"mode": "budget", "lanes": [1]}, "mode cover only"),
        ({"lanes": [1], "grid": "1"}, "not both"),
        ({"lanes": [99999999]}, "no such lanes"),
        ({"lanes": []}, "no lanes given"),
        ({"grid": "1309991002020100"}, "is not in"),
    ],
)
def test_assigned_lanes_refused(owner, kwargs, words):
    with pytest.raises(Invalid, match=words):
        plan_route(owner, VILLAGE, **{"mode": "cover", **kwargs})


def test_unknown_grid_is_not_found(owner):
    from layers.errors import NotFound

    with pytest.raises(NotFound, match="no grid 999999"):
        plan_route(owner, VILLAGE, mode="cover", grid="999999")


def test_budget_route_keeps_its_time(owner):
    out = plan_route(owner, VILLAGE, mode="budget", minutes=45, stop_min=10)
    assert 0 < out["total_min"] <= 45
    assert len(out["stops"]) >= 1
    assert all(s["leave_min"] - s["arrive_min"] == pytest.approx(10) for s in out["stops"])


def test_walked_track_is_checked_and_stored(owner):
    route = plan_route(owner, VILLAGE, mode="cover")
    line = shapely.from_wkb(
        bytes(
            owner.execute(
                text(
                    "SELECT ST_AsBinary(ST_Transform(ST_LineMerge(geom), 4548)) FROM patrol_route"
                    " WHERE id = :r"
                ),
                {"r": route["route_id"]},
            ).scalar_one()
        )
    )
    line = line if line.geom_type == "LineString" else max(line.geoms, key=lambda g: g.length)
    x, y, t = simulate_track(line, seed=3)
    gpx = write_gpx(shapely.LineString(np.column_stack([x, y])), crs="EPSG:4548", times=t)
    report = check_walk(owner, route["route_id"], gpx.encode())
    assert report["lane_share"] >= 0.95
    stored = owner.execute(
        text(
            "SELECT report->>'lane_share', ST_NDims(geom), ST_M(ST_StartPoint(geom))"
            " FROM patrol_track WHERE id = :t"
        ),
        {"t": report["track_id"]},
    ).one()
    assert float(stored[0]) == pytest.approx(report["lane_share"])
    assert stored[1] == 3  # time kept in M
    assert stored[2] == pytest.approx(t[0])


@pytest.mark.parametrize(
    ("gpx", "message"),
    [
        (b"<gpx><trk><trkseg><trkpt lat=", "GPX"),
        (
            b'<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
            b"<trk><trkseg></trkseg></trk></gpx>",
            "没有",
        ),
        (
            b'<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
            b'<trk><trkseg><trkpt lat="31.2" lon="121.5"/><trkpt lat="31.21" lon="121.5"/>'
            b"</trkseg></trk></gpx>",
            "巡逻区域",
        ),
    ],
)
def test_bad_gpx_refused(owner, gpx, message):
    route = plan_route(owner, VILLAGE, mode="cover")
    with pytest.raises(Invalid, match=message):
        check_walk(owner, route["route_id"], gpx)


def test_patrol_api_by_role(signed_in, demo_app_connection):
    # Planned through the app's own connection, so that its requests see the route.
    with Session(bind=demo_app_connection, join_transaction_mode="create_savepoint") as s:
        route = plan_route(s, VILLAGE, mode="cover")
        s.commit()
    rid = route["route_id"]
    patrol = signed_in("patrol")
    listed = patrol.get(f"/api/patrol/routes?village={VILLAGE}").get_json()["features"]
    assert rid in {f["id"] for f in listed}
    assert patrol.get(f"/api/patrol/routes/{rid}.gpx").status_code == 200
    # Team A's grid lies in this village: they see its patrols; team B's does not.
    assert signed_in("police_a").get(f"/api/patrol/routes/{rid}.gpx").status_code == 200
    assert signed_in("police_b").get(f"/api/patrol/routes/{rid}.gpx").status_code == 404
    assert signed_in("resident").get("/api/patrol/routes").get_json()["features"] == []
    assert signed_in("resident").get("/api/hotspots").status_code == 403

    planned = read_gpx(route_gpx(Session(bind=demo_app_connection), rid).encode())
    line = gpd.GeoSeries([shapely.LineString(np.column_stack(planned.xy()))], crs=4548).iloc[0]
    x, y, t = simulate_track(line, seed=5)  # a phone's fixes along the plan
    gpx = write_gpx(shapely.LineString(np.column_stack([x, y])), crs="EPSG:4548", times=t).encode()
    upload = patrol.post(
        f"/api/patrol/routes/{rid}/tracks",
        headers={"X-CSRF-Token": patrol.csrf},
        data={"gpx": (io.BytesIO(gpx), "walk.gpx")},
    )
    assert upload.status_code == 201, upload.get_json()
    assert upload.get_json()["lane_share"] >= 0.95
    tracks = patrol.get(f"/api/patrol/tracks?route={rid}").get_json()["features"]
    assert [f["id"] for f in tracks] == [upload.get_json()["track_id"]]
    # Built by hand: the test client would spool a large body to a temporary file of its own.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="gpx"; filename="big.gpx"\r\n\r\n'
        + b" " * (11 * 1024 * 1024)
        + b"\r\n--b--\r\n"
    )
    big = patrol.post(
        f"/api/patrol/routes/{rid}/tracks",
        data=body,
        content_type="multipart/form-data; boundary=b",
        headers={"X-CSRF-Token": patrol.csrf},
    )
    assert big.status_code == 413
