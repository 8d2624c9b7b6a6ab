"""A village read from PostGIS in the metric CRS: its row, its lane network, the lanes to walk."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.db import METRIC_SRID, SRID
from layers.errors import Invalid, NotFound
from layers.patrol.errors import PatrolInputError
from layers.patrol.network import build_network


def _village(session: Session, code: str):
    row = session.execute(
        text(
            f"SELECT id, code, name, ST_AsBinary(ST_Transform(geom, {METRIC_SRID})) AS metric,"
            " ST_AsBinary(geom) AS lonlat,"
            f" ST_AsBinary(ST_Transform(ST_PointOnSurface(geom), {METRIC_SRID})) AS base"
            " FROM village WHERE code = :c"
        ),
        {"c": code},
    ).one_or_none()
    if row is None:
        raise NotFound(f"没有代码为 {code} 的村 / no village {code}")
    return row


def _lines(session: Session, table: str, village_id: int) -> gpd.GeoDataFrame:
    return gpd.read_postgis(
        text(
            f"SELECT id AS key, ST_Transform(geom, {METRIC_SRID}) AS geom FROM {table}"
            " WHERE village_id = :v AND geom IS NOT NULL"
        ),
        session.connection(),
        geom_col="geom",
        crs=METRIC_SRID,
        params={"v": village_id},
    )


def village_network(session: Session, code: str):
    """The lane network of village ``code`` (lanes and streets, metric CRS) and the village."""
    v = _village(session, code)
    lanes, streets = _lines(session, "lane", v.id), _lines(session, "street", v.id)
    if lanes.empty and streets.empty:
        raise Invalid(f"{v.name}没有街巷数据，无法规划路线 / {code} has no lanes or streets")
    try:
        network = build_network(lanes if len(lanes) else streets, streets if len(lanes) else None)
    except PatrolInputError as exc:
        raise Invalid(str(exc)) from exc
    return network, v


def _assigned_lanes(session: Session, network, v, lanes, grid):
    """Edges to walk for ``lanes`` (ids) or ``grid`` (code): mask, base inside the grid, label."""
    lane_edge = network.kind == "lane"
    if lanes is not None:
        ids = sorted({int(i) for i in lanes})
        if not ids:
            raise Invalid("没有指定街巷 / no lanes given", "lanes")
        known = {
            int(r[0])
            for r in session.execute(
                text("SELECT id FROM lane WHERE village_id = :v AND id = ANY(:ids)"),
                {"v": v.id, "ids": ids},
            )
        }
        missing = [i for i in ids if i not in known]
        if missing:
            names = ", ".join(map(str, missing[:10]))
            raise Invalid(
                f"{v.name}没有这些街巷：{names} / no such lanes in {v.code}: {names}", "lanes"
            )
        mask = lane_edge & np.isin(network.key.astype(np.int64), ids)
        if not mask.any():
            raise Invalid("指定的街巷没有中心线 / the given lanes have no centre line", "lanes")
        return mask, None, "指定街巷"
    row = session.execute(
        text(
            f"SELECT village_id, name, ST_AsBinary(ST_Transform(geom, {METRIC_SRID})) AS metric,"
            f" ST_AsBinary(ST_Transform(ST_PointOnSurface(geom), {METRIC_SRID})) AS base"
            " FROM grid WHERE code = :c AND valid_to IS NULL"
        ),
        {"c": grid},
    ).one_or_none()
    if row is None:
        raise NotFound(f"没有代码为 {grid} 的网格 / no grid {grid}")
    if row.village_id != v.id:
        raise Invalid(f"网格 {grid} 不在{v.name} / grid {grid} is not in {v.code}", "grid")
    area = shapely.from_wkb(bytes(row.metric))
    # A lane crossing the grid's edge counts by its pieces: those whose middle is inside.
    mid = shapely.line_interpolate_point(network.geometry, 0.5, normalized=True)
    mask = lane_edge & shapely.contains(area, mid)
    if not mask.any():
        raise Invalid(f"网格 {grid} 内没有街巷 / grid {grid} has no lanes", "grid")
    return mask, shapely.from_wkb(bytes(row.base)), f"{row.name}网格街巷"


def _lonlat(xy) -> list[list[float]]:
    pts = gpd.GeoSeries(gpd.points_from_xy(*np.asarray(xy, dtype=float).T), crs=METRIC_SRID)
    return [[round(p.x, 6), round(p.y, 6)] for p in pts.to_crs(SRID)]
