"""A route's page, its GPX upload (API and form) and planning one route on the web.

The leader plans a single cover or budget route (API or form), opens its page,
a patrol member uploads the walked GPX there, and the page shows each stop's
visit: reached or not, when, how long, planned arrival and delay. Bad files get
a bilingual 400 (413 over 10 MB) and leave the stored tracks as they were.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.patrol.gpx import write_gpx
from layers.patrol.service import LOCAL, plan_route
from layers.patrol.synthetic import simulate_track

VILLAGE = "130999100201"  # village A: officer, team A and the patrol login
OTHER = "130999100219"  # a village none of team A's logins plans or sees
GPX_HEAD = b'<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
TO_METRIC = Transformer.from_crs(4490, 4548, always_xy=True)
#: The test walk starts this late and keeps the plan's pace from there.
LATE_MIN = 7.0


@pytest.fixture
def app_session(demo_app_connection):
    """The app's own connection, so that the app's requests see what the test plans."""
    with Session(bind=demo_app_connection, join_transaction_mode="create_savepoint") as s:
        yield s


@pytest.fixture
def cover_route(app_session) -> int:
    route = plan_route(app_session, VILLAGE, mode="cover")["route_id"]
    app_session.commit()
    return route


def _inside(conn, code: str = VILLAGE, n: int = 1) -> list[tuple[float, float]]:
    """``n`` distinct lon/lat points inside the village (a few metres apart)."""
    lon, lat = conn.execute(
        text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM village"
             " WHERE code = :c) s"),
        {"c": code},
    ).one()  # fmt: skip
    return [(lon + 0.00002 * i, lat) for i in range(n)]


def _trkpts(points: list[tuple[float, float]]) -> bytes:
    pts = "".join(
        f'<trkpt lat="{la:.7f}" lon="{lo:.7f}"><time>2026-11-02T01:{i:02d}:00Z</time></trkpt>'
        for i, (lo, la) in enumerate(points)
    )
    return GPX_HEAD + f"<trk><trkseg>{pts}</trkseg></trk></gpx>".encode()


def _planned_walk(conn, route_id: int) -> tuple[bytes, list[dict], datetime, np.ndarray]:
    """A walk of the route's stops at its planned pace, :data:`LATE_MIN` late, without
    the last stop: GPX, the stops, the planned start and the walked path (metric)."""
    params, start, lon, lat = conn.execute(
        text("SELECT params, planned_start, ST_X(ST_StartPoint(ST_GeometryN(geom, 1))),"
             " ST_Y(ST_StartPoint(ST_GeometryN(geom, 1))) FROM patrol_route WHERE id = :r"),
        {"r": route_id},
    ).one()  # fmt: skip
    stops = params["stops"]
    knots = [(0.0, *TO_METRIC.transform(lon, lat))]
    for s in stops[:-1]:
        x, y = TO_METRIC.transform(s["lon"], s["lat"])
        knots += [(s["arrive_min"] * 60, x, y), (s["leave_min"] * 60, x, y)]
    kt, kx, ky = np.array(knots).T
    t = np.arange(0.0, kt[-1] + 1, 5.0)  # a fix every 5 s
    x, y = np.interp(t, kt, kx), np.interp(t, kt, ky)
    t0 = start.timestamp() + LATE_MIN * 60
    line = shapely.LineString(np.column_stack([x, y]))
    gpx = write_gpx(line, crs="EPSG:4548", times=t0 + t).encode()
    return gpx, stops, start, np.column_stack([kx, ky])


def _separate(stops: list[dict], path: np.ndarray) -> bool:
    """Whether the walk reaches each stop first on its own leg (it passes no stop on the way
    to another) and stays off the last stop, which it skips."""
    points = [shapely.Point(TO_METRIC.transform(s["lon"], s["lat"])) for s in stops]
    for i, stop in enumerate(points[:-1]):
        before = path[: 2 * i + 1]  # the base, then arrive/leave of each earlier stop
        walked = shapely.LineString(before) if len(before) > 1 else shapely.Point(before[0])
        if walked.distance(stop) <= 30:  # 20 m circle, 10 m to spare (the walk has no noise)
            return False
    return shapely.LineString(path).distance(points[-1]) > 30


@pytest.fixture
def week_route(demo_app_connection) -> int:
    """A week-plan patrol of village A whose stops the test walk reaches one by one."""
    routes = demo_app_connection.execute(
        text("SELECT r.id FROM patrol_route r JOIN village v ON v.id = r.village_id"
             " WHERE v.code = :c AND r.week_plan_id IS NOT NULL"
             " AND jsonb_array_length(r.params->'stops') >= 2 ORDER BY r.id"),
        {"c": VILLAGE},
    ).scalars().all()  # fmt: skip
    for rid in routes:
        _gpx, stops, _start, path = _planned_walk(demo_app_connection, rid)
        if _separate(stops, path):
            return rid
    pytest.fail("no week-plan route of village A has stops the test walk reaches one by one")


def _tracks(client, route_id: int) -> list[int]:
    return [
        f["id"] for f in client.get(f"/api/patrol/tracks?route={route_id}").get_json()["features"]
    ]


def _checks(conn) -> int:
    return conn.execute(
        text("SELECT count(*) FROM audit_log WHERE action = 'patrol.check'")
    ).scalar_one()


def _big_body() -> bytes:
    # Built by hand: the test client would spool a large body to a temporary file of its own.
    return (
        b'--b\r\nContent-Disposition: form-data; name="gpx"; filename="big.gpx"\r\n\r\n'
        + GPX_HEAD + b" " * (11 * 1024 * 1024) + b"</gpx>\r\n--b--\r\n"
    )  # fmt: skip


BAD_FILES = {
    "no points": (lambda conn: GPX_HEAD + b"<trk><trkseg></trkseg></trk></gpx>",
                  400, ("没有轨迹点", "no track points")),
    "one point": (lambda conn: _trkpts(_inside(conn)),
                  400, ("轨迹点太少", "at least two are needed")),
    "one left after the far ones": (lambda conn: _trkpts([*_inside(conn), (121.5, 31.2)]),
                                    400, ("轨迹点太少", "1 usable point")),
    "broken XML": (lambda conn: b"<gpx><trk><trkseg><trkpt lat=",
                   400, ("不是有效的 XML", "not valid XML")),
    "far outside": (lambda conn: _trkpts([(121.5, 31.2), (121.5, 31.21), *_inside(conn)]),
                    400, ("巡逻区域", "outside the patrol area")),
}  # fmt: skip


@pytest.mark.parametrize("case", [*BAD_FILES, "over 10 MB", "no file"])
def test_bad_gpx_upload_is_refused_and_stores_nothing(
    case, signed_in, cover_route, demo_app_connection
):
    patrol = signed_in("patrol")
    before = _tracks(patrol, cover_route), _checks(demo_app_connection)
    headers = {"X-CSRF-Token": patrol.csrf}
    url = f"/api/patrol/routes/{cover_route}/tracks"
    if case == "over 10 MB":
        status, words = 413, ("GPX 文件超过 10 MB", "the GPX file is over 10 MB")
        answer = patrol.post(
            url, data=_big_body(), content_type="multipart/form-data; boundary=b", headers=headers
        )
    elif case == "no file":
        status, words = 400, ("请上传 GPX 文件", "upload a GPX file")
        answer = patrol.post(url, data={}, headers=headers)
    else:
        make, status, words = BAD_FILES[case]
        data = make(demo_app_connection)
        answer = patrol.post(url, headers=headers, data={"gpx": (io.BytesIO(data), "w.gpx")})
    assert answer.status_code == status, answer.get_data(as_text=True)
    message = answer.get_json()["message"]
    zh, en = words
    assert zh in message
    assert en in message
    assert message.index(zh) < message.index(en)  # Chinese first
    assert (_tracks(patrol, cover_route), _checks(demo_app_connection)) == before
    # The control: a good walk from the same client is stored and audited.
    x, y = TO_METRIC.transform(*np.array(_inside(demo_app_connection, n=30)).T)
    good = write_gpx(
        shapely.LineString(np.column_stack([x, y])), crs="EPSG:4548",
        times=1_793_000_000.0 + 10 * np.arange(len(x)),
    ).encode()  # fmt: skip
    ok = patrol.post(url, headers=headers, data={"gpx": (io.BytesIO(good), "w.gpx")})
    assert ok.status_code == 201, ok.get_json()
    assert _tracks(patrol, cover_route) == [ok.get_json()["track_id"], *before[0]]
    assert _checks(demo_app_connection) == before[1] + 1


def test_form_upload_of_a_bad_file_shows_the_page_with_the_reason(
    signed_in, cover_route, demo_app_connection
):
    patrol = signed_in("patrol")
    before = _tracks(patrol, cover_route)
    one = _trkpts(_inside(demo_app_connection))
    page = patrol.post(
        f"/patrol/routes/{cover_route}/tracks",
        data={"csrf_token": patrol.csrf, "gpx": (io.BytesIO(one), "one.gpx")},
    )  # fmt: skip
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert 'role="alert"' in html
    assert "轨迹点太少" in html
    assert "at least two" in html
    assert 'class="stats-form track-form"' in html  # the form is there to try again
    assert _tracks(patrol, cover_route) == before
    big = patrol.post(
        f"/patrol/routes/{cover_route}/tracks",
        data=_big_body().replace(b"--b--", b"--b\r\nContent-Disposition: form-data;"
                                 b' name="csrf_token"\r\n\r\n' + patrol.csrf.encode()
                                 + b"\r\n--b--"),
        content_type="multipart/form-data; boundary=b",
    )  # fmt: skip
    assert big.status_code == 413
    assert "GPX 文件超过 10 MB" in big.get_data(as_text=True)
    assert _tracks(patrol, cover_route) == before


def test_upload_reports_each_checkpoint_with_its_times(signed_in, week_route, demo_app_connection):
    gpx, stops, start, _path = _planned_walk(demo_app_connection, week_route)
    patrol = signed_in("patrol")
    answer = patrol.post(
        f"/api/patrol/routes/{week_route}/tracks",
        headers={"X-CSRF-Token": patrol.csrf},
        data={"gpx": (io.BytesIO(gpx), "walk.gpx")},
    )
    assert answer.status_code == 201, answer.get_json()
    report = answer.get_json()
    assert report["start_delay_s"] == pytest.approx(LATE_MIN * 60)
    cps = report["checkpoints"]
    assert [c["order"] for c in cps] == list(range(1, len(stops) + 1))
    assert [c["hotspot"] for c in cps] == [s["hotspot"] for s in stops]
    assert [c["visited"] for c in cps] == [True] * (len(stops) - 1) + [False]
    report_stop = None
    for c, s in zip(cps, stops, strict=True):
        planned = start.astimezone(LOCAL) + timedelta(minutes=s["arrive_min"])
        assert c["planned_at"] == planned.isoformat(timespec="seconds")
        if not c["visited"]:
            assert (c["arrived_at"], c["dwell_min"], c["delay_min"]) == (None, None, None)
            assert not c["dwell_ok"]
            continue
        # Within 20 m from a little before the planned time (walked late) to a little after
        # leaving: the stay is the planned one plus the walk in and out of the circle.
        stop_min = s["leave_min"] - s["arrive_min"]
        assert stop_min <= c["dwell_min"] <= stop_min + 3
        assert c["dwell_ok"]
        assert LATE_MIN - 3 <= c["delay_min"] <= LATE_MIN
        arrived = datetime.fromisoformat(c["arrived_at"])
        assert arrived - planned == pytest.approx(
            timedelta(minutes=c["delay_min"]), abs=timedelta(seconds=3)
        )
        report_stop = c
    assert report["checkpoints_visited"] == len(stops) - 1
    # Stored with the track: the track list carries its report.
    listed = patrol.get(f"/api/patrol/tracks?route={week_route}").get_json()["features"]
    kept = next(f for f in listed if f["id"] == report["track_id"])
    assert kept["properties"]["checkpoints"] == cps

    html = patrol.get(f"/patrol/routes/{week_route}").get_data(as_text=True)
    begin = html.index(f'id="track-{report["track_id"]}"')
    section = html[begin : html.index("</section>", begin)]
    assert section.count("<tr data-order=") == len(stops)
    assert section.count("✓") == len(stops) - 1
    assert section.count("✗") == 1
    assert f'<td class="arrived">{report_stop["arrived_at"][11:16]}</td>' in section
    assert f'<td class="late">{report_stop["delay_min"]:+.1f}</td>' in section
    assert f'<td class="stayed">{report_stop["dwell_min"]:.1f}</td>' in section
    assert f'<dd class="start-delay">{LATE_MIN:+.1f}</dd>' in section
    english = patrol.get(f"/patrol/routes/{week_route}?lang=en").get_data(as_text=True)
    assert "Late by (min)" in english
    assert "Stayed (min)" in english


def test_route_page_shows_the_route_and_who_sees_it(signed_in, cover_route, demo_app_connection):
    officer = signed_in("officer")
    html = officer.get(f"/patrol/routes/{cover_route}").get_data(as_text=True)
    assert f'href="/api/patrol/routes/{cover_route}.gpx"' in html
    assert 'enctype="multipart/form-data"' in html
    assert 'name="csrf_token"' in html
    assert "还没有上传轨迹" in html
    assert signed_in("worker_a").get(f"/patrol/routes/{cover_route}").status_code == 200
    assert signed_in("police_b").get(f"/patrol/routes/{cover_route}").status_code == 404
    assert signed_in("resident").get(f"/patrol/routes/{cover_route}").status_code == 403
    # A walk along the route: the page gives the share of lanes walked.
    line = shapely.from_wkb(
        bytes(
            demo_app_connection.execute(
                text("SELECT ST_AsBinary(ST_Transform(ST_GeometryN(geom, 1), 4548))"
                     " FROM patrol_route WHERE id = :r"),
                {"r": cover_route},
            ).scalar_one()
        )
    )  # fmt: skip
    x, y, t = simulate_track(line, seed=4)
    gpx = write_gpx(shapely.LineString(np.column_stack([x, y])), crs="EPSG:4548", times=t)
    made = officer.post(
        f"/patrol/routes/{cover_route}/tracks",
        data={"csrf_token": officer.csrf, "gpx": (io.BytesIO(gpx.encode()), "walk.gpx")},
    )
    assert made.status_code == 303
    track = int(made.headers["Location"].rsplit("#track-", 1)[1])
    report = next(
        f["properties"]
        for f in officer.get(f"/api/patrol/tracks?route={cover_route}").get_json()["features"]
        if f["id"] == track
    )
    assert report["lanes_total"] > 0
    assert report["checkpoints"] == []  # a cover route has no stops
    html = officer.get(f"/patrol/routes/{cover_route}").get_data(as_text=True)
    shown = f"{report['lane_share'] * 100:.0f}% ({report['lanes_walked']} / {report['lanes_total']}"
    assert f'<dd class="lane-share">{shown}' in html
    assert 'table class="summary checkpoints"' not in html
    team_b = signed_in("police_b")
    refused = team_b.post(f"/patrol/routes/{cover_route}/tracks", data={"csrf_token": team_b.csrf})
    assert refused.status_code == 404


def test_week_plan_rows_and_route_list_link_the_route_page(signed_in, cover_route):
    officer = signed_in("officer")
    plan_id = officer.get("/api/patrol/week-plans").get_json()[0]["id"]
    plan = officer.get(f"/patrol/week-plans/{plan_id}").get_data(as_text=True)
    first = officer.get(f"/api/patrol/week-plans/{plan_id}").get_json()["patrols"][0]["route_id"]
    assert f'class="route-page" href="/patrol/routes/{first}"' in plan
    listing = officer.get("/patrol/routes").get_data(as_text=True)
    assert f'href="/patrol/routes/{cover_route}"' in listing
    assert 'name="mode"' in listing  # a planner gets the form
    assert 'name="mode"' not in signed_in("patrol").get("/patrol/routes").get_data(as_text=True)
    assert signed_in("lane_captain").get("/patrol/routes").status_code == 403
    assert "/patrol/routes" in officer.get("/patrol/week-plans").get_data(as_text=True)


def test_user_text_on_the_route_page_is_escaped(signed_in, cover_route, app_session):
    # A time the phone wrote wrong comes back in the refusal: shown as text, not markup.
    patrol = signed_in("patrol")
    lon, lat = _inside(app_session.connection())[0]
    bad = (
        GPX_HEAD
        + (
            f'<trk><trkseg><trkpt lat="{lat}" lon="{lon}"><time>&lt;b&gt;noon&lt;/b&gt;</time>'
            f'</trkpt><trkpt lat="{lat}" lon="{lon}"/></trkseg></trk></gpx>'
        ).encode()
    )
    page = patrol.post(
        f"/patrol/routes/{cover_route}/tracks",
        data={"csrf_token": patrol.csrf, "gpx": (io.BytesIO(bad), "bad.gpx")},
    )
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "&lt;b&gt;noon&lt;/b&gt;" in html
    assert "<b>noon" not in html
    # The week plan's team is typed in by its planner.
    officer = signed_in("officer")
    plan = officer.post(
        "/api/patrol/week-plans",
        json={"area": VILLAGE, "start": "2026-11-02", "minutes": 30, "team": "<b>夕阳红</b>"},
        headers={"X-CSRF-Token": officer.csrf},
    )
    assert plan.status_code == 201, plan.get_json()
    route = plan.get_json()["patrols"][0]["route_id"]
    html = officer.get(f"/patrol/routes/{route}").get_data(as_text=True)
    assert "&lt;b&gt;夕阳红&lt;/b&gt;" in html
    assert "<b>夕阳红" not in html


# -- planning one route ----------------------------------------------------------------------


def _plan(client, body):
    return client.post("/api/patrol/routes", json=body, headers={"X-CSRF-Token": client.csrf})


def _route_count(conn) -> int:
    return conn.execute(text("SELECT count(*) FROM patrol_route")).scalar_one()


def test_api_plans_a_cover_route_and_audits_it(signed_in, demo_app_connection):
    officer = signed_in("officer")
    made = _plan(officer, {"area": VILLAGE, "mode": "cover"})
    assert made.status_code == 201, made.get_json()
    route = made.get_json()
    assert route["mode"] == "cover"
    assert route["parts"] == 1
    assert route["message"] is None
    assert route["page"] == f"/patrol/routes/{route['route_id']}"
    assert made.headers["Location"].endswith(f"/api/patrol/routes/{route['route_id']}")
    user, actor, detail = demo_app_connection.execute(
        text("SELECT a.actor_user_id, a.actor_name, a.detail FROM audit_log a"
             " WHERE a.action = 'patrol.plan' AND a.object_id = :r"),
        {"r": str(route["route_id"])},
    ).one()  # fmt: skip
    officer_id = demo_app_connection.execute(
        text("SELECT id FROM user_account WHERE username = 'officer'")
    ).scalar_one()
    assert (user, actor, detail["mode"]) == (officer_id, "officer", "cover")
    page = officer.get(route["page"]).get_data(as_text=True)
    assert "走遍街巷" in page
    assert 'class="route-message"' not in page


def test_api_plans_a_budget_route_and_a_grid_route(signed_in):
    cadre = signed_in("cadre_a")  # a grid's 治保 cadre plans for the grid's village
    budget = _plan(cadre, {"area": VILLAGE, "mode": "budget", "minutes": 30, "stop_min": 8})
    assert budget.status_code == 201, budget.get_json()
    stops = budget.get_json()["stops"]
    assert stops
    assert all(s["leave_min"] - s["arrive_min"] == pytest.approx(8) for s in stops)
    assert budget.get_json()["total_min"] <= 30
    grid = _plan(cadre, {"area": VILLAGE, "mode": "cover", "grid": "1309991002010101"})
    assert grid.status_code == 201, grid.get_json()
    assert grid.get_json()["grid"] == "1309991002010101"
    assert grid.get_json()["lanes"]
    lanes = grid.get_json()["lanes"][:3]
    picked = _plan(cadre, {"area": VILLAGE, "mode": "cover", "lanes": lanes})
    assert picked.status_code == 201, picked.get_json()
    assert picked.get_json()["lanes"] == sorted(lanes)


def test_form_plans_a_route_and_opens_its_page(signed_in):
    officer = signed_in("officer")
    made = officer.post(
        "/patrol/routes",
        data={"csrf_token": officer.csrf, "area": VILLAGE, "mode": "budget", "minutes": "40",
              "stop_min": "10", "grid": "", "lanes": "", "seed": "1"},
    )  # fmt: skip
    assert made.status_code == 303
    page = officer.get(made.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "限时巡查热点" in html
    assert 'class="summary route-stops"' in html
    bad = officer.post(
        "/patrol/routes", data={"csrf_token": officer.csrf, "area": VILLAGE, "mode": "cover",
                                "lanes": "12, abc"},
    )  # fmt: skip
    assert bad.status_code == 400
    assert "lane ids are positive whole numbers" in bad.get_data(as_text=True)


@pytest.mark.parametrize(
    ("body", "status", "field", "words"),
    [
        ({"mode": "cover"}, 400, "area", "village code"),
        ({"area": VILLAGE}, 400, "mode", "mode must be cover or budget"),
        ({"area": VILLAGE, "mode": "walk"}, 400, "mode", "mode must be cover or budget"),
        ({"area": VILLAGE, "mode": "budget", "minutes": "soon"}, 400, "minutes", "number"),
        ({"area": VILLAGE, "mode": "budget", "minutes": 5}, 400, "minutes", "between"),
        ({"area": VILLAGE, "mode": "budget", "minutes": 20, "stop_min": 30}, 400, "stop_min",
         "outlast"),
        ({"area": VILLAGE, "mode": "cover", "seed": -1}, 400, "seed", "seed must be"),
        ({"area": VILLAGE, "mode": "cover", "lanes": ["x"]}, 400, "lanes", "lane ids"),
        ({"area": VILLAGE, "mode": "cover", "lanes": [2**40]}, 400, "lanes", "lane ids"),
        ({"area": VILLAGE, "mode": "cover", "lanes": {"a": 1}}, 400, "lanes", "list of lane"),
        ({"area": VILLAGE, "mode": "cover", "lanes": [999999999]}, 400, "lanes", "no such lanes"),
        ({"area": VILLAGE, "mode": "budget", "lanes": [1]}, 400, "mode", "cover only"),
        ({"area": VILLAGE, "mode": "cover", "grid": "OTHER_GRID"}, 400, "grid", "is not in"),
        ({"area": VILLAGE, "mode": "cover", "grid": "9999"}, 400, "grid", "no grid 9999"),
        ({"area": VILLAGE, "mode": "cover", "grid": 7}, 400, "grid", "grid code"),
        ({"area": "999", "mode": "cover"}, 404, "area", "no village 999"),
    ],
)  # fmt: skip
def test_api_refuses_bad_route_input(signed_in, demo_app_connection, body, status, field, words):
    if body.get("grid") == "OTHER_GRID":  # a current grid of another village
        body = {**body, "grid": demo_app_connection.execute(
            text("SELECT g.code FROM grid g JOIN village v ON v.id = g.village_id"
                 " WHERE v.code = :c AND g.valid_to IS NULL ORDER BY g.code LIMIT 1"),
            {"c": OTHER},
        ).scalar_one()}  # fmt: skip
    before = _route_count(demo_app_connection)
    answer = _plan(signed_in("officer"), body)
    assert answer.status_code == status, answer.get_json()
    got = answer.get_json()
    assert got["field"] == field
    assert words in got["message"]
    assert " / " in got["message"]  # Chinese, then English
    assert _route_count(demo_app_connection) == before


@pytest.mark.parametrize(
    ("username", "area", "status"),
    [("patrol", VILLAGE, 403), ("worker_a", VILLAGE, 403), ("resident", VILLAGE, 403),
     ("police_b", VILLAGE, 403), ("officer", OTHER, 403), ("admin", OTHER, 201)],
)  # fmt: skip
def test_who_may_plan_a_route(signed_in, demo_app_connection, username, area, status):
    before = _route_count(demo_app_connection)
    answer = _plan(signed_in(username), {"area": area, "mode": "cover"})
    assert answer.status_code == status, answer.get_json()
    assert _route_count(demo_app_connection) == before + (status == 201)


def test_api_refuses_a_body_that_is_not_json(signed_in):
    officer = signed_in("officer")
    answer = officer.post(
        "/api/patrol/routes", data="area=1", headers={"X-CSRF-Token": officer.csrf},
        content_type="application/json",
    )  # fmt: skip
    assert answer.status_code == 400
    assert answer.get_json()["message"]


def test_disconnected_network_is_covered_part_by_part_and_the_page_says_so(
    signed_in, demo_app_connection
):
    # A short lane where the village has none (farthest from its lanes and streets of
    # 500 random points): the network now falls apart in two.
    far = demo_app_connection.execute(
        text("WITH v AS (SELECT id, geom FROM village WHERE code = :c),"
             " ways AS (SELECT geom FROM lane WHERE village_id = (SELECT id FROM v)"
             " UNION ALL SELECT geom FROM street WHERE village_id = (SELECT id FROM v)),"
             " p AS (SELECT (ST_Dump(ST_GeneratePoints(geom, 500, 7))).geom AS p FROM v)"
             " SELECT ST_X(p), ST_Y(p), (SELECT min(ST_Distance(p::geography, w.geom::geography))"
             " FROM ways w) AS d FROM p ORDER BY d DESC LIMIT 1"),
        {"c": VILLAGE},
    ).one()  # fmt: skip
    assert far.d > 10  # room for a 6 m lane clear of the others (lanes snap within 1 m)
    demo_app_connection.execute(
        text("INSERT INTO lane (village_id, name, geom) SELECT id, '孤巷',"
             " ST_Multi(ST_MakeLine(ST_SetSRID(ST_MakePoint(:x - 0.00003, :y), 4490),"
             " ST_SetSRID(ST_MakePoint(:x + 0.00003, :y), 4490))) FROM village WHERE code = :c"),
        {"c": VILLAGE, "x": far[0], "y": far[1]},
    )  # fmt: skip
    officer = signed_in("officer")
    made = _plan(officer, {"area": VILLAGE, "mode": "cover"})
    assert made.status_code == 201, made.get_json()
    route = made.get_json()
    assert route["parts"] >= 2
    assert "不连通" in route["message"]
    assert "disconnected" in route["message"]
    html = officer.get(route["page"]).get_data(as_text=True)
    assert 'class="route-message" role="status"' in html
    assert "街巷网络不连通" in html
    listing = officer.get("/patrol/routes").get_data(as_text=True)
    assert "⚠" in listing
