"""Exporting a layer to a file whose format follows its extension.

Column names are kept to ten characters so that one schema serves every
format, Shapefile's DBF included. Exports carry no personal data (no persons);
the web exports that do are masked and audited by the access layer.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
from sqlalchemy.orm import Session

from layers.db import SRID
from layers.transfer.reader import TransferError

DRIVERS = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "ESRI Shapefile",
    ".csv": "CSV",
}

QUERIES = {
    "villages": "SELECT v.code, v.name, v.kind, t.code AS town, v.geom"
    " FROM village v JOIN town t ON t.id = v.town_id ORDER BY v.code",
    "streets": "SELECT s.id, s.name, v.code AS village, s.is_main, s.geom"
    " FROM street s JOIN village v ON v.id = s.village_id ORDER BY s.id",
    "lanes": "SELECT l.id, l.name, v.code AS village, COALESCE(l.geom, ST_Multi("
    "ST_Boundary(l.area))) AS geom FROM lane l JOIN village v ON v.id = l.village_id ORDER BY l.id",
    "grids": "SELECT g.code, g.level, p.code AS parent, v.code AS village, g.name, g.version,"
    " g.valid_from::text AS valid_from, g.geom FROM grid g LEFT JOIN grid p ON p.id = g.parent_id"
    " LEFT JOIN village v ON v.id = g.village_id WHERE g.valid_to IS NULL ORDER BY g.code",
    "households": "SELECT h.id, h.address, h.people, v.code AS village, g.code AS grid, h.geom"
    " FROM household h JOIN village v ON v.id = h.village_id"
    " LEFT JOIN grid g ON g.id = h.grid_id ORDER BY h.id",
    "captain_areas": "SELECT a.code, a.level, a.name, v.code AS village, a.households,"
    " s.code AS street, pg.code AS party, a.min_size,"
    " a.max_size, a.pinned, a.geom FROM captain_area a"
    " JOIN village v ON v.id = a.village_id LEFT JOIN captain_area s ON s.id = a.street_area_id"
    " LEFT JOIN captain_area pg ON pg.id = a.party_group_id ORDER BY a.level, a.code",
    "incidents": "SELECT i.code, i.category_code AS category, i.status, i.title,"
    " i.description AS descr, to_char(i.reported_at, 'YYYY-MM-DD\"T\"HH24:MI:SSOF') AS reported,"
    " to_char(i.closed_at, 'YYYY-MM-DD\"T\"HH24:MI:SSOF') AS closed, g.code AS grid, i.geom"
    " FROM incident i JOIN grid g ON g.id = i.grid_id ORDER BY i.reported_at, i.code",
}


def export_layer(session: Session, path: Path, layer: str) -> int:
    """Write ``layer`` to ``path``; return the number of features written.

    Parameters
    ----------
    session
        An open session (read only).
    path
        Target file; ``.gpkg``, ``.geojson``/``.json``, ``.shp`` or ``.csv``
        (points as lon/lat columns, other shapes as WKT). Coordinates are
        EPSG:4490.
    layer
        One of :data:`QUERIES`.
    """
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise TransferError(
            f"不支持的文件类型 {path.suffix} / unsupported extension; use one of {sorted(DRIVERS)}"
        )
    if layer not in QUERIES:
        raise TransferError(f"未知图层 / unknown layer: {layer}")
    gdf = gpd.read_postgis(QUERIES[layer], session.connection(), geom_col="geom", crs=SRID)
    if driver == "CSV":
        _write_csv(gdf, path)
        return len(gdf)
    options = {"ENCODING": "UTF-8"} if driver == "ESRI Shapefile" else {}
    kwargs = {"layer": layer} if driver == "GPKG" else {}
    pyogrio.write_dataframe(gdf, path, driver=driver, layer_options=options or None, **kwargs)
    return len(gdf)


def _write_csv(gdf: gpd.GeoDataFrame, path: Path) -> None:
    df = gdf.drop(columns=gdf.geometry.name)
    if len(gdf) and (gdf.geom_type == "Point").all():
        df["lon"], df["lat"] = gdf.geometry.x, gdf.geometry.y
    else:
        df["wkt"] = gdf.geometry.to_wkt()
    # utf-8-sig: Excel on Windows (what a township office opens CSVs with) needs the BOM.
    df.to_csv(path, index=False, encoding="utf-8-sig")
