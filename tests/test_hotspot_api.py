"""Hotspot runs on the web: the runs list, Gi* and emerging runs, the heat layer, refusals."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.errors import Invalid
from layers.hotspots.heat import heat_raster
from layers.hotspots.runs import run_features, run_hotspots
from layers.hotspots.trends import ALL_CATEGORIES, MIN_STEPS, run_emerging, step_edges

VILLAGE_A = "130999100201"


@pytest.fixture
def owner(demo_connection):
    with Session(bind=demo_connection, join_transaction_mode="create_savepoint") as s:
        yield s


# -- the layers ------------------------------------------------------------------------------


def test_step_edges_count_back_from_the_last_day():
    edges = step_edges(date(2024, 11, 1), date(2026, 10, 31), "month")
    assert len(edges) == 25
    assert edges[0] == date(2024, 11, 1)
    assert edges[-1] == date(2026, 11, 1)  # exclusive end: the final month is whole
    # A period that starts mid-month drops the partial first month.
    edges = step_edges(date(2026, 1, 15), date(2026, 6, 30), "month")
    assert edges[0] == date(2026, 2, 1)
    weeks = step_edges(date(2026, 1, 1), date(2026, 1, 31), "week")
    assert [(b - a).days for a, b in itertools.pairwise(weeks)] == [7] * 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"alpha": 2.0}, "0 与 1 之间"),
        ({"alpha": 0.0}, "alpha"),
        ({"cell_m": 5.0}, "格网边长"),
        ({"category": "99"}, "未知的事件大类"),
        ({"step": "day"}, "时间步长"),
        ({"since": date(2026, 7, 1)}, f"至少需要 {MIN_STEPS} 个"),
        ({"since": date(2027, 1, 1)}, "结束日期早于开始日期"),
    ],
)
def test_emerging_run_refuses_bad_input_in_both_languages(owner, change, message):
    args = {"since": date(2024, 11, 1), "until": date(2026, 10, 31), **change}
    with pytest.raises(Invalid, match=message) as caught:
        run_emerging(owner, **args)
    assert " / " in caught.value.message  # Chinese first, then English


def test_gistar_run_refuses_a_bad_alpha(owner):
    with pytest.raises(Invalid, match=r"0 与 1 之间.* / alpha"):
        run_hotspots(owner, since=date(2025, 11, 1), until=date(2026, 10, 31), alpha=2)


def test_emerging_run_is_stored_and_served_with_its_categories(owner):
    out = run_emerging(owner, since=date(2024, 11, 1), until=date(2026, 10, 31), step="quarter")
    assert out["steps"] == 8
    served = run_features(owner, out["run_id"])
    assert served["run"]["method"] == "emerging"
    assert served["run"]["step"] == "quarter"
    assert served["run"]["cell_m"] == 75.0
    classes = [f["properties"]["class"] for f in served["features"]]
    assert classes
    assert set(classes) <= set(ALL_CATEGORIES)
    # The stored counts per category are the cells served.
    assert {c: classes.count(c) for c in set(classes)} == out["categories"]
    # Hot trends, not only cold ones: the demo's planted hotspots are busy in the last quarter.
    assert {c for c in classes if not c.startswith("cold_")}
    # The latest emerging run is the default of its method.
    assert run_features(owner, method="emerging")["run"]["id"] == out["run_id"]


def test_heat_raster_covers_only_the_villages_asked(owner):
    village = owner.execute(
        text("SELECT id, ST_AsBinary(ST_Transform(geom, 4548)) FROM village WHERE code = :c"),
        {"c": VILLAGE_A},
    ).one()
    heat = heat_raster(owner, [village.id])
    assert not heat["empty"]
    assert len(heat["rows"]) == heat["height"]
    assert {len(r) for r in heat["rows"]} == {heat["width"]}
    levels = np.array([[int(c) for c in r] for r in heat["rows"]])
    assert levels.max() == 5  # the peak is the top level
    # Every coloured pixel lies in the village (its centre, within one pixel).
    (south, west), (north, east) = heat["bounds"]
    rows, cols = np.nonzero(levels)
    lon = west + (cols + 0.5) * (east - west) / heat["width"]
    lat = north - (rows + 0.5) * (north - south) / heat["height"]
    metric = Transformer.from_crs(4490, 4548, always_xy=True)
    outline = shapely.from_wkb(bytes(village[1]))
    mx, my = metric.transform(lon, lat)
    assert shapely.contains_xy(outline.buffer(heat["pixel_m"]), mx, my).all()
    n = owner.execute(
        text(
            "SELECT count(*) FROM incident WHERE village_id = :v AND reported_at >= :s"
            " AND reported_at < CAST(:u AS date) + 1"
        ),
        {"v": village.id, "s": heat["period"][0], "u": heat["period"][1]},
    ).scalar_one()
    assert heat["incidents"] == n > 0


# -- the API ---------------------------------------------------------------------------------


def test_runs_list_shows_the_demo_runs(signed_in):
    data = signed_in("admin").get("/api/hotspots/runs").get_json()
    by_method = {r["method"]: r for r in data["runs"]}
    assert set(by_method) == {"gistar", "emerging"}
    gistar, emerging = by_method["gistar"], by_method["emerging"]
    assert gistar["category"] is None
    assert gistar["cell_m"] == 75.0
    assert gistar["alpha"] == 0.05
    assert gistar["counts"]["hot"] >= gistar["counts"]["core"] > 0
    assert "hotspots" not in gistar["counts"]  # a list is short: no hotspot details
    assert emerging["step"] == "quarter"
    assert emerging["counts"]["steps"] == 8
    assert sum(emerging["counts"]["categories"].values()) > 0
    only = signed_in("patrol").get("/api/hotspots/runs?method=emerging").get_json()["runs"]
    assert [r["method"] for r in only] == ["emerging"]


def test_runs_are_served_by_id_and_method(signed_in):
    client = signed_in("police_a")
    runs = client.get("/api/hotspots/runs").get_json()["runs"]
    for run in runs:
        data = client.get(f"/api/hotspots?run={run['id']}").get_json()
        assert data["run"]["id"] == run["id"]
        assert data["features"]
    emerging = client.get("/api/hotspots?method=emerging").get_json()
    assert emerging["run"]["method"] == "emerging"
    assert {f["properties"]["class"] for f in emerging["features"]} <= set(ALL_CATEGORIES)
    gistar = client.get("/api/hotspots").get_json()
    assert {f["properties"]["class"] for f in gistar["features"]} <= {"hot", "hot_core", "cold"}
    assert "hot_core" in {f["properties"]["class"] for f in gistar["features"]}


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("/api/hotspots?run=abc", 400, "整数"),
        ("/api/hotspots?run=999999", 404, "#999999 不存在"),
        ("/api/hotspots?method=kde", 400, "gistar 或 emerging"),
        ("/api/hotspots?category=99", 400, "未知的事件大类"),
        ("/api/hotspots/runs?method=x", 400, "分析方法"),
        ("/api/hotspots/heat?since=2026-13-01", 400, "YYYY-MM-DD"),
        ("/api/hotspots/heat?since=2026-10-01&until=2026-01-01", 400, "早于"),
        ("/api/hotspots/heat?bandwidth=5", 400, "带宽"),
        ("/api/hotspots/heat?pixel=abc", 400, "数字"),
    ],
)
def test_bad_queries_get_a_clear_answer(signed_in, query, status, message):
    r = signed_in("officer").get(query)
    assert r.status_code == status
    assert message in r.get_json()["message"]
    assert " / " in r.get_json()["message"]


def test_no_run_stored_yet_is_an_empty_layer_not_an_error(signed_in, demo_app_connection):
    demo_app_connection.execute(text("DELETE FROM hotspot_run"))
    client = signed_in("officer")
    r = client.get("/api/hotspots?method=emerging")
    assert r.status_code == 200
    data = r.get_json()
    assert data["empty"] is True
    assert data["run"] is None
    assert data["features"] == []
    assert "尚未保存" in data["message"]
    assert client.get("/api/hotspots/runs").get_json() == {"runs": []}
    patrol = client.get("/api/map/patrol?bbox=116,38.1,116.2,38.3").get_json()
    assert patrol["hotspots"]["features"] == []
    assert patrol["hotspots"]["run"] is None
    html = client.get("/map/patrol").get_data(as_text=True)
    assert "尚未保存热点分析结果" in html


def test_hotspots_need_incidents_or_patrols(signed_in):
    client = signed_in("resident")
    for path in ("/api/hotspots", "/api/hotspots/runs", "/api/hotspots/heat"):
        assert client.get(path).status_code == 403


def test_heat_layer_is_the_users_villages_and_nothing_personal(signed_in, owner):
    officer = signed_in("officer").get("/api/hotspots/heat").get_json()
    admin = signed_in("admin").get("/api/hotspots/heat").get_json()
    patrol = signed_in("patrol").get("/api/hotspots/heat").get_json()
    keys = {
        "bounds", "width", "height", "rows", "levels", "breaks_per_km2", "incidents",
        "period", "category", "bandwidth_m", "pixel_m", "empty", "colours",
    }  # fmt: skip
    assert set(officer) == keys  # levels and counts only: no incident, no person
    village = owner.execute(text("SELECT id FROM village WHERE code = :c"), {"c": VILLAGE_A})
    village_id = village.scalar_one()
    mine = heat_raster(owner, [village_id])
    # The officer's and the patrol's layer is their village, every incident of it.
    assert officer["rows"] == mine["rows"]
    assert officer["incidents"] == mine["incidents"]
    assert patrol["rows"] == mine["rows"]
    # The town admin's covers the whole town.
    (s1, w1), (n1, e1) = officer["bounds"]
    (s2, w2), (n2, e2) = admin["bounds"]
    assert s2 <= s1
    assert w2 <= w1
    assert n2 >= n1
    assert e2 >= e1
    assert admin["incidents"] > officer["incidents"]
    one = signed_in("admin").get("/api/hotspots/heat?category=01").get_json()
    assert 0 < one["incidents"] < admin["incidents"]
    assert one["category"] == "01"


def test_patrol_map_shows_the_all_categories_run_with_its_legend(signed_in, owner):
    client = signed_in("officer")
    before = client.get("/api/map/patrol?bbox=116,38.1,116.2,38.3").get_json()["hotspots"]
    # A newer single-category run does not replace the all-categories one on the map.
    run_hotspots(owner, since=date(2025, 11, 1), until=date(2026, 10, 31), category="01")
    data = client.get("/api/map/patrol?bbox=116,38.1,116.2,38.3").get_json()["hotspots"]
    assert data["run"]["id"] == before["run"]["id"]
    assert data["run"]["category"] is None
    assert data["run"]["period"] == ["2025-11-01", "2026-10-31"]
    assert data["run"]["cell_m"] == 75.0
    assert "params" not in data["run"]
    assert {f["properties"]["class"] for f in data["features"]} == {"hot", "hot_core"}
    html = client.get("/map/patrol").get_data(as_text=True)
    for words in ("热点核心", "新增", "加剧", "持续", "减弱", "零星", "事件密度"):
        assert words in html
    assert "时段 2025-11-01 – 2026-10-31 · 类别 全部类别 · 格网 75 米" in html
    assert "时间步 季度" in html  # the emerging run's legend
    english = client.get("/map/patrol?lang=en").get_data(as_text=True)
    assert "Hotspot core" in english
    assert "Intensifying" in english
    assert "Period 2025-11-01 – 2026-10-31 · Category all categories · Cells 75 m" in english
