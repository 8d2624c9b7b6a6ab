"""The editor's newer tools in Chromium, used with the mouse: split a grid along a drawn line,
draw and reshape a lane, and (town administrator) draw a new village.

As in test_maps.py, the app runs on one connection inside a transaction rolled back after
each test, and requests are served one at a time (they share that connection). Test
modules cannot import each other, so the few helpers below are repeated here.
"""

from __future__ import annotations

import shapely
from playwright.sync_api import Page
from sqlalchemy import text

GRID3 = "1309991002010302"
NEXT3 = "1309991002010303"


def show(page: Page, shape) -> None:
    """Fit the map on ``shape`` with room around it for lines that start outside."""
    x0, y0, x1, y1 = shape.bounds
    page.evaluate(
        "(b) => wangge.map.fitBounds(b, {padding: [60, 60], animate: false})",
        [[y0, x0], [y1, x1]],
    )


def pixel(page: Page, lon: float, lat: float) -> tuple[float, float]:
    p = page.evaluate(
        """([lat, lon]) => {
          const m = wangge.map, pt = m.latLngToContainerPoint([lat, lon]);
          const r = m.getContainer().getBoundingClientRect();
          return [r.x + pt.x, r.y + pt.y];
        }""",
        [lat, lon],
    )
    return p[0], p[1]


def click(page: Page, lon: float, lat: float) -> None:
    x, y = pixel(page, lon, lat)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.up()
    page.wait_for_timeout(120)  # Leaflet.draw tells clicks from double clicks by time


def draw_line(page: Page, points: list[tuple[float, float]]) -> None:
    """Click each vertex, then the last one again: Leaflet.draw finishes the line."""
    for lon, lat in [*points, points[-1]]:
        click(page, lon, lat)


def grid_shape(conn, code: str):
    wkt = conn.execute(
        text("SELECT ST_AsText(geom) FROM grid WHERE code = :c AND valid_to IS NULL"), {"c": code}
    ).scalar_one_or_none()
    return shapely.from_wkt(wkt) if wkt else None


def see_all(conn) -> None:
    conn.execute(text("SELECT set_config('wangge.household_all', 'on', true)"))


# --- split -----------------------------------------------------------------------------


def test_split_a_grid_with_the_mouse(page: Page, live, demo_app_connection, open_editor) -> None:
    conn = demo_app_connection
    shape = grid_shape(conn, GRID3)
    see_all(conn)
    total = conn.execute(
        text("SELECT count(*) FROM household h JOIN grid g ON g.id = h.grid_id WHERE g.code = :c"),
        {"c": GRID3},
    ).scalar_one()
    open_editor(page, live)
    show(page, shape)
    page.click("#split-start")
    inside = shape.representative_point()
    click(page, inside.x, inside.y)  # pick the grid
    page.wait_for_function("() => document.querySelector('#split').textContent.length > 0")
    x0, y0, x1, y1 = shape.bounds
    x = (x0 + x1) / 2
    dy = (y1 - y0) * 0.15
    draw_line(page, [(x, y0 - dy), (x, y1 + dy)])
    page.wait_for_selector("#split-confirm")
    shown = [int(t) for t in page.locator("#split li [data-field=households]").all_text_contents()]
    assert len(shown) == 2
    assert sum(shown) == total  # the two parts hold the grid's households
    verdicts = page.locator("#split li [data-field=within]").all_text_contents()
    assert [v == "符合" for v in verdicts] == [30 <= n <= 150 for n in shown]
    assert page.locator("path.split-part").count() == 2  # both parts drawn before confirming
    assert grid_shape(conn, NEXT3) is None  # nothing stored yet

    page.click("#split-confirm")
    page.wait_for_selector("#message.ok")
    assert NEXT3 in page.text_content("#message")
    codes = page.evaluate("wangge.editor.items.getLayers().map(l => l.feature.properties.code)")
    assert GRID3 in codes
    assert NEXT3 in codes
    kept, new = grid_shape(conn, GRID3), grid_shape(conn, NEXT3)
    assert kept.union(new).symmetric_difference(shape).area < shape.area * 1e-6
    see_all(conn)
    counts = [
        conn.execute(
            text(
                "SELECT count(*) FROM household h JOIN grid g ON g.id = h.grid_id"
                " WHERE g.code = :c AND g.valid_to IS NULL"
            ),
            {"c": c},
        ).scalar_one()
        for c in (GRID3, NEXT3)
    ]
    assert counts == shown  # what the preview said is what was stored


