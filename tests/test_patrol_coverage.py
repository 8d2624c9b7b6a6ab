"""The monthly patrol coverage (每月评议): planned against walked, checkpoints, lanes; by role."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.patrol.gpx import read_gpx, write_gpx
from layers.patrol.service import plan_route, route_gpx
from layers.patrol.synthetic import simulate_track

VILLAGE = "130999100201"


def _walk(session: Session, route_id: int, start: datetime | None, seed: int) -> bytes:
    """A phone's GPX of someone walking the route from ``start``, standing at its stops."""
    planned = read_gpx(route_gpx(session, route_id).encode())
    line = shapely.LineString(np.column_stack(planned.xy("EPSG:4548")))
    params = session.execute(
        text("SELECT params FROM patrol_route WHERE id = :r"), {"r": route_id}
    ).scalar_one()
    stops = []
    if params.get("stops"):
        pts = gpd.GeoSeries(
            gpd.points_from_xy(
                [s["lon"] for s in params["stops"]], [s["lat"] for s in params["stops"]]
            ),
            crs=4490,
        ).to_crs(4548)
        stops = [(line.project(p), params["stop_min"] * 60.0) for p in pts]
    kwargs = {"t0": start.timestamp()} if start else {}
    x, y, t = simulate_track(line, stops=stops, seed=seed, **kwargs)
    return write_gpx(shapely.LineString(np.column_stack([x, y])), crs="EPSG:4548", times=t).encode()


