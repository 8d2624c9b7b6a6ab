"""The hotspot layers of the patrol map in Chromium: hot vs hot core, popups in words, the
legends naming the runs shown, the trend layer and the heat layer drawn from our density."""

from __future__ import annotations

from playwright.sync_api import Page


def test_patrol_map_hotspots_trends_and_heat(page: Page, live, login) -> None:
    login(page, live, "patrol", "/map/patrol")
    page.wait_for_function("() => wangge.patrol && wangge.patrol.loaded > 0")
    legend = page.text_content("#hotspot-legend")
    for words in ("热点核心", "热点", "时段", "格网 75 米", "新增", "加剧", "持续", "减弱", "零星"):
        assert words in legend
    # Hot and hot-core cells in their own colours, popups in words (no raw class codes).
    cells = page.evaluate(
        """() => wangge.patrol.groups.hotspots.getLayers().map(l => ({
             cls: l.feature.properties['class'], fill: l.options.fillColor,
             text: l.getPopup().getContent().textContent}))"""
    )
    colours = {c["cls"]: c["fill"] for c in cells}
    assert set(colours) == {"hot", "hot_core"}
    assert colours["hot"] != colours["hot_core"]
    core = next(c for c in cells if c["cls"] == "hot_core")
    assert core["text"].startswith("热点核心")
    assert "事件数" in core["text"]
    assert all("hot_core" not in c["text"] for c in cells)

    page.check("#show-emerging")
    page.wait_for_function("() => wangge.hotspots.emergingLoaded > 0")
    trends = page.evaluate(
        """() => wangge.hotspots.emerging.getLayers().map(l =>
             l.getPopup().getContent().querySelector('b').textContent)"""
    )
    assert trends
    assert set(trends) <= {"新增", "连续", "加剧", "持续", "减弱", "零星", "反复", "历史"}

    page.check("#show-heat")
    page.wait_for_function("() => wangge.hotspots.heatLoaded > 0")
    assert page.locator("img.heat-raster").count() == 1
    breaks = page.locator("#heat-legend .heat-break").all_text_contents()
    assert len(breaks) == 5
    assert all("起/平方公里" in b for b in breaks)
    page.uncheck("#show-heat")
    assert page.locator("img.heat-raster").count() == 0
