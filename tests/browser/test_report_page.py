"""The phone report page (随手拍) in Chromium, as a lane captain on a phone-sized screen:
take the phone's position or tap the map inside his area, pick a category, describe,
attach a photo, send, see the confirmation and find the report under "my reports";
HTML in the description stays text; a tap outside every grid is refused with the
nearest grid named.

The app runs on one connection inside a transaction that is rolled back after the
test, so nothing filed here reaches the shared demo database; requests are served one
at a time, because a connection serves one statement at a time.
"""

from __future__ import annotations

import re

import pytest
from PIL import Image
from playwright.sync_api import Page
from sqlalchemy import text

PAYLOAD = "<img src=x onerror=alert(1)>"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def outside(demo_app_connection):
    """A point 300 m west of the town and the level-3 grid nearest to it (no RLS on grids)."""
    lon, lat = demo_app_connection.execute(
        text(
            "SELECT ST_XMin(e) - 0.0035, (ST_YMin(e) + ST_YMax(e)) / 2"
            " FROM (SELECT ST_Extent(geom) AS e FROM grid WHERE valid_to IS NULL) s"
        )
    ).one()
    code, name = demo_app_connection.execute(
        text(
            "SELECT code, name FROM grid WHERE valid_to IS NULL AND level = 3"
            " ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:x, :y), 4490) LIMIT 1"
        ),
        {"x": lon, "y": lat},
    ).one()
    return (lon, lat), code, name


def outlines_drawn(page: Page) -> None:
    page.wait_for_function("() => document.querySelectorAll('#map path').length > 0")


def tap(page: Page, lon: float, lat: float) -> None:
    """Centre the map on the place at street zoom, then click it like a finger would."""
    page.locator("#map").scroll_into_view_if_needed()
    page.evaluate(
        "([lat, lon]) => wangge.reportMap.setView([lat, lon], 18, {animate: false})", [lat, lon]
    )
    x, y = page.evaluate(
        "([lat, lon]) => { const p = wangge.reportMap.latLngToContainerPoint([lat, lon]);"
        " return [p.x, p.y]; }",
        [lat, lon],
    )
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def fill_and_send(page: Page, description: str, photo=None) -> None:
    page.select_option("#category", "0101")
    page.fill("#description", description)
    if photo is not None:
        page.set_input_files("#photos", str(photo))
    page.click("#submit")
    page.wait_for_selector("#result:not([hidden])")


def test_a_lane_captain_reports_from_his_phone(
    live, page, page_log, places, outside, tmp_path, login
):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    photo = tmp_path / "rubbish.jpg"
    Image.new("RGB", (64, 48), (120, 160, 90)).save(photo, "JPEG", quality=85)
    lon, lat = places["lane"]  # inside the captain's lane area and a level-3 grid

    login(page, live, "lane_captain", "/report", PHONE)
    outlines_drawn(page)
    # Sized for the phone: nothing wider than the screen.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    # "Use my position" takes the phone's fix …
    page.context.grant_permissions(["geolocation"], origin=live)
    page.context.set_geolocation({"latitude": lat + 0.001, "longitude": lon})
    page.click("#locate")
    page.wait_for_function("() => document.getElementById('lat').value !== ''")
    assert float(page.input_value("#lat")) == pytest.approx(lat + 0.001, abs=1e-7)
    assert "🛰" in page.text_content("#where")
    # … and a tap on the map puts the place right.
    tap(page, lon, lat)
    assert float(page.input_value("#lon")) == pytest.approx(lon, abs=2e-5)  # about 2 m
    assert float(page.input_value("#lat")) == pytest.approx(lat, abs=2e-5)
    assert "📍" in page.text_content("#where")
    fill_and_send(page, f"巷口垃圾堆放 {PAYLOAD}", photo)

    result = page.locator("#result")
    assert "error" not in (result.get_attribute("class") or "")
    confirmation = result.text_content()
    assert "已上报" in confirmation
    code = re.search(r"SJ\d{15}", confirmation).group()
    stored = list((tmp_path / "uploads").rglob("*.jpg"))
    assert len(stored) == 1  # the photo went with the report
    assert page.input_value("#description") == ""  # the form is ready for the next one

    page.click("a[href$='/report/mine']")
    page.wait_for_url(f"{live}/report/mine")
    mine = page.locator("#mine-list li", has_text=code)
    mine.wait_for()
    assert PAYLOAD in mine.text_content()  # shown as text …
    assert page.locator("#mine-list img").count() == 0  # … never as an element
    assert "暴露垃圾" in mine.text_content()

    # A tap beyond the town: refused, in Chinese first, naming the nearest grid.
    (out_lon, out_lat), near_code, near_name = outside
    page.goto(f"{live}/report")
    outlines_drawn(page)
    tap(page, out_lon, out_lat)
    fill_and_send(page, "河边有垃圾")
    refusal = page.text_content("#result")
    assert "error" in page.locator("#result").get_attribute("class")
    assert refusal.startswith("该位置不在任何网格内")
    assert f"最近的网格是“{near_name}”" in refusal
    assert near_code in refusal
    # The one failed response the test asked for; anything else still fails the page.
    page_log.bad_responses.remove(f"422 {live}/api/incidents")

    assert dialogs == []
    assert page_log.off_origin == []
