"""Reading vector files into GeoDataFrames in the storage CRS, with clear refusals.

Every refusal is a :class:`TransferError` whose message a grid officer can act
on (Chinese first, English after), naming the row where a row is at fault.
Row numbers count data rows from 1, as a spreadsheet user counts them.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from layers.db import SRID
from layers.transfer.gcj02 import gcj02_to_wgs84

#: Rough bounds of China plus margin; a point outside in EPSG:4490 means a wrong CRS.
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)

LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")


_GDAL_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.CRSError,
)


class TransferError(ValueError):
    """A file cannot be imported or exported as asked; nothing was written."""


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def _read_csv(path: Path, encoding: str | None) -> gpd.GeoDataFrame:
    try:
        df = pd.read_csv(path, encoding=encoding or "utf-8-sig", dtype=str, keep_default_na=False)
    except UnicodeDecodeError as exc:
        raise TransferError(
            f"CSV 文件编码无法识别，请用 --encoding 指定（如 GBK）/ cannot decode the CSV: {exc}"
        ) from exc
    lon_col, lat_col = _pick(list(df.columns), LON_NAMES), _pick(list(df.columns), LAT_NAMES)
    if lon_col is None or lat_col is None:
        raise TransferError(
            "CSV 文件缺少经纬度列（lon/lat 或 经度/纬度）/ the CSV has no lon and lat columns"
        )
    lon = pd.to_numeric(df[lon_col], errors="coerce")
    lat = pd.to_numeric(df[lat_col], errors="coerce")
    bad = np.flatnonzero(lon.isna().to_numpy() | lat.isna().to_numpy())
    if bad.size:
        raise TransferError(
            f"第 {_rows(bad)} 行的经纬度不是数字 / rows {_rows(bad)}: lon/lat is not a number"
        )
    df = df.drop(columns=[lon_col, lat_col])
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(lon, lat), crs=None)


def _rows(idx: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(i + 1) for i in idx[:limit])
    return shown + (f" …（共 {idx.size} 行）" if idx.size > limit else "")


def read_file(
    path: Path, *, encoding: str | None = None, source_crs: str | None = None
) -> gpd.GeoDataFrame:
    """Read ``path`` and return its features in EPSG:4490.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile (or any format GDAL reads), or CSV with
        lon/lat columns.
    encoding
        Text encoding of the attributes, e.g. ``GBK`` for a Chinese DBF without
        a ``.cpg`` file.
    source_crs
        Overrides (or supplies) the file's CRS: anything pyproj understands,
        or ``gcj02`` for coordinates digitised on AMap/Tencent maps.

    Raises
    ------
    TransferError
        Unreadable file, no geometry, unknown CRS, empty or out-of-China coordinates.
    """
    try:
        if path.suffix.lower() == ".csv":
            gdf = _read_csv(path, encoding)
        else:
            with warnings.catch_warnings():
                # GDAL warns about odd but readable files; the checks below judge them.
                warnings.simplefilter("ignore", RuntimeWarning)
                gdf = pyogrio.read_dataframe(path, encoding=encoding)
    except (*_GDAL_ERRORS, UnicodeDecodeError) as exc:
        raise TransferError(f"无法读取文件 / cannot read {path.name}: {exc}") from exc
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise TransferError(f"文件中没有几何图形 / {path.name} has no geometry")
    if len(gdf) == 0:
        raise TransferError(f"文件中没有要素 / {path.name} has no features")
    missing = np.flatnonzero(gdf.geometry.isna().to_numpy() | gdf.geometry.is_empty.to_numpy())
    if missing.size:
        raise TransferError(f"第 {_rows(missing)} 行没有几何图形 / rows without geometry")

    gdf = _to_storage_crs(gdf, path, source_crs)
    xy = shapely.get_coordinates(gdf.geometry.to_numpy())
    if not np.isfinite(xy).all():
        raise TransferError("坐标中有非数值（NaN）/ coordinates contain NaN")
    minx, miny, maxx, maxy = CHINA_BOUNDS
    outside = ~((xy[:, 0] >= minx) & (xy[:, 0] <= maxx) & (xy[:, 1] >= miny) & (xy[:, 1] <= maxy))
    if outside.any():
        raise TransferError(
            "坐标不在中国范围内，坐标系可能标错了，请用 --crs 指定正确的坐标系"
            " / coordinates fall outside China: the file's CRS is probably wrong (use --crs)"
        )
    return gdf


def _to_storage_crs(gdf: gpd.GeoDataFrame, path: Path, source_crs: str | None) -> gpd.GeoDataFrame:
    if source_crs and source_crs.lower() in ("gcj02", "gcj-02"):
        # GCJ-02 is lon/lat with an offset; undo it vertex by vertex.
        def unshift(coords: np.ndarray) -> np.ndarray:
            lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
            return np.column_stack([lon, lat])

        geoms = shapely.transform(gdf.geometry.to_numpy(), unshift)
        return gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=SRID))
    if source_crs:
        try:
            crs = CRS.from_user_input(source_crs)
        except CRSError as exc:
            raise TransferError(f"无法识别的坐标系 / unknown CRS: {source_crs}") from exc
        gdf = gdf.set_crs(crs, allow_override=True)
    if gdf.crs is None:
        if path.suffix.lower() == ".csv":
            gdf = gdf.set_crs(4326)  # lon/lat columns are GPS (WGS-84) unless told otherwise
        else:
            raise TransferError(
                f"{path.name} 没有坐标系信息，请用 --crs 指定（如 EPSG:4490 或 gcj02）"
                " / the file has no CRS: give one with --crs"
            )
    if gdf.crs.to_epsg() == SRID:
        return gdf
    try:
        return gdf.to_crs(SRID)
    except CRSError as exc:
        raise TransferError(f"无法转换坐标系 / cannot reproject from {gdf.crs}: {exc}") from exc


def repair_polygons(geoms: gpd.GeoSeries) -> tuple[gpd.GeoSeries, list[dict], list[dict]]:
    """Make polygons valid the way ``ST_MakeValid`` does (same GEOS routine).

    Returns the repaired series, the repairs made (row and reason) and the rows
    that cannot be repaired into a polygon at all (e.g. a polygon folded to a line).
    """
    values = geoms.to_numpy()
    invalid = np.flatnonzero(~shapely.is_valid(values))
    repaired, rejected = [], []
    out = values.copy()
    for i in invalid:
        reason = shapely.is_valid_reason(values[i])
        fixed = shapely.make_valid(values[i])
        polys = shapely.get_parts(fixed)
        polys = [p for p in polys if p.geom_type in ("Polygon", "MultiPolygon") and p.area > 0]
        if not polys:
            rejected.append({"row": int(i) + 1, "reason": reason})
            continue
        out[i] = shapely.union_all(polys)
        repaired.append({"row": int(i) + 1, "reason": reason})
    return gpd.GeoSeries(out, index=geoms.index, crs=geoms.crs), repaired, rejected
