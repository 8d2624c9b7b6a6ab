"""Fixtures for the gridding tests: small synthetic townships, solved once per module."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridding import Gridder
from gridding.synthetic import township


@pytest.fixture(scope="session")
def town():
    """About 1,200 households in 3 villages, a river and main streets (EPSG:4490)."""
    return township(1200, seed=7)


@pytest.fixture(scope="session")
def solved(town):
    return Gridder(
        town.households,
        villages=town.villages,
        lanes=town.lanes,
        streets=town.streets[~town.streets["is_main"]],
        barriers=town.barriers,
        id_column="key",
        seed=3,
    ).solve()


def cluster(n: int, x0: float, y0: float, spacing: float = 15.0) -> np.ndarray:
    """``n`` points on a compact grid (metres), row by row."""
    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    return np.c_[x0 + (i % side) * spacing, y0 + (i // side) * spacing]


def villages_of(
    sizes: list[int], crs: str = "EPSG:4548"
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Households and village polygons: one compact village per size, 1 km apart."""
    pts, codes, polys = [], [], []
    for i, n in enumerate(sizes):
        xy = cluster(n, 440_000 + i * 1000, 4_230_000)
        pts.append(xy)
        codes += [f"V{i}"] * n
        x0, y0 = xy.min(axis=0) - 20
        x1, y1 = xy.max(axis=0) + 20
        polys.append(shapely.box(x0, y0, x1, y1))
    xy = np.concatenate(pts)
    hh = gpd.GeoDataFrame(
        {"key": [f"h{j}" for j in range(len(xy))], "village_code": codes},
        geometry=shapely.points(xy),
        crs="EPSG:4548",
    ).to_crs(crs)
    villages = gpd.GeoDataFrame(
        {"code": [f"V{i}" for i in range(len(sizes))]}, geometry=polys, crs="EPSG:4548"
    ).to_crs(crs)
    return hh, villages
