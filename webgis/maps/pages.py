"""Building the map pages with folium: one shell per page, data fetched by the page.

Folium composes the map (Leaflet, our vector-tile layers, a layer control);
everything that changes with the data comes from endpoints, fetched by small
scripts in ``static/app/`` (research/webgis_ecosystem.md §1.5, pattern 3). A
page's HTML therefore stays a few tens of kilobytes whatever the data size.

Two rules live here and nowhere else:

* **CSP**: folium writes inline ``<script>`` blocks; :func:`render_map` gives
  each the request's nonce and refuses inline event handlers.
* **Escaping**: folium inserts plain-string popups as raw HTML;
  :func:`safe_popup` is the one way our pages build popups, from escaped values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import folium
from folium import plugins
from folium.elements import JSCSSMixin, MacroElement
from folium.template import Template
from markupsafe import Markup, escape

from webgis.maps.offline import VectorTileLayer, offline_map

__all__ = ["MapParts", "Plugins", "base_layers", "new_map", "render_map", "safe_popup"]

#: Demo-town centre; pages fit their own bounds as soon as they know them.
DEFAULT_CENTRE = (38.20, 116.10)

_SCRIPT_TAG = re.compile(r"<script(?![^>]*\bnonce=)", re.IGNORECASE)
_INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


@dataclass(frozen=True)
class MapParts:
    """A rendered map split for our Jinja layout: header tags, the map div, its script."""

    header: Markup
    html: Markup
    script: Markup
    name: str


class Plugins(JSCSSMixin, MacroElement):
    """Load vendored plugin scripts (cluster, heat, draw) without folium's behaviour.

    Folium's ``Draw`` adds a click handler that ``alert()``s the shape, and its
    ``MarkerCluster``/``HeatMap`` want their data embedded; our scripts build
    these layers from fetched data instead. The asset lists are read from the
    folium classes *after* :func:`webgis.maps.use_local_assets` re-pointed them,
    so they are the vendored copies.
    """

    _template = Template("")

    def __init__(self, *, cluster: bool = False, heat: bool = False, draw: bool = False):
        super().__init__()
        self._name = "Plugins"
        js: list[tuple[str, str]] = []
        css: list[tuple[str, str]] = []
        for wanted, cls in (
            (cluster, plugins.MarkerCluster),
            (heat, plugins.HeatMap),
            (draw, plugins.Draw),
        ):
            if wanted:
                js += cls.default_js
                css += cls.default_css
        self.default_js = js
        self.default_css = css


class Handle(MacroElement):
    """Publish the map and its named layers as ``window.wangge`` for the page's scripts."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            window.wangge = {
                map: {{ this._parent.get_name() }},
                layers: { {% for key, layer in this.layers.items() %}
                    {{ key|tojson }}: {{ layer.get_name() }},{% endfor %}
                },
                config: {{ this.config|tojson }}
            };
        {% endmacro %}
        """
    )

    def __init__(self, layers: Mapping[str, Any], config: Mapping[str, Any]):
        super().__init__()
        self._name = "Handle"
        self.layers = dict(layers)
        self.config = dict(config)


def new_map(*, zoom_start: int = 14, location=DEFAULT_CENTRE, tianditu_key: str | None = None):
    """An offline map; a Tianditu layer is added only when a key is configured.

    Without a key the basemap is drawn from our own layers (:func:`base_layers`).
    """
    m = offline_map(location=location, zoom_start=zoom_start, min_zoom=10, control_scale=True)
    if tianditu_key:
        # The key is a deployment setting, not user text; Tianditu serves CGCS2000
        # web-mercator tiles, which line up with our data without correction.
        folium.TileLayer(
            tiles="https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
            "&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
            "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=" + tianditu_key,
            attr="天地图",
            name="天地图",
            subdomains="01234567",
            max_zoom=18,
        ).add_to(m)
    return m


def _tiles(layer: str, name: str, style: Mapping[str, Any], *, show: bool = True, **kw: Any):
    return VectorTileLayer(
        f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf",
        name=name,
        layer_styles={layer: dict(style)},
        show=show,
        **kw,
    )


def base_layers(
    m: folium.Map, t, *, captains: bool = True, households: bool = False
) -> dict[str, VectorTileLayer]:
    """The basemap from our own layers: water, villages, streets, lanes, grids, captain areas.

    ``t`` is the page's translate function. Areas are interactive, so a click
    tells the page which area was meant (its id travels in the tile).
    """
    layers = {
        "water": _tiles(
            "water",
            t("map.water"),
            {
                "color": "#6aa9d8",
                "weight": 1,
                "fill": True,
                "fillColor": "#b9dcf2",
                "fillOpacity": 0.8,
            },
        ),
        "villages": _tiles(
            "villages",
            t("map.villages"),
            {
                "color": "#5b4636",
                "weight": 2,
                "fill": True,
                "fillColor": "#f3eee4",
                "fillOpacity": 0.5,
                "interactive": True,
            },
        ),
        "streets": _tiles(
            "streets", t("map.streets"), {"color": "#9a8c7a", "weight": 3}, min_zoom=13
        ),
        "lanes": _tiles("lanes", t("map.lanes"), {"color": "#c2b8a8", "weight": 1}, min_zoom=15),
        "grids": _tiles(
            "grids",
            t("map.grids"),
            {
                "color": "#3064a0",
                "weight": 1.5,
                "fill": True,
                "fillOpacity": 0.05,
                "dashArray": "4 3",
                "interactive": True,
            },
        ),
    }
    if households:
        # Points from z15 only: a z12 tile of a county holds tens of thousands.
        layers["households"] = _tiles(
            "households",
            t("households"),
            {"radius": 2, "weight": 0, "fill": True, "fillColor": "#495057", "fillOpacity": 0.7},
            min_zoom=15,
        )
    if captains:
        layers["captain_areas"] = _tiles(
            "captain_areas",
            t("map.captain_areas"),
            {
                "color": "#b35c1e",
                "weight": 1,
                "fill": True,
                "fillOpacity": 0.08,
                "interactive": True,
            },
            show=False,
            min_zoom=15,
        )
    for layer in layers.values():
        layer.add_to(m)
    return layers


def safe_popup(fields: Mapping[str, Any], *, title: str | None = None) -> folium.Popup:
    """A popup built from escaped text only: the one way our pages make popups.

    ``folium.Popup(text)`` and GeoJson popup fields insert raw HTML
    (research/reliability_security.md §2.1); here every label and value goes
    through :func:`markupsafe.escape` first, and the result is handed over as
    finished markup.
    """
    rows = Markup("").join(
        Markup("<tr><th>{}</th><td>{}</td></tr>").format(k, "" if v is None else v)
        for k, v in fields.items()
    )
    head = Markup("<strong>{}</strong>").format(title) if title else Markup("")
    html = Markup('{}<table class="popup">{}</table>').format(head, rows)
    return folium.Popup(str(html), max_width=320)


def render_map(m: folium.Map, nonce: str) -> MapParts:
    """Render ``m`` for our layout: every inline script gets ``nonce``; no inline handlers.

    Raises
    ------
    ValueError
        When folium produced an inline event handler (``onclick=`` …), which the
        CSP would block: a folium upgrade or a new element needs a look.
    """
    root = m.get_root()
    root.render()
    header, html, script = root.header.render(), root.html.render(), root.script.render()
    for part in (header, html):
        if _INLINE_HANDLER.search(part):
            raise ValueError("folium rendered an inline event handler, which the CSP blocks")
    header = _SCRIPT_TAG.sub(f'<script nonce="{escape(nonce)}"', header)
    return MapParts(Markup(header), Markup(html), Markup(script), m.get_name())


def text_escape(value: Any) -> str:
    """Escape for HTML text and attributes (for callers outside Jinja)."""
    return str(escape(value))
