"""Folium map building blocks: offline assets and custom map elements.

Pages never load anything from outside our origin (design.md, "Offline
first"): call :func:`use_local_assets` once in the app factory and build maps
with :func:`offline_map`.
"""

from webgis.maps.offline import (
    VectorTileLayer,
    offline_map,
    remote_asset_urls,
    use_local_assets,
)

__all__ = ["VectorTileLayer", "offline_map", "remote_asset_urls", "use_local_assets"]