# --- streets and lanes -----------------------------------------------------------------


def test_draw_a_lane_off_a_street(page: Page, live, demo_app_connection, open_editor) -> None:
    conn = demo_app_connection
    street_id, wkt = conn.execute(
        text(
            "SELECT s.id, ST_AsText(s.geom) FROM street s JOIN village v ON v.id = s.village_id"
            " WHERE v.code = '130999100201' ORDER BY s.id LIMIT 1"
        )
    ).one()
    street = shapely.from_wkt(wkt).geoms[0]
    a, b = street.interpolate(0.49, normalized=True), street.interpolate(0.51, normalized=True)
    dx, dy = b.x - a.x, b.y - a.y
    norm = (dx * dx + dy * dy) ** 0.5
    px, py = -dy / norm, dx / norm  # unit perpendicular, in degrees
    mid = street.interpolate(0.5, normalized=True)
    start = (mid.x + px * 1.2e-5, mid.y + py * 1.2e-5)  # about a metre off the street
    end = (mid.x + px * 1.8e-4, mid.y + py * 1.8e-4)  # about 17 m away
    open_editor(page, live)
    page.select_option("#edit-level", "lane:")
    page.wait_for_function("() => wangge.editor.loaded")
    assert page.locator(".leaflet-draw-draw-polygon").count() == 0  # lines only
    page.evaluate(
        "([lat, lon]) => wangge.map.setView([lat, lon], 19, {animate: false})",
        [(start[1] + end[1]) / 2, (start[0] + end[0]) / 2],
    )
    page.fill("#edit-name", "<b>新巷</b>")
    page.click(".leaflet-draw-draw-polyline")
    draw_line(page, [start, end])
    page.wait_for_selector("#message.ok")
    assert "<b>新巷</b>" in page.text_content("#message")  # shown as text
    row = conn.execute(
        text(
            "SELECT id, street_id, ST_AsText(ST_StartPoint(ST_GeometryN(geom, 1))) FROM lane"
            " WHERE name = '<b>新巷</b>'"
        )
    ).one()
    assert row.street_id == street_id
    assert shapely.from_wkt(row[2]).distance(street) < 1e-9  # the end was snapped on
    ids = page.evaluate("wangge.editor.items.getLayers().map(l => l.feature.properties.id)")
    assert row.id in ids


# --- a new village ---------------------------------------------------------------------


def test_admin_draws_a_village(page: Page, live, demo_app_connection, open_editor) -> None:
    conn = demo_app_connection
    wkt = conn.execute(
        text(
            "SELECT ST_AsText(ST_PointOnSurface(ST_Buffer(ST_Difference(t.geom,"
            " (SELECT ST_Union(geom) FROM village)), -0.003))) FROM town t ORDER BY t.code LIMIT 1"
        )
    ).scalar_one()
    c = shapely.from_wkt(wkt)
    d = 0.001
    ring = [(c.x - d, c.y - d), (c.x + d, c.y - d), (c.x + d, c.y + d), (c.x - d, c.y + d)]
    open_editor(page, live, "admin")
    page.select_option("#edit-level", "village:")
    page.wait_for_function("() => wangge.editor.loaded")
    show(page, shapely.geometry.Polygon(ring))
    page.fill("#edit-name", "鼠标新村")
    page.click(".leaflet-draw-draw-polygon")
    for lon, lat in [*ring, ring[0]]:
        click(page, lon, lat)
    page.wait_for_selector("#message.ok")
    assert "鼠标新村" in page.text_content("#message")
    code, geom = conn.execute(
        text("SELECT code, ST_AsText(geom) FROM village WHERE name = '鼠标新村'")
    ).one()
    drawn = shapely.geometry.Polygon(ring)
    assert shapely.from_wkt(geom).symmetric_difference(drawn).area < drawn.area * 0.05
    grid = conn.execute(
        text("SELECT count(*) FROM grid WHERE code = :c AND level = 1"), {"c": code + "0000"}
    ).scalar_one()
    assert grid == 1
    page.reload()
    page.select_option("#edit-level", "village:")
    page.wait_for_function("() => wangge.editor.loaded")
    codes = page.evaluate("wangge.editor.items.getLayers().map(l => l.feature.properties.code)")
    assert code in codes


