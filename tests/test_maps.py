"""Map pages without a browser: access, size, no remote asset, escaping, the JSON behind them."""

from __future__ import annotations

import re

import folium
import pytest
from sqlalchemy import text

from webgis.maps.offline import offline_map, remote_asset_urls
from webgis.maps.pages import safe_popup

PAGES = ["/map", "/map/incidents", "/map/patrol", "/map/edit", "/grids/1309991002010100"]
PAYLOAD = "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_small_offline_and_nonced(signed_in, path):
    r = signed_in("officer").get(path)
    assert r.status_code == 200, r.data[:500]
    html = r.get_data(as_text=True)
    assert len(r.data) < 300_000  # layers come from endpoints, never embedded
    assert remote_asset_urls(html) == []
    nonce = re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or f'nonce="{nonce}"' in tag, tag
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", html)  # no inline handlers
    assert "window.wangge" in html


def test_pages_need_a_login(demo_app):
    r = demo_app.test_client().get("/map")
    assert r.status_code == 302
    assert "/login" in r.headers["Location"]


def test_editor_and_incident_map_by_role(signed_in):
    assert signed_in("police_a").get("/map/edit").status_code == 403
    assert signed_in("resident").get("/map/incidents").status_code == 403
    assert signed_in("police_a").get("/map/incidents").status_code == 200
    assert signed_in("resident").get("/map").status_code == 200


def test_grid_page_is_a_notice_board(signed_in):
    r = signed_in("officer").get("/grids/1309991002010100")
    html = r.get_data(as_text=True)
    assert "社区民警" in html  # the 铁三角 team
    phones = re.findall(r'<span class="phone">([^<]*)</span>', html)
    assert phones
    assert all("****" in p for p in phones if p)  # masked
    assert signed_in("officer").get("/grids/0000000000").status_code == 404


def test_area_info_masks_phones(signed_in):
    client = signed_in("admin")
    data = client.get("/api/map/areas/captain_areas/1").get_json()
    assert data["kind"] == "captain_area"
    assert data["households"] >= 0
    assert data["people"]
    assert all("****" in p["phone"] for p in data["people"] if p["phone"])
    assert client.get("/api/map/areas/persons/1").status_code == 404


def test_patrol_layers_answer_empty_collections(signed_in):
    data = signed_in("patrol").get("/api/map/patrol?bbox=116,38.1,116.2,38.3").get_json()
    assert set(data) == {"routes", "checkpoints", "hotspots", "tracks"}
    assert signed_in("patrol").get("/api/map/patrol?bbox=1,2").status_code == 400


def test_safe_popup_escapes():
    m = offline_map(location=(38.2, 116.1))
    folium.Marker((38.2, 116.1), popup=safe_popup({"描述": PAYLOAD}, title=PAYLOAD)).add_to(m)
    html = m.get_root().render()
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_grid_name_is_escaped_on_its_page(signed_in, demo_app_connection):
    demo_app_connection.execute(
        text("UPDATE grid SET name = :n WHERE code = '1309991002010100'"), {"n": PAYLOAD}
    )
    html = signed_in("admin").get("/grids/1309991002010100").get_data(as_text=True)
    assert PAYLOAD not in html
    assert "&lt;img" in html


def test_overdue_incidents_are_flagged(signed_in, demo_app_connection):
    """A running case past its due time carries overdue=true on the map's feed."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    demo_app_connection.execute(text("SELECT set_config('wangge.incident_all', 'on', true)"))
    late, on_time = (
        demo_app_connection.execute(
            text(
                "SELECT id FROM incident WHERE grid_id IN (SELECT id FROM grid WHERE parent_id ="
                " (SELECT id FROM grid WHERE code = '1309991002010100')) ORDER BY id LIMIT 2"
            )
        )
        .scalars()
        .all()
    )
    now = datetime.now(UTC)
    for incident, due in ((late, now - timedelta(hours=2)), (on_time, now + timedelta(days=2))):
        demo_app_connection.execute(
            text("UPDATE incident SET status = 'in_progress', due_at = :d WHERE id = :i"),
            {"d": due, "i": incident},
        )
    features = signed_in("police_a").get("/api/incidents").get_json()["features"]
    flags = {f["id"]: f["properties"]["overdue"] for f in features}
    assert flags[late] is True
    assert flags[on_time] is False
