"""Reading input layers and writing results as files (for the CLI, without a database)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from gridding.inputs import GriddingInputError


def read_layer(path: str | os.PathLike, what: str) -> gpd.GeoDataFrame:
    """Read the first layer of any file pyogrio can open, as a GeoDataFrame.

    Raises
    ------
    GriddingInputError
        If the file is missing, unreadable, empty of geometry or has no rows.
    """
    p = Path(path)
    if not p.exists():
        raise GriddingInputError(f"{what}: no such file: {p}")
    try:
        with warnings.catch_warnings():
            # GDAL warns about e.g. a shapefile without .prj; the CRS check reports it.
            warnings.simplefilter("ignore")
            df = pyogrio.read_dataframe(p)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise GriddingInputError(f"{what}: cannot read {p}: {exc}") from exc
    if not isinstance(df, gpd.GeoDataFrame):
        raise GriddingInputError(f"{what}: {p} has no geometry column")
    if len(df) == 0:
        raise GriddingInputError(f"{what}: {p} has no features")
    return df


def write_results(model, out: str | os.PathLike) -> None:
    """Write a solved :class:`gridding.Gridder` to a GeoPackage.

    Layers: ``lane_areas``, ``street_areas``, ``party_groups`` (polygons),
    ``assignments`` (household points with their area) and ``villages`` (a table
    of per-village feasibility).
    """
    out = Path(out)
    if out.exists():
        out.unlink()
    lane = model.lane_areas_.copy()
    lane["area_id"] = (
        lane["area_id"].astype(str)
        if lane["area_id"].dtype == object and not all(isinstance(a, int) for a in lane["area_id"])
        else lane["area_id"].astype(int)
    )
    assignments = model.assignments_.copy()
    assignments["area_id"] = assignments["area_id"].astype(lane["area_id"].dtype)
    hh = model.households
    points = gpd.GeoDataFrame(
        assignments,
        geometry=hh.geometry.representative_point().values
        if (hh.geom_type != "Point").any()
        else hh.geometry.values,
        crs=hh.crs,
    )
    layers = {
        "lane_areas": lane,
        "street_areas": model.street_areas_,
        "party_groups": model.party_groups_,
        "assignments": points,
    }
    for name, frame in layers.items():
        pyogrio.write_dataframe(frame, out, layer=name, driver="GPKG", promote_to_multi=False)
    villages = pd.DataFrame(model.villages_).copy()
    villages["village"] = villages["village"].astype(str)
    pyogrio.write_dataframe(villages, out, layer="villages", driver="GPKG")