# --- reshape and delete a lane ---------------------------------------------------------


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Press the mouse at ``start`` (lon, lat), move it in steps to ``end``, release."""
    x0, y0 = pixel(page, *start)
    x1, y1 = pixel(page, *end)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=8)
    page.mouse.up()
    page.wait_for_timeout(120)


def test_reshape_and_delete_a_lane_with_the_mouse(
    page: Page, live, demo_app_connection, open_editor
) -> None:
    conn = demo_app_connection
    # A dead-end lane off the middle of a street of the officer's village, 25 m long.
    street = shapely.from_wkt(
        conn.execute(
            text(
                "SELECT ST_AsText(s.geom) FROM street s JOIN village v ON v.id = s.village_id"
                " WHERE v.code = '130999100201' ORDER BY s.id LIMIT 1"
            )
        ).scalar_one()
    ).geoms[0]
    a, b = street.interpolate(0.49, normalized=True), street.interpolate(0.51, normalized=True)
    dx, dy = b.x - a.x, b.y - a.y
    norm = (dx * dx + dy * dy) ** 0.5
    px, py = -dy / norm, dx / norm
    start = street.interpolate(0.5, normalized=True)
    end = (start.x + px * 2.5e-4, start.y + py * 2.5e-4)
    lane_id = conn.execute(
        text(
            "INSERT INTO lane (village_id, name, geom) VALUES ((SELECT id FROM village"
            " WHERE code = '130999100201'), '鼠标巷', ST_Multi(ST_GeomFromText(:g, 4490)))"
            " RETURNING id"
        ),
        {"g": shapely.geometry.LineString([(start.x, start.y), end]).wkt},
    ).scalar_one()
    open_editor(page, live)
    page.select_option("#edit-level", "lane:")
    page.wait_for_function("() => wangge.editor.loaded")
    page.evaluate(
        "([lat, lon]) => wangge.map.setView([lat, lon], 19, {animate: false})",
        [(start.y + end[1]) / 2, (start.x + end[0]) / 2],
    )

    # Reshape: drag the free end sideways by about 8 m, then save the edit.
    moved = (end[0] - py * 8e-5, end[1] + px * 8e-5)
    page.click(".leaflet-draw-edit-edit")
    drag(page, end, moved)
    page.click('.leaflet-draw-actions a[title="Save changes"]')
    page.wait_for_selector("#message.ok")
    assert "鼠标巷" in page.text_content("#message")
    assert "(v2)" in page.text_content("#message")
    version, wkt = conn.execute(
        text("SELECT version, ST_AsText(geom) FROM lane WHERE id = :i"), {"i": lane_id}
    ).one()
    assert version == 2
    stored = shapely.from_wkt(wkt).geoms[0]
    # The end on the street stayed there (to the 7 decimals the page gets, snapped back on).
    assert shapely.Point(stored.coords[0]).distance(start) < 1e-6
    assert shapely.Point(stored.coords[0]).distance(street) < 1e-9
    far = shapely.Point(stored.coords[-1])
    metres = 1 / 111_320
    assert far.distance(shapely.Point(moved)) < 2 * metres  # where the mouse let go
    assert far.distance(shapely.Point(end)) > 5 * metres

    # Delete: the remove tool, a click on the lane, save.
    page.click(".leaflet-draw-edit-remove")
    mid = stored.interpolate(0.5, normalized=True)
    click(page, mid.x, mid.y)
    page.click('.leaflet-draw-actions a[title="Save changes"]')
    page.wait_for_selector("#message.ok >> text=已删除")
    gone = conn.execute(text("SELECT count(*) FROM lane WHERE id = :i"), {"i": lane_id})
    assert gone.scalar_one() == 0
    actions = conn.execute(
        text(
            "SELECT action, detail->>'version' FROM audit_log WHERE object_type = 'lane'"
            " AND object_id = :i ORDER BY id"
        ),
        {"i": str(lane_id)},
    ).all()
    assert [tuple(a) for a in actions] == [("boundary.update", "2"), ("boundary.delete", "2")]
    ids = page.evaluate("wangge.editor.items.getLayers().map(l => l.feature.properties.id)")
    assert lane_id not in ids


# --- split a village -------------------------------------------------------------------


def test_admin_splits_a_village_with_the_mouse(
    page: Page, live, demo_app_connection, open_editor
) -> None:
    conn = demo_app_connection
    village, moving, new_code = "130999100201", "1309991002010100", "130999100220"
    v = shapely.from_wkt(
        conn.execute(
            text("SELECT ST_AsText(geom) FROM village WHERE code = :c"), {"c": village}
        ).scalar_one()
    )
    g = grid_shape(conn, moving)
    # The moving grid's edge inside the village, drawn by clicking its vertices, with the
    # ends 25 m outside; the server snaps the clicks (≈ 1 m apart) onto the edge.
    edge = list(shapely.line_merge(g.boundary.difference(v.boundary.buffer(1e-6))).coords)

    def beyond(p, q, metres=25.0):
        d = ((q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2) ** 0.5
        k = metres / 111_320 / d
        return (q[0] + (q[0] - p[0]) * k, q[1] + (q[1] - p[1]) * k)

    points = [beyond(edge[1], edge[0]), *edge[1:-1], beyond(edge[-2], edge[-1])]
    see_all(conn)
    in_moving = conn.execute(
        text(
            "SELECT count(*) FROM household h JOIN grid g ON g.id = h.grid_id"
            " WHERE g.parent_id = (SELECT id FROM grid WHERE code = :c)"
        ),
        {"c": moving},
    ).scalar_one()
    open_editor(page, live, "admin")
    page.select_option("#edit-level", "village:")
    page.wait_for_function("() => wangge.editor.loaded")
    show(page, v)
    assert page.is_visible("#split-start")
    page.click("#split-start")
    inside = v.difference(g).representative_point()
    click(page, inside.x, inside.y)  # pick the village
    page.wait_for_function("() => document.querySelector('#split').textContent.length > 0")
    draw_line(page, points)
    page.wait_for_selector("#split-confirm")
    shown = [int(t) for t in page.locator("#split li [data-field=households]").all_text_contents()]
    assert shown[1] == in_moving  # the new village holds the moving grid's households
    recoded = page.locator("#split .split-recoded li").all_text_contents()
    assert recoded[0].startswith(f"{moving} → {new_code}0100")
    assert page.text_content("#split [data-move=households] b") == str(in_moving)
    assert (
        conn.execute(
            text("SELECT count(*) FROM village WHERE code = :c"), {"c": new_code}
        ).scalar_one()
        == 0
    )  # nothing stored yet

    page.click("#split-confirm")
    page.wait_for_selector("#message.ok")
    assert new_code in page.text_content("#message")
    codes = page.evaluate("wangge.editor.items.getLayers().map(l => l.feature.properties.code)")
    assert village in codes
    assert new_code in codes
    see_all(conn)
    stored = conn.execute(
        text(
            "SELECT count(*) FROM household h JOIN village v ON v.id = h.village_id"
            " WHERE v.code = :c"
        ),
        {"c": new_code},
    ).scalar_one()
    assert stored == in_moving
    assert grid_shape(conn, new_code + "0100") is not None
    assert grid_shape(conn, moving) is None
