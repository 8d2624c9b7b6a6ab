"""The patrol week-plan and monthly coverage pages in Chromium on the demo town.

A grid officer plans a week with the form, reads the fourteen patrols, opens one on
the patrol map and looks at the month's coverage; a patrol member opens a patrol's
page from the week plan and uploads the GPX file of the walk, and the page shows each
stop's visit. Nothing leaves the origin. The app
runs on one connection inside a transaction rolled back after the test, one request
at a time (a connection serves one statement at a time).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import shapely
from playwright.sync_api import Page
from pyproj import Transformer
from sqlalchemy import text

from layers.patrol.gpx import write_gpx

VILLAGE = "130999100201"  # the officer's village
#: Planning a week runs the route search in the request: allow it more than a page load.
PLAN_TIMEOUT_MS = 120_000


def test_week_plan_and_coverage_pages(page: Page, live: str, page_log, login):
    login(page, live, "officer", "/patrol/week-plans")
    # The demo's patrol history ends with a week plan of the village's 夕阳红 volunteers.
    assert "夕阳红巡逻队" in page.locator("table.week-plans tbody").inner_text()
    page.select_option("form.week-form select[name=area]", VILLAGE)
    page.fill("form.week-form input[name=start]", "2026-11-02")
    page.fill("form.week-form input[name=minutes]", "30")
    page.fill("form.week-form input[name=team]", "夕阳红<i>巡逻队</i>")
    page.click("form.week-form button[type=submit]")
    page.wait_for_url(f"{live}/patrol/week-plans/*", timeout=PLAN_TIMEOUT_MS)

    rows = page.locator("table.week-plan tbody tr")
    assert rows.count() == 14
    assert page.locator("table.week-plan tbody tr[data-slot='0']").count() == 7
    assert page.locator("table.week-plan tbody tr[data-slot='1']").count() == 7
    first = rows.nth(0)
    assert first.locator("td").nth(0).inner_text() == "2026-11-02"
    assert first.locator("td").nth(1).inner_text() == "星期一"
    assert "热点" in first.locator("td.stops").inner_text()
    assert "夕阳红<i>巡逻队</i>" in page.locator("h1").inner_text()  # text, not markup
    assert page.locator("h1 i").count() == 0
    assert page.locator("table.week-hotspots tbody tr").count() >= 1
    route_id = first.get_attribute("data-route")
    gpx = page.request.get(f"{live}/api/patrol/routes/{route_id}.gpx")
    assert gpx.status == 200
    assert "<gpx" in gpx.text()

    page.goto(f"{live}/patrol/week-plans/{page.url.rsplit('/', 1)[1]}?lang=en")
    assert page.locator("table.week-plan tbody tr").nth(0).locator("td").nth(1).inner_text() == (
        "Monday"
    )

    first = page.locator("table.week-plan tbody tr").nth(0)
    first.locator("a.on-map").click()
    page.wait_for_url(f"{live}/map/patrol?route={route_id}")
    page.wait_for_function("() => window.wangge && wangge.patrol && wangge.patrol.selected")
    shown = page.evaluate("() => wangge.patrol.selected.getLayers().length")
    assert shown == 1

    page.goto(f"{live}/patrol/coverage?since=2026-11&until=2026-11&lang=zh-CN")
    coverage = page.locator(f"table.coverage tbody tr[data-area='{VILLAGE}']")
    assert coverage.count() == 1
    cells = coverage.locator("td")
    assert cells.nth(1).inner_text() == "夕阳红<i>巡逻队</i>"
    assert cells.nth(2).inner_text() == "2026-11"
    assert cells.nth(3).inner_text() == "14"  # planned
    assert cells.nth(4).inner_text() == "0"  # none walked yet
    assert page.locator("a.csv").get_attribute("href").startswith("/patrol/coverage.csv")
    assert page_log.off_origin == []


def _walk_stops(conn, route_id: int, path: Path) -> int:
    """A GPX file of a walk through every stop of the route at its planned pace and times
    (straight between stops, a fix every 5 s); returns the number of stops."""
    params, start, lon, lat = conn.execute(
        text("SELECT params, planned_start, ST_X(ST_StartPoint(ST_GeometryN(geom, 1))),"
             " ST_Y(ST_StartPoint(ST_GeometryN(geom, 1))) FROM patrol_route WHERE id = :r"),
        {"r": route_id},
    ).one()  # fmt: skip
    to_metric = Transformer.from_crs(4490, 4548, always_xy=True)
    knots = [(0.0, *to_metric.transform(lon, lat))]
    for s in params["stops"]:
        x, y = to_metric.transform(s["lon"], s["lat"])
        knots += [(s["arrive_min"] * 60, x, y), (s["leave_min"] * 60, x, y)]
    kt, kx, ky = np.array(knots).T
    t = np.arange(0.0, kt[-1] + 1, 5.0)
    line = shapely.LineString(np.column_stack([np.interp(t, kt, kx), np.interp(t, kt, ky)]))
    path.write_text(write_gpx(line, crs="EPSG:4548", times=start.timestamp() + t))
    return len(params["stops"])


def test_upload_a_walk_on_the_route_page(
    page: Page, live: str, page_log, demo_app_connection, tmp_path, login
):
    # The first patrol of the village's latest week plan, walked as planned.
    route_id = demo_app_connection.execute(
        text("SELECT r.id FROM patrol_route r JOIN village v ON v.id = r.village_id"
             " WHERE v.code = :c AND r.week_plan_id = (SELECT max(week_plan_id) FROM patrol_route"
             " WHERE village_id = v.id) ORDER BY r.planned_start LIMIT 1"),
        {"c": VILLAGE},
    ).scalar_one()  # fmt: skip
    gpx = tmp_path / "walk.gpx"
    n_stops = _walk_stops(demo_app_connection, route_id, gpx)

    login(page, live, "patrol", "/patrol/week-plans")
    page.locator("table.week-plans tbody tr").first.locator("a").click()
    page.wait_for_url(f"{live}/patrol/week-plans/*")
    page.locator(f"table.week-plan tbody tr[data-route='{route_id}'] a.route-page").click()
    page.wait_for_url(f"{live}/patrol/routes/{route_id}")
    assert page.locator("a.gpx").get_attribute("href") == f"/api/patrol/routes/{route_id}.gpx"
    assert page.locator("table.route-stops tbody tr").count() == n_stops

    page.set_input_files("form.track-form input[name=gpx]", str(gpx))
    page.click("form.track-form button[type=submit]")
    page.wait_for_url(re.compile(rf"/patrol/routes/{route_id}#track-\d+$"))
    track = page.url.rsplit("#", 1)[1]
    rows = page.locator(f"section#{track} table.checkpoints tbody tr")
    assert rows.count() == n_stops
    for i in range(n_stops):
        cells = rows.nth(i).locator("td")
        assert cells.nth(2).inner_text() == "✓"
        assert re.fullmatch(r"\d\d:\d\d", cells.nth(3).inner_text())  # arrived
        assert float(cells.nth(4).inner_text()) > 0  # stayed (minutes)
        assert re.fullmatch(r"\d\d:\d\d", cells.nth(5).inner_text())  # planned
    # Walked on time: the start is not late.
    assert page.locator(f"section#{track} dd.start-delay").inner_text() == "+0.0"
    assert page_log.off_origin == []
