"""Folium pages that load every asset from our own origin.

Government intranets cannot reach a CDN, and by default folium links Leaflet,
jQuery, Bootstrap, Font Awesome and each plugin's scripts from five public
CDNs. The files are vendored from pinned npm packages into ``static/vendor/``
by ``tools/vendor-assets.py`` (``static/vendor/manifest.json`` lists them);
:func:`use_local_assets` points folium at them once, at app start-up.

Folium keeps its asset lists as *class* attributes (``default_js`` and
``default_css``, lists of ``(name, url)``), and even ``add_js_link`` on an
instance edits the class list in place, so the override is process-wide by
nature. We therefore assign fresh lists once, for every class we use, and
refuse to start when folium names an asset we have no local copy of: a folium
upgrade that adds a resource then fails loudly instead of quietly loading a CDN.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Final

import folium
from folium import plugins
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template, tojavascript
from folium.utilities import JsCode

__all__ = [
    "VENDORED",
    "UnvendoredAssetError",
    "VectorTileLayer",
    "offline_map",
    "remote_asset_urls",
    "use_local_assets",
]

StaticURL = Callable[[str], str] | str

_FOLIUM = "folium@0.20.0"
_LEAFLET = "leaflet@1.9.4/dist"
_AWESOME = "drmonty-leaflet-awesome-markers@2.0.2"
_DRAW = "leaflet-draw@1.0.4/dist"
_CLUSTER = "leaflet.markercluster@1.5.3/dist"

#: Folium resource name -> path under ``static/vendor/``, per element class.
#: Per class because names are not unique across folium (``BoatMarker`` also
#: calls its script ``markerclusterjs``). Subclasses that do not set their own
#: lists (``FastMarkerCluster``) inherit the override.
_FOLIUM_CLASSES: Final[dict[type[JSCSSMixin], dict[str, str]]] = {
    folium.Map: {
        "leaflet": f"{_LEAFLET}/leaflet.js",
        "jquery": "jquery@3.7.1/dist/jquery.min.js",
        "bootstrap": "bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js",
        "awesome_markers": f"{_AWESOME}/js/leaflet.awesome-markers.min.js",
        "leaflet_css": f"{_LEAFLET}/leaflet.css",
        "bootstrap_css": "bootstrap@5.2.2/dist/css/bootstrap.min.css",
        # folium.Icon's default prefix is "glyphicon"; Bootstrap 5 has none.
        "glyphicons_css": "glyphicons-only-bootstrap@1.0.1/css/bootstrap.min.css",
        "awesome_markers_font_css": "@fortawesome/fontawesome-free@6.2.0/css/all.min.css",
        "awesome_markers_css": f"{_AWESOME}/css/leaflet.awesome-markers.css",
        "awesome_rotate_css": f"{_FOLIUM}/leaflet.awesome.rotate.css",
    },
    plugins.Draw: {
        "leaflet_draw_js": f"{_DRAW}/leaflet.draw.js",
        "leaflet_draw_css": f"{_DRAW}/leaflet.draw.css",
    },
    plugins.MarkerCluster: {
        "markerclusterjs": f"{_CLUSTER}/leaflet.markercluster.js",
        "markerclustercss": f"{_CLUSTER}/MarkerCluster.css",
        "markerclusterdefaultcss": f"{_CLUSTER}/MarkerCluster.Default.css",
    },
    # folium's patched Leaflet.heat (weights fix), which its HeatMap template expects.
    plugins.HeatMap: {
        "leaflet-heat.js": "leaflet.heat@0.2.0-folium-0.20.0/leaflet_heat.min.js",
    },
    plugins.Realtime: {
        "Leaflet_Realtime_js": "leaflet-realtime@2.2.0/dist/leaflet-realtime.min.js",
    },
}

_VECTOR_TILE_JS: Final = "leaflet-vector-tile-layer@0.15.0/dist/VectorTileLayer.umd.min.js"


class UnvendoredAssetError(RuntimeError):
    """Folium asks for a script or stylesheet that ``static/vendor/`` lacks."""


class VectorTileLayer(JSCSSMixin, Layer):
    """A Mapbox vector tile (MVT) overlay from our own tile endpoint.

    Wraps ``leaflet-vector-tile-layer`` (global ``VectorTileLayer``), chosen
    over Leaflet.VectorGrid because VectorGrid's last release throws on clicks
    with Leaflet >= 1.8. Features are drawn as SVG, so ``interactive`` styles
    get Leaflet mouse events with ``e.layer.feature.properties``.

    Parameters
    ----------
    url : str
        Tile URL template on this origin, e.g. ``"/tiles/households/{z}/{x}/{y}.pbf"``.
        Absolute URLs are refused: pages must not leave the intranet.
    name : str, optional
        Name in a ``LayerControl``.
    style : dict or JsCode, optional
        One Leaflet path/circle style for every feature, or a JS function
        ``(feature, layerName, zoom) => style``. Wins over ``layer_styles``.
    layer_styles : mapping of str to dict or JsCode, optional
        Style per MVT layer name (``vectorTileLayerStyles``). Layer names are
        kept verbatim (folium would camel-case plain dict keys).
    layers : iterable of str, optional
        MVT layer names to draw, bottom to top; others are skipped.
    min_zoom, max_zoom : int, optional
        Zoom range in which the layer shows at all.
    min_detail_zoom, max_detail_zoom : int, optional
        Zoom range for which tiles are fetched; outside it the nearest level's
        tiles are re-rendered, so stroke widths stay constant.
    overlay, control, show : bool
        As for any folium ``Layer``.
    **options
        Further ``GridLayer``/``VectorTileLayer`` options (snake_case is
        camel-cased), e.g. ``attribution``, ``pane``, ``z_index``.

    Examples
    --------
    >>> m = offline_map(location=(29.9, 116.1), zoom_start=14)
    >>> VectorTileLayer(
    ...     "/tiles/grids/{z}/{x}/{y}.pbf",
    ...     name="网格",
    ...     layer_styles={"grids": {"color": "#3064a0", "weight": 1, "fill": False}},
    ... ).add_to(m)  # doctest: +ELLIPSIS
    <...VectorTileLayer object at ...>
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = VectorTileLayer(
                {{ this.url|tojavascript }},
                {{ this.options_js }}
            );
        {% endmacro %}
        """
    )

    default_js: ClassVar[list[tuple[str, str]]] = [
        ("leaflet_vector_tile_layer", f"/static/vendor/{_VECTOR_TILE_JS}")
    ]

    def __init__(
        self,
        url: str,
        name: str | None = None,
        *,
        style: Mapping[str, Any] | JsCode | None = None,
        layer_styles: Mapping[str, Mapping[str, Any] | JsCode] | None = None,
        layers: Iterable[str] | None = None,
        min_zoom: int | None = None,
        max_zoom: int | None = None,
        min_detail_zoom: int | None = None,
        max_detail_zoom: int | None = None,
        overlay: bool = True,
        control: bool = True,
        show: bool = True,
        **options: Any,
    ) -> None:
        if _is_remote(url):
            raise ValueError(f"vector tiles must come from this origin, not {url!r}")
        super().__init__(name=name, overlay=overlay, control=control, show=show)
        self._name = "VectorTileLayer"
        self.url = url
        opts: dict[str, Any] = {
            "style": style,
            "layers": list(layers) if layers is not None else None,
            "min_zoom": min_zoom,
            "max_zoom": max_zoom,
            "min_detail_zoom": min_detail_zoom,
            "max_detail_zoom": max_detail_zoom,
            **options,
        }
        if layer_styles is not None:
            opts["vector_tile_layer_styles"] = JsCode(_styles_by_layer(layer_styles))
        self.options = {k: v for k, v in opts.items() if v is not None}

    @property
    def options_js(self) -> str:
        """The options object as JavaScript (functions kept as code)."""
        return tojavascript(self.options)


def _styles_by_layer(layer_styles: Mapping[str, Mapping[str, Any] | JsCode]) -> str:
    # JSON-escape the layer names ourselves: tojavascript would camel-case
    # "grid_cells" into "gridCells", which matches no MVT layer.
    items = (f"{_js_string(name)}: {tojavascript(style)}" for name, style in layer_styles.items())
    return "{" + ", ".join(items) + "}"


def _js_string(text: str) -> str:
    # As folium's own escaping: nothing in the literal can close the <script>.
    return json.dumps(text).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_FOLIUM_CLASSES[VectorTileLayer] = {"leaflet_vector_tile_layer": _VECTOR_TILE_JS}

#: Every vendored path folium pages use, per element class (read-only view for tests).
VENDORED: Final[Mapping[type[JSCSSMixin], Mapping[str, str]]] = _FOLIUM_CLASSES


def use_local_assets(static_url: StaticURL = "/static/vendor") -> None:
    """Point folium's asset links at the vendored copies, process-wide.

    Call once from the app factory, before any map is rendered. Calling it
    again (another app in the same process, tests) just re-points the links.

    Parameters
    ----------
    static_url : str or callable
        Either the URL prefix under which ``static/vendor/`` is served
        (``"/static/vendor"``), or a function from a path relative to
        ``static/vendor/`` to its URL, for apps mounted under a prefix.

    Raises
    ------
    UnvendoredAssetError
        When one of the classes lists an asset name with no vendored file
        (typically after a folium upgrade added one).
    """
    if isinstance(static_url, str):
        prefix = static_url.rstrip("/")

        def url_for(path: str) -> str:
            return f"{prefix}/{path}"
    else:
        url_for = static_url

    for cls, local in _FOLIUM_CLASSES.items():
        # Names first, assign after: either every class is rewritten or none.
        missing = [name for name, _ in (*cls.default_js, *cls.default_css) if name not in local]
        if missing:
            raise UnvendoredAssetError(
                f"{cls.__module__}.{cls.__qualname__} loads {missing} with no copy in "
                "static/vendor/: add it to tools/vendor-assets.py and webgis/maps/offline.py"
            )
    for cls, local in _FOLIUM_CLASSES.items():
        cls.default_js = [(name, url_for(local[name])) for name, _ in cls.default_js]
        cls.default_css = [(name, url_for(local[name])) for name, _ in cls.default_css]


def offline_map(*, min_zoom: int | None = None, max_zoom: int = 19, **kwargs: Any) -> folium.Map:
    """A ``folium.Map`` with no tile layer of its own and a fixed zoom range.

    ``folium.Map()`` adds OpenStreetMap tiles by default, fetched from the
    internet. Our basemap is our own vector layers, added by the caller; a
    raster basemap (Tianditu with a key) is added explicitly as a ``TileLayer``.

    Parameters
    ----------
    min_zoom, max_zoom : int, optional
        The *map's* zoom range. Folium passes its own ``min_zoom``/``max_zoom``
        only to the default tile layer, so with ``tiles=None`` the map would
        have no ``maxZoom`` and Leaflet.markercluster throws "Map has no
        maxZoom specified"; 19 is a street-level view.
    **kwargs
        Passed to ``folium.Map``; ``tiles`` defaults to ``None`` and may only
        be ``None`` or a ``folium.TileLayer``, never a provider name or URL.
    """
    tiles = kwargs.setdefault("tiles", None)
    if tiles is not None and not isinstance(tiles, folium.TileLayer):
        raise ValueError(f"tiles={tiles!r} would load a public tile server; add a TileLayer")
    # Already camel-cased, so they reach L.map's options instead of a tile layer.
    kwargs["maxZoom"] = max_zoom
    if min_zoom is not None:
        kwargs["minZoom"] = min_zoom
    m = folium.Map(**kwargs)
    m.get_root().header.add_child(folium.Element(_MAP_CSS), name="wangge_map_css")
    return m


# Leaflet.heat's canvas covers the whole map in the overlay pane and would
# swallow every click meant for the vector tiles and shapes beneath it.
_MAP_CSS: Final = "<style>.leaflet-heatmap-layer { pointer-events: none; }</style>"


# src="…" / href="…" / url(…) whose target is on another host.
_ASSET_ATTR = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*["']?|url\(\s*["']?)((?:[a-z][a-z0-9+.-]*:)?//[^"'\s)>]+)""",
    re.IGNORECASE,
)


def remote_asset_urls(html: str) -> list[str]:
    """The off-origin URLs a rendered page would load, in order of appearance.

    Looks at ``src``/``href`` attributes and CSS ``url()`` values, absolute or
    protocol-relative. A plain outbound ``<a href>`` counts too, on purpose:
    on an intranet it is a dead link. Meant for tests of every map view: the
    list must be empty.
    """
    return [m.group(1) for m in _ASSET_ATTR.finditer(html)]


def _is_remote(url: str) -> bool:
    return bool(re.match(r"(?:[a-z][a-z0-9+.-]*:)?//", url, re.IGNORECASE))
