"""Folium pages with vendored assets: nothing leaves our origin, every plugin works."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import folium
import pytest
from flask import Flask, Response, abort
from folium import plugins
from folium.utilities import JsCode
from playwright.sync_api import Page

from webgis.maps.offline import (
    VENDORED,
    UnvendoredAssetError,
    VectorTileLayer,
    offline_map,
    remote_asset_urls,
    use_local_assets,
)

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "static" / "vendor"
CENTRE = (29.90, 116.10)


@pytest.fixture(autouse=True)
def _local_assets() -> None:
    use_local_assets("/static/vendor")


# --- a tiny app: static/, registered pages, and test vector tiles -----------------


def make_app(pages: Mapping[str, str]) -> Flask:
    app = Flask(__name__, static_folder=str(ROOT / "static"), static_url_path="/static")

    @app.get("/page/<name>")
    def page(name: str) -> str:
        return pages.get(name) or abort(404)

    @app.get("/tiles/<layer>/<int:z>/<int:x>/<int:y>.pbf")
    def tiles(layer: str, z: int, x: int, y: int) -> Response:
        # One square in the middle of every tile, named after the tile.
        body = mvt_tile(layer, [(1024, 1024, 2048, {"name": f"网格 {z}/{x}/{y}"})])
        return Response(body, mimetype="application/vnd.mapbox-vector-tile")

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)

    return app


# --- a minimal Mapbox vector tile encoder (MVT 2.1), enough for test squares ------


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):  # varint
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _packed(number: int, values: Sequence[int]) -> bytes:
    return _field(number, b"".join(_varint(v) for v in values))


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 31)


def mvt_tile(layer: str, squares: Sequence[tuple[int, int, int, Mapping[str, str]]]) -> bytes:
    """One layer of squares ``(x0, y0, size, properties)`` in tile units (0..4096)."""
    keys: list[str] = []
    values: list[str] = []
    features = b""
    for fid, (x0, y0, size, props) in enumerate(squares, start=1):
        tags: list[int] = []
        for k, v in props.items():
            keys += [k] if k not in keys else []
            values += [v] if v not in values else []
            tags += [keys.index(k), values.index(v)]
        # MoveTo(1), LineTo(3), ClosePath: a clockwise ring in y-down tile space,
        # which MVT reads as a polygon's exterior.
        steps = [x0, y0, size, 0, 0, size, -size, 0]
        geometry = [9, *map(_zigzag, steps[:2]), 26, *map(_zigzag, steps[2:]), 15]
        features += _field(
            2, _field(1, fid) + _packed(2, tags) + _field(3, 3) + _packed(4, geometry)
        )
    body = (
        _field(15, 2)
        + _field(1, layer.encode())
        + features
        + b"".join(_field(3, k.encode()) for k in keys)
        + b"".join(_field(4, _field(1, v.encode())) for v in values)
        + _field(5, 4096)
    )
    return _field(3, body)


# --- the map under test ------------------------------------------------------------


def full_map() -> tuple[folium.Map, dict[str, str]]:
    """A map with every plugin we vendor; returns it and its JS variable names."""
    rng = random.Random(7)
    m = offline_map(location=CENTRE, zoom_start=14)
    points = [
        (CENTRE[0] + rng.uniform(-0.02, 0.02), CENTRE[1] + rng.uniform(-0.03, 0.03))
        for _ in range(200)
    ]
    cluster = plugins.MarkerCluster(locations=points, name="事件").add_to(m)
    heat = plugins.HeatMap([(*p, rng.random()) for p in points], name="热力").add_to(m)
    draw = plugins.Draw().add_to(m)
    tiles = VectorTileLayer(
        "/tiles/grids/{z}/{x}/{y}.pbf",
        name="网格",
        layer_styles={
            "grids": {"color": "#3064a0", "weight": 1, "fill_opacity": 0.2, "interactive": True}
        },
    ).add_to(m)
    tiles.on(click=JsCode("function (e) { window.clickedFeature = e.layer.properties; }"))
    folium.Marker(CENTRE, icon=folium.Icon(icon="home", prefix="fa")).add_to(m)
    folium.LayerControl().add_to(m)
    names = {
        k: v.get_name()
        for k, v in dict(map=m, cluster=cluster, heat=heat, draw=draw, tiles=tiles).items()
    }
    return m, names


# --- without a browser ---------------------------------------------------------------


def test_rendered_page_names_no_remote_url() -> None:
    m, _ = full_map()
    html = m.get_root().render()
    assert remote_asset_urls(html) == []
    assert "http://" not in html
    assert "https://" not in html
    assert "L.tileLayer" not in html  # no OpenStreetMap basemap


def test_remote_asset_urls_finds_cdn_links() -> None:
    html = (
        '<script src="https://unpkg.com/x.js"></script><link href=//cdn.example/a.css>'
        '<div style="background:url(\'http://t.example/1.png\')"></div><img src="/static/ok.png">'
    )
    assert remote_asset_urls(html) == [
        "https://unpkg.com/x.js",
        "//cdn.example/a.css",
        "http://t.example/1.png",
    ]


def test_offline_map_refuses_public_tiles() -> None:
    with pytest.raises(ValueError, match="public tile server"):
        offline_map(tiles="OpenStreetMap")


def test_vector_tiles_must_be_same_origin() -> None:
    with pytest.raises(ValueError, match="this origin"):
        VectorTileLayer("https://tiles.example/{z}/{x}/{y}.pbf")


def test_vector_tile_layer_names_are_kept_verbatim() -> None:
    m = offline_map(location=CENTRE)
    VectorTileLayer(
        "/t/{z}/{x}/{y}.pbf", layer_styles={"grid_cells": {"fill_color": "red"}}
    ).add_to(m)
    html = m.get_root().render()
    assert '{"grid_cells": {\n  "fillColor": "red",\n}}' in html


def test_unknown_folium_asset_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    # What a folium upgrade adding a resource to Draw would look like.
    monkeypatch.setattr(
        plugins.Draw,
        "default_js",
        [*plugins.Draw.default_js, ("new_js", "https://cdn.example/new.js")],
    )
    with pytest.raises(UnvendoredAssetError, match="new_js"):
        use_local_assets()


def test_use_local_assets_takes_a_url_function() -> None:
    try:
        use_local_assets(lambda path: f"/sub/static/vendor/{path}?v=1")
        html = offline_map().get_root().render()
        assert '<script src="/sub/static/vendor/leaflet@1.9.4/dist/leaflet.js?v=1">' in html
    finally:
        use_local_assets()


def test_manifest_matches_vendored_files() -> None:
    manifest = json.loads((VENDOR / "manifest.json").read_text(encoding="utf-8"))
    on_disk = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()}
    assert on_disk - {"manifest.json"} == set(manifest["files"])
    for rel, info in manifest["files"].items():
        assert hashlib.sha256((VENDOR / rel).read_bytes()).hexdigest() == info["sha256"], rel
        assert info["license"], rel
    for per_class in VENDORED.values():
        assert set(per_class.values()) <= set(manifest["files"])


def test_css_urls_resolve_to_vendored_files() -> None:
    for css in VENDOR.rglob("*.css"):
        for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)", css.read_text(encoding="utf-8")):
            if ref.startswith(("data:", "#")):
                continue
            target = (css.parent / ref.split("?")[0].split("#")[0]).resolve()
            assert target.is_file(), f"{css.relative_to(VENDOR)} refers to missing {ref}"


# --- in Chromium ---------------------------------------------------------------------

LAYERS_JS = """
(names) => {
  const m = window[names.map];
  const found = {cluster: 0, clustered: 0, heat: 0, tiles: 0};
  m.eachLayer((l) => {
    if (l instanceof L.MarkerClusterGroup) {
      found.cluster++;
      found.clustered = l.getLayers().length;
    }
    else if (l instanceof L.HeatLayer) found.heat++;
    else if (l === window[names.tiles]) found.tiles++;
  });
  return {
    version: L.version,
    ...found,
    tilePaths: window[names.tiles].getContainer().querySelectorAll("path").length,
    heatCanvas: document.querySelectorAll("canvas.leaflet-heatmap-layer").length,
    drawButtons: document.querySelectorAll(".leaflet-draw-toolbar a").length,
    faLoaded: document.fonts.check('900 16px "Font Awesome 6 Free"'),
  };
}
"""


def test_full_map_loads_offline(page: Page, page_log, serve) -> None:
    m, names = full_map()
    base = serve(make_app({"map": m.get_root().render()}))
    page.goto(f"{base}/page/map")
    # Wait on the map's own state, not on `networkidle` (it raced on tile pages).
    page.wait_for_function(
        """(n) => typeof L !== "undefined" && window[n.map] && window[n.tiles]
                  && window[n.tiles].getContainer()
                  && window[n.tiles].getContainer().querySelectorAll("path").length > 0""",
        arg=names,
    )
    page.evaluate("document.fonts.ready")
    got = page.evaluate(LAYERS_JS, names)
    assert got["version"] == "1.9.4"
    assert (got["cluster"], got["clustered"]) == (1, 200)
    assert (got["heat"], got["heatCanvas"]) == (1, 1)
    assert got["tiles"] == 1
    assert got["tilePaths"] >= 4  # one square per visible tile
    assert got["drawButtons"] >= 5  # polyline, polygon, rectangle, circle, marker…
    assert got["faLoaded"]
    # A vector-tile feature answers clicks with its properties (VectorGrid could not).
    # Click the centre of a square no marker or cluster icon covers.
    point = page.evaluate(
        """(n) => {
          for (const path of window[n.tiles].getContainer().querySelectorAll("path")) {
            const r = path.getBoundingClientRect();
            const x = r.x + r.width / 2, y = r.y + r.height / 2;
            if (document.elementFromPoint(x, y) === path) return {x, y};
          }
          return null;
        }""",
        names,
    )
    assert point is not None, "no vector-tile square is clickable"
    page.mouse.click(point["x"], point["y"])
    page.wait_for_function("() => window.clickedFeature !== undefined")
    assert page.evaluate("window.clickedFeature.name").startswith("网格 14/")
    assert page_log.console_errors == []
    assert page_log.off_origin == []


def test_off_origin_requests_are_caught(page: Page, page_log, serve) -> None:
    html = """<!doctype html><html><head>
      <script src="https://unpkg.com/leaflet@1.9.4/dist/leaflet.js"></script>
      <link rel="stylesheet" href="//cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.css">
    </head><body><img src="https://tile.openstreetmap.org/1/1/1.png"></body></html>"""
    base = serve(make_app({"cdn": html}))
    page.goto(f"{base}/page/cdn")
    page.wait_for_load_state("load")
    assert sorted(page_log.off_origin) == [
        "http://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.css",
        "https://tile.openstreetmap.org/1/1/1.png",
        "https://unpkg.com/leaflet@1.9.4/dist/leaflet.js",
    ]
    assert any("unpkg.com" in p for p in page_log.problems())  # what fails a test
    # Seen and expected: clear them so the page fixture's own check passes.
    page_log.off_origin.clear()