def _upload(client, route_id: int, gpx: bytes) -> dict:
    answer = client.post(
        f"/api/patrol/routes/{route_id}/tracks",
        headers={"X-CSRF-Token": client.csrf},
        data={"gpx": (io.BytesIO(gpx), "walk.gpx")},
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


@pytest.fixture
def walked(signed_in, demo_app_connection):
    """A week from Saturday 26 December 2026 for village_a: 12 patrols in December, 2 in
    January; the patrol walks three December patrols, one January patrol and one
    full-cover route outside the plan (in December). The demo's own patrol history
    ends before its date (1 November 2026): these months hold only what the test adds."""
    officer = signed_in("officer")
    made = officer.post(
        "/api/patrol/week-plans",
        json={
            "area": VILLAGE,
            "start": "2026-12-26",
            "minutes": 45,
            "seed": 5,
            "team": "夕阳红巡逻队",
        },
        headers={"X-CSRF-Token": officer.csrf},
    )
    assert made.status_code == 201, made.get_json()
    plan = made.get_json()
    with Session(bind=demo_app_connection, join_transaction_mode="create_savepoint") as s:
        cover = plan_route(s, VILLAGE, mode="cover")
        s.commit()
        patrols = plan["patrols"]
        chosen = [patrols[0], patrols[1], patrols[2], patrols[-1]]
        walks = [
            (p["route_id"], datetime.fromisoformat(p["planned_start"]), n)
            for n, p in enumerate(chosen)
        ]
        walks.append((cover["route_id"], datetime.fromisoformat("2026-12-28T16:00:00+08:00"), 9))
        gpx = [_walk(s, r, start, seed) for r, start, seed in walks]
    patrol = signed_in("patrol")
    reports = [_upload(patrol, r, g) for (r, _, _), g in zip(walks, gpx, strict=True)]
    return {"plan": plan, "reports": reports, "patrols": chosen}


def _rows(client, **query):
    answer = client.get("/api/patrol/coverage", query_string=query)
    assert answer.status_code == 200, answer.get_json()
    return [r for r in answer.get_json()["rows"] if r["area_code"] == VILLAGE]


def test_coverage_counts_planned_and_walked_patrols(signed_in, walked):
    reports = walked["reports"]
    officer = signed_in("officer")
    rows = {(r["team"], r["month"]): r for r in _rows(officer, since="2026-12", until="2027-01")}
    assert set(rows) == {
        ("夕阳红巡逻队", "2026-12"),
        ("夕阳红巡逻队", "2027-01"),
        (None, "2026-12"),
    }
    december, january = rows["夕阳红巡逻队", "2026-12"], rows["夕阳红巡逻队", "2027-01"]
    assert (december["planned"], december["planned_walked"], december["walked"]) == (12, 3, 3)
    assert december["walked_share"] == pytest.approx(3 / 12, abs=1e-4)
    assert (january["planned"], january["planned_walked"], january["walked"]) == (2, 1, 1)
    # Checkpoint figures are the sums of the checks the uploads answered with.
    for row, checks in ((december, reports[:3]), (january, reports[3:4])):
        visited = sum(c["checkpoints_visited"] for c in checks)
        total = sum(c["checkpoints_total"] for c in checks)
        assert (row["checkpoints_visited"], row["checkpoints_total"]) == (visited, total)
        assert row["checkpoint_share"] == pytest.approx(visited / total, abs=1e-4)
        assert row["dwell_ok"] == sum(c["dwell_ok"] for c in checks)
        assert row["lane_share"] is None  # budget patrols are not judged by lanes
    assert sum(c["checkpoints_visited"] for c in reports[:4]) > 0  # the walks did stop
    single = rows[None, "2026-12"]
    assert (single["planned"], single["walked"], single["walked_share"]) == (0, 1, None)
    assert single["lane_share"] == pytest.approx(reports[4]["lane_share"], abs=1e-4)
    assert single["lane_share"] >= 0.9

    per_village = {
        r["month"]: r for r in _rows(officer, by="village", since="2026-12", until="2027-01")
    }
    assert (per_village["2026-12"]["planned"], per_village["2026-12"]["walked"]) == (12, 4)
    assert per_village["2026-12"]["team"] is None
    assert per_village["2026-12"]["lane_share"] == pytest.approx(single["lane_share"], abs=1e-4)
    # Only December asked for: January's row is not there.
    assert {r["month"] for r in _rows(officer, since="2026-12", until="2026-12")} == {"2026-12"}

    page = officer.get("/patrol/coverage?since=2026-12&until=2027-01").get_data(as_text=True)
    assert page.count(f'data-area="{VILLAGE}"') == 3
    assert "夕阳红巡逻队" in page
    assert "计划外路线" in page
    csv_answer = officer.get("/patrol/coverage.csv?since=2026-12&until=2027-01")
    assert csv_answer.status_code == 200
    body = csv_answer.get_data(as_text=True)
    assert body.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    header, data = table[0], [r for r in table[1:] if r[1] == VILLAGE]
    assert header[4:] == ["planned", "planned_walked", "walked_share", "walked",
                          "checkpoints_visited", "checkpoints_total", "checkpoint_share",
                          "dwell_ok", "lane_length_m", "lane_share"]  # fmt: skip
    assert len(data) == 3
    december_csv = next(r for r in data if r[2] == "夕阳红巡逻队" and r[3] == "2026-12")
    assert december_csv[4:8] == ["12", "3", "0.25", "3"]


def test_coverage_is_scoped(signed_in, walked):
    # Team A's grid is in the village: it sees the coverage; team B's grid is not.
    assert _rows(signed_in("police_a"), since="2026-12", until="2027-01")
    assert _rows(signed_in("admin"), since="2026-12", until="2027-01")
    assert _rows(signed_in("police_b"), since="2026-12", until="2027-01") == []
    police_b = signed_in("police_b").get("/patrol/coverage.csv?since=2026-12&until=2027-01")
    assert VILLAGE not in police_b.get_data(as_text=True)


@pytest.mark.parametrize("username", ["resident", "lane_captain", "street_captain"])
@pytest.mark.parametrize(
    "path", ["/patrol/coverage", "/patrol/coverage.csv", "/api/patrol/coverage"]
)
def test_coverage_refused_without_patrol_scope(signed_in, username, path):
    assert signed_in(username).get(path).status_code == 403


def test_coverage_csv_download_is_audited(signed_in, demo_app_connection):
    before = demo_app_connection.execute(
        text("SELECT count(*) FROM audit_log WHERE action = 'export.patrol_coverage'")
    ).scalar_one()
    assert signed_in("patrol").get("/patrol/coverage.csv").status_code == 200
    after = demo_app_connection.execute(
        text("SELECT count(*) FROM audit_log WHERE action = 'export.patrol_coverage'")
    ).scalar_one()
    assert after == before + 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "2026-13"}, "since"),
        ({"until": "October"}, "until"),
        ({"since": "2026-11", "until": "2026-10"}, "since"),
        ({"since": "1990-01", "until": "2026-10"}, "since"),
        ({"by": "street"}, "by"),
    ],
)
def test_coverage_bad_input(signed_in, query, field):
    answer = signed_in("officer").get("/api/patrol/coverage", query_string=query)
    assert answer.status_code == 400
    got = answer.get_json()
    assert got["field"] == field
    chinese, english = got["message"].split(" / ", 1)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese)
    assert english.isascii()
    page = signed_in("officer").get("/patrol/coverage", query_string=query)
    assert page.status_code == 400


@pytest.mark.parametrize(
    "path",
    ["/patrol/coverage", "/patrol/week-plans", "/api/patrol/coverage", "/api/patrol/week-plans"],
)
def test_patrol_pages_need_a_login(demo_app, path):
    answer = demo_app.test_client().get(path)
    assert answer.status_code in (302, 401)


@pytest.mark.parametrize(
    ("user", "shown"), [("patrol", True), ("officer", True), ("resident", False)]
)
def test_the_menu_links_the_patrol_pages_for_those_who_see_tracks(signed_in, user, shown):
    page = signed_in(user).get("/").get_data(as_text=True)
    assert ('href="/patrol/coverage"' in page) is shown
    assert ('href="/patrol/week-plans"' in page) is shown
    assert ('href="/patrol/routes"' in page) is shown
