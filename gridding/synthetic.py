"""A reproducible synthetic township for tests and benchmarks.

Villages are laid out on a grid with fields between them. Each village has
east–west lanes 40 m apart lined on both sides by courtyard houses about 14 m
wide, north–south side streets every few houses, and a main street through its
middle. A river meanders across the township. Main streets and the river are the
barriers. Everything is built in metres in EPSG:4548 (CGCS2000 / 3-degree GK
CM 117E, the demo town's zone) and returned in the CRS asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

METRIC_CRS = "EPSG:4548"
ORIGIN = (440_000.0, 4_230_000.0)  # near 116.3°E 38.2°N
LANE_GAP, HOUSE_GAP, SETBACK = 40.0, 14.0, 9.0
FIELD_GAP = 250.0


@dataclass
class Township:
    """Synthetic township layers (GeoDataFrames in one CRS)."""

    households: gpd.GeoDataFrame
    lanes: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    barriers: gpd.GeoDataFrame


def _village(
    rng: np.random.Generator, code: str, n: int, x0: float, y0: float, river
) -> tuple[dict, list, list, float, float]:
    lanes_n = max(1, round(math.sqrt(n / 5.7)))
    per_side = max(1, math.ceil(n * 1.2 / (2 * lanes_n)))
    block = 8  # houses between side streets
    xs = np.arange(per_side) * HOUSE_GAP + (np.arange(per_side) // block) * 12.0
    width = float(xs[-1]) + HOUSE_GAP
    main_x = x0 + width / 2
    xs = xs + x0 + np.where(xs + x0 >= main_x - 6, 16.0, 0.0)  # gap for the main street
    width += 16.0
    slots, lane_of = [], []
    lanes, streets = [], []
    for j in range(lanes_n):
        y = y0 + SETBACK + j * LANE_GAP
        lanes.append((f"{code}-L{j:02d}", shapely.LineString([(x0 - 5, y), (x0 + width + 5, y)])))
        for side in (-1, 1):
            for x in xs:
                slots.append((x, y + side * SETBACK))
                lane_of.append(lanes[-1][0])
    height = SETBACK * 2 + (lanes_n - 1) * LANE_GAP
    for b in range(1, per_side // block + 1):
        sx = x0 + b * block * HOUSE_GAP + (b - 1) * 12.0 + 6.0 - HOUSE_GAP / 2
        if sx < x0 + width - 10:
            streets.append((shapely.LineString([(sx, y0 - 5), (sx, y0 + height + 5)]), False))
    streets.append(
        (shapely.LineString([(main_x + 2, y0 - 30), (main_x + 2, y0 + height + 30)]), True)
    )
    pts = np.asarray(slots) + rng.uniform(-2.0, 2.0, size=(len(slots), 2))
    lane_arr = np.asarray(lane_of)
    if river is not None:
        far = shapely.distance(shapely.points(pts), river) > 12.0
        pts, lane_arr = pts[far], lane_arr[far]
    pick = np.sort(rng.choice(len(pts), size=min(n, len(pts)), replace=False))
    hh = dict(xy=pts[pick], lane=lane_arr[pick], code=np.full(len(pick), code))
    return hh, lanes, streets, width, height


def township(
    households: int = 2000,
    seed: int = 0,
    *,
    village_size: int = 370,
    crs: str = "EPSG:4490",
    river: bool = True,
) -> Township:
    """Generate a township of about ``households`` households.

    Parameters
    ----------
    households : int
        Total households wanted (exact unless the river takes slots).
    seed : int
        Random seed; the same seed gives the same township.
    village_size : int
        Mean households per village (sizes vary ±40 %).
    crs : str
        CRS of the returned layers.
    river : bool
        Whether a river crosses the township (a barrier).
    """
    rng = np.random.default_rng(seed)
    nv = max(1, round(households / village_size))
    raw = rng.uniform(0.6, 1.4, size=nv)
    sizes = np.floor(raw / raw.sum() * households).astype(int)
    sizes[: households - sizes.sum()] += 1
    cols = math.ceil(math.sqrt(nv))
    cell = math.sqrt(village_size * 1.4 / 5.7) * LANE_GAP * 1.4 + FIELD_GAP
    ox, oy = ORIGIN
    span_x = cols * cell * 1.3
    river_line = None
    if river:
        t = np.linspace(-200.0, span_x + 200.0, 400)
        mid = oy + (math.ceil(nv / cols) * cell) * 0.55
        river_line = shapely.LineString(
            np.c_[ox + t, mid + 0.35 * cell * np.sin(t / cell * 1.7 + rng.uniform(0, 6))]
        )
    hh_parts, lanes, streets, villages = [], [], [], []
    for i, n in enumerate(sizes.tolist()):
        code = f"V{i:03d}"
        x0 = ox + (i % cols) * cell * 1.3
        y0 = oy + (i // cols) * cell
        hh, vl, vs, w, h = _village(rng, code, n, x0, y0, river_line)
        hh_parts.append(hh)
        lanes += [(k, code, g) for k, g in vl]
        streets += [(code, g, main) for g, main in vs]
        villages.append((code, f"村{i}", shapely.box(x0 - 25, y0 - 25, x0 + w + 25, y0 + h + 25)))
    xy = np.concatenate([p["xy"] for p in hh_parts])
    hh = gpd.GeoDataFrame(
        {
            "key": [f"H{j:07d}" for j in range(len(xy))],
            "village_code": np.concatenate([p["code"] for p in hh_parts]),
            "lane_key": np.concatenate([p["lane"] for p in hh_parts]),
            "people": rng.integers(1, 7, size=len(xy)),
        },
        geometry=shapely.points(xy),
        crs=METRIC_CRS,
    )
    lanes_g = gpd.GeoDataFrame(
        {"key": [k for k, _, _ in lanes], "village_code": [c for _, c, _ in lanes]},
        geometry=[g for _, _, g in lanes],
        crs=METRIC_CRS,
    )
    streets_g = gpd.GeoDataFrame(
        {"village_code": [c for c, _, _ in streets], "is_main": [m for _, _, m in streets]},
        geometry=[g for _, g, _ in streets],
        crs=METRIC_CRS,
    )
    villages_g = gpd.GeoDataFrame(
        {"code": [c for c, _, _ in villages], "name": [n for _, n, _ in villages]},
        geometry=[g for _, _, g in villages],
        crs=METRIC_CRS,
    )
    bar = [("main_street", g) for g in streets_g.geometry[streets_g["is_main"]]]
    if river_line is not None:
        bar.append(("river", river_line))
    barriers_g = gpd.GeoDataFrame(
        {"kind": [k for k, _ in bar]}, geometry=[g for _, g in bar], crs=METRIC_CRS
    )
    layers = [hh, lanes_g, streets_g, villages_g, barriers_g]
    if crs != METRIC_CRS:
        layers = [g.to_crs(crs) for g in layers]
    return Township(*layers)
