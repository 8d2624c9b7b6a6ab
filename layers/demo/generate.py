"""The deterministic demo township: one call, plain GeoDataFrames out.

:func:`generate` builds a North China plain township like 十五级镇 (献县, Hebei):
19 villages, about 8,000 households and 30,600 people, a river and a provincial
road, three levels of grids, the 铁三角 teams and patrols, and two years of
incidents with their status histories. Nothing touches a database; the loader
(:mod:`layers.demo.load`) writes the result.

Metric work happens in EPSG:4548 (CGCS2000 3-degree Gauss–Krüger, CM 117°E);
everything returned is EPSG:4490 in lon/lat order. The same (seed, households,
as_of) always gives the same tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from layers.demo.incidents import Hotspot, make_incidents
from layers.demo.layout import (
    HALF_WATER,
    choose_road_villages,
    place,
    to_world,
    village_sizes,
)
from layers.demo.names import village_names
from layers.demo.people import household_people, make_people
from layers.demo.village import VillagePlan, plan_village
from layers.incidents.sla import WorkCalendar

STORAGE_CRS = "EPSG:4490"
METRIC_CRS = "EPSG:4548"
#: Where the demo lies: near 十五级镇, 献县 (116.1°E, 38.2°N).
CENTRE_LONLAT = (116.1, 38.2)
DEFAULT_SEED = 20261101
DEFAULT_AS_OF = dt.date(2026, 11, 1)
#: Statistical code of the first (demo) town: fake county 130999, town 100.
TOWN_CODE = "130999100"
MIN_HOUSEHOLDS, MAX_HOUSEHOLDS = 300, 500_000


@dataclass(frozen=True)
class DemoTownship:
    """The generated township; every GeoDataFrame is in EPSG:4490 (lon/lat).

    See the module docstring and :func:`generate`; column lists are in the
    project's demo contract (``layers/demo/__init__.py``).
    """

    seed: int
    as_of: dt.date
    town: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    lanes: gpd.GeoDataFrame
    barriers: gpd.GeoDataFrame
    water: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    persons: pd.DataFrame
    roles: pd.DataFrame
    incidents: gpd.GeoDataFrame
    incident_events: pd.DataFrame
    planted_hotspots: pd.DataFrame


def _to_storage() -> Callable[[np.ndarray], np.ndarray]:
    """A coordinate function for shapely.transform: EPSG:4548 metres -> EPSG:4490.

    The layout is built around (0, 0); it is shifted to the demo's centre here, so
    all metric work stays in small numbers and one place knows the location.
    """
    x0, y0 = Transformer.from_crs(STORAGE_CRS, METRIC_CRS, always_xy=True).transform(*CENTRE_LONLAT)
    transformer = Transformer.from_crs(METRIC_CRS, STORAGE_CRS, always_xy=True)

    def fn(xy: np.ndarray) -> np.ndarray:
        lon, lat = transformer.transform(xy[:, 0] + x0, xy[:, 1] + y0)
        return np.column_stack([lon, lat])

    return fn


def _multi(geoms: np.ndarray) -> np.ndarray:
    """Polygonal results as MultiPolygons (the storage type of every area)."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    out = shapely.multipolygons(parts[keep], indices=idx[keep])
    if len(out) != len(geoms):
        raise RuntimeError("an area came out empty")
    return out


def _local_to_world(
    geoms: np.ndarray, vidx: np.ndarray, centre: np.ndarray, theta: np.ndarray
) -> np.ndarray:
    """Move geometries from their village frames into world metres (per-geometry frame)."""
    coords, gi = shapely.get_coordinates(geoms, return_index=True)
    v = vidx[gi]
    return shapely.set_coordinates(geoms.copy(), to_world(coords, centre[v], theta[v]))


def generate(
    seed: int = DEFAULT_SEED,
    households: int = 8000,
    as_of: dt.date | None = None,
    *,
    time_limits: Mapping[str, tuple[int, str, str]] | None = None,
    calendar: WorkCalendar | None = None,
) -> DemoTownship:
    """Generate the demo township.

    Parameters
    ----------
    seed : int
        Seed of every random choice.
    households : int
        Households in total, 300..500,000. About one village per 420 households;
        more than 99 villages are split into several towns (county scale).
    as_of : datetime.date, optional
        End of the incident history (exclusive, 00:00 Asia/Shanghai);
        default 2026-11-01.
    time_limits : mapping, optional
        Incident class code -> (time limit, "hour" or "day", handler level): the
        catalogue the histories are shaped by; default
        :data:`layers.demo.incidents.TIME_LIMITS` (the shipped catalogue).
    calendar : layers.incidents.sla.WorkCalendar, optional
        Working calendar for the time limits; default Monday–Friday office hours.

    Returns
    -------
    DemoTownship

    Raises
    ------
    ValueError
        If ``households`` is out of range.
    """
    if not MIN_HOUSEHOLDS <= households <= MAX_HOUSEHOLDS:
        raise ValueError(f"households must be in {MIN_HOUSEHOLDS}..{MAX_HOUSEHOLDS}")
    as_of = DEFAULT_AS_OF if as_of is None else as_of
    # Independent streams, so that e.g. as_of changes incidents but not the map.
    root = np.random.SeedSequence([seed, households])
    s_layout, s_villages, s_people, s_incidents = root.spawn(4)
    rng = np.random.default_rng(s_layout)

    sizes = village_sizes(rng, households)
    road = choose_road_villages(rng, sizes)
    plans = [
        plan_village(np.random.default_rng(s), int(n), bool(r))
        for s, n, r in zip(s_villages.spawn(len(sizes)), sizes, road, strict=True)
    ]
    twp = place(rng, plans, sizes, road)
    perm = np.argsort(twp.order)  # village index = code order from here on
    plans = [plans[i] for i in perm]
    sizes, centre, theta = sizes[perm], twp.centre[perm], twp.theta[perm]
    on_road, town_of, outline = twp.on_road[perm], twp.town[perm], twp.outline[perm]
    n_v, n_t = len(plans), len(twp.town_polys)

    # Names and codes. The largest village of each town is its seat, a community.
    raw_names = village_names(rng, n_v + n_t)
    community = np.zeros(n_v, dtype=bool)
    for t in range(n_t):
        members = np.flatnonzero(town_of == t)
        community[members[np.argmax(sizes[members])]] = True
    v_names = [raw_names[i] + ("社区" if community[i] else "村") for i in range(n_v)]
    town_codes = [f"130999{100 + t:03d}" for t in range(n_t)]
    town_names = ["演示镇"] + [raw_names[n_v + t] + "镇" for t in range(1, n_t)]
    rank = np.zeros(n_v, dtype=np.int64)
    for t in range(n_t):
        members = np.flatnonzero(town_of == t)
        rank[members] = np.arange(1, len(members) + 1)
    v_codes = [f"{town_codes[town_of[i]]}2{rank[i]:02d}" for i in range(n_v)]

    to_4490 = _to_storage()

    def store(geoms: np.ndarray) -> np.ndarray:
        return shapely.transform(np.asarray(geoms), to_4490)

    # Grids, cut in village frames (exact tiling), then moved to the world.
    ring_v = np.repeat(np.arange(n_v), [len(p.ring) for p in plans])
    local = shapely.polygons(
        shapely.linearrings(np.vstack([p.ring for p in plans]), indices=ring_v)
    )
    l2_v = np.repeat(np.arange(n_v), [len(p.l2_boxes) for p in plans])
    l3_v = np.repeat(np.arange(n_v), [len(p.l3_boxes) for p in plans])
    l2_box = np.vstack([p.l2_boxes for p in plans])
    l3_box = np.vstack([p.l3_boxes for p in plans])
    l2_off = np.r_[0, np.cumsum([len(p.l2_boxes) for p in plans])[:-1]]
    l3_parent = np.concatenate([p.l3_parent for p in plans]) + l2_off[l3_v]
    l2_poly = _local_to_world(
        shapely.intersection(local[l2_v], shapely.box(*l2_box.T)), l2_v, centre, theta
    )
    l3_poly = _local_to_world(
        shapely.intersection(local[l3_v], shapely.box(*l3_box.T)), l3_v, centre, theta
    )
    vc = np.asarray(v_codes, dtype=object)
    vn = np.asarray(v_names, dtype=object)
    l2_no = np.concatenate([np.arange(1, len(p.l2_boxes) + 1) for p in plans])
    l3_no = np.concatenate(
        [
            np.r_[[np.sum(p.l3_parent[:k] == p.l3_parent[k]) + 1 for k in range(len(p.l3_parent))]]
            for p in plans
        ]
    ).astype(np.int64)
    l2_codes = [f"{vc[v]}{k:02d}00" for v, k in zip(l2_v, l2_no, strict=True)]
    l3_codes = [
        f"{vc[v]}{l2_no[g]:02d}{k:02d}" for v, g, k in zip(l3_v, l3_parent, l3_no, strict=True)
    ]
    grids = gpd.GeoDataFrame(
        {
            "code": [f"{c}0000" for c in v_codes] + l2_codes + l3_codes,
            "level": np.repeat([1, 2, 3], [n_v, len(l2_codes), len(l3_codes)]),
            "parent_code": [None] * n_v
            + [f"{vc[v]}0000" for v in l2_v]
            + [l2_codes[g] for g in l3_parent],
            "village_code": np.r_[vc, vc[l2_v], vc[l3_v]],
            "name": [f"{n}网格" for n in v_names]
            + [f"{vn[v]}第{k}网格" for v, k in zip(l2_v, l2_no, strict=True)]
            + [
                f"{vn[v]}第{l2_no[g]}-{k}网格"
                for v, g, k in zip(l3_v, l3_parent, l3_no, strict=True)
            ],
        },
        geometry=store(_multi(np.r_[outline, l2_poly, l3_poly])),
        crs=STORAGE_CRS,
    )
    grids = grids.sort_values("code", kind="stable").reset_index(drop=True)

    villages = gpd.GeoDataFrame(
        {
            "code": v_codes,
            "name": v_names,
            "kind": np.where(community, "community", "village"),
        },
        geometry=store(_multi(outline)),
        crs=STORAGE_CRS,
    )
    area = shapely.union_all(twp.town_polys)
    town = gpd.GeoDataFrame(
        {"code": town_codes, "name": town_names},
        geometry=store(_multi(np.array(twp.town_polys, dtype=object))),
        crs=STORAGE_CRS,
    )

    # Streets and lanes.
    st_v = np.repeat(np.arange(n_v), [len(p.streets) for p in plans])
    st_xy = np.array([s[2:] for p in plans for s in p.streets], dtype=float)
    st_no = np.concatenate([np.arange(1, len(p.streets) + 1) for p in plans])
    st_keys = np.array(
        [f"{vc[v]}-S{k:02d}" for v, k in zip(st_v, st_no, strict=True)], dtype=object
    )
    streets = gpd.GeoDataFrame(
        {
            "key": st_keys,
            "village_code": vc[st_v],
            "name": [s[0] for p in plans for s in p.streets],
            "is_main": np.array([s[1] for p in plans for s in p.streets], dtype=bool),
        },
        geometry=store(_lines(st_xy, st_v, centre, theta)),
        crs=STORAGE_CRS,
    )
    st_off = np.r_[0, np.cumsum([len(p.streets) for p in plans])[:-1]]
    ln_v = np.repeat(np.arange(n_v), [len(p.lane_names) for p in plans])
    ln_xy = np.vstack([p.lane_xy for p in plans])
    ln_no = np.concatenate([np.arange(1, len(p.lane_names) + 1) for p in plans])
    ln_keys = np.array(
        [f"{vc[v]}-L{k:03d}" for v, k in zip(ln_v, ln_no, strict=True)], dtype=object
    )
    ln_street = np.concatenate([p.lane_street for p in plans]) + st_off[ln_v]
    ln_names = np.array([n for p in plans for n in p.lane_names], dtype=object)
    ln_clan = np.concatenate([np.asarray(p.lane_clan, dtype=np.int64) for p in plans])
    lanes = gpd.GeoDataFrame(
        {
            "key": ln_keys,
            "village_code": vc[ln_v],
            "street_key": st_keys[ln_street],
            "name": ln_names,
        },
        geometry=store(_lines(ln_xy, ln_v, centre, theta)),
        crs=STORAGE_CRS,
    )

    # Households.
    hh_v = np.repeat(np.arange(n_v), sizes)
    hh_uv = np.vstack([p.house_uv for p in plans])
    hh_xy = to_world(hh_uv, centre[hh_v], theta[hh_v])
    ln_off = np.r_[0, np.cumsum([len(p.lane_names) for p in plans])[:-1]]
    hh_lane_local = np.concatenate([p.house_lane for p in plans])
    on_lane = hh_lane_local >= 0
    hh_lane = np.where(on_lane, hh_lane_local + ln_off[hh_v], -1)
    hh_no = np.concatenate([p.house_no for p in plans])
    l3_off = np.r_[0, np.cumsum([len(p.l3_boxes) for p in plans])[:-1]]
    hh_l3 = np.concatenate([p.house_l3 for p in plans]) + l3_off[hh_v]
    hh_serial = np.concatenate([np.arange(1, n + 1) for n in sizes])
    hh_keys = np.array(
        [f"{vc[v]}-H{k:04d}" for v, k in zip(hh_v, hh_serial, strict=True)], dtype=object
    )
    hh_place = np.where(on_lane, ln_names[np.maximum(hh_lane, 0)], "村边").astype(object)
    address = [
        f"{vn[v]}{place}{no}号" if lane else f"{vn[v]}{no}号"
        for v, place, no, lane in zip(hh_v, hh_place, hh_no, on_lane, strict=True)
    ]
    prng = np.random.default_rng(s_people)
    people_n = household_people(prng, households)
    l3_codes_a = np.asarray(l3_codes, dtype=object)
    households_gdf = gpd.GeoDataFrame(
        {
            "key": hh_keys,
            "village_code": vc[hh_v],
            "lane_key": np.where(on_lane, ln_keys[np.maximum(hh_lane, 0)], None),
            "grid_code": l3_codes_a[hh_l3],
            "address": address,
            "people": people_n.astype(np.int64),
        },
        geometry=store(shapely.points(hh_xy)),
        crs=STORAGE_CRS,
    )

    ppl = make_people(
        prng,
        as_of,
        household_keys=hh_keys,
        household_village=hh_v,
        household_clan=np.where(on_lane, ln_clan[np.maximum(hh_lane, 0)], -1),
        household_people_n=people_n,
        household_l2=l3_parent[hh_l3],
        village_codes=v_codes,
        level2_codes=l2_codes,
        level2_village=l2_v,
    )

    # River, water and road, cut to the area of the town(s).
    river_in = shapely.intersection(twp.river, area)
    road_in = shapely.intersection(twp.road, area)
    water_poly = shapely.intersection(shapely.buffer(twp.river, HALF_WATER, cap_style="flat"), area)
    barriers = gpd.GeoDataFrame(
        {"key": ["river-1", "road-1"], "kind": ["river", "road"], "name": ["演示河", "省道S999"]},
        geometry=store(np.array([river_in, road_in], dtype=object)),
        crs=STORAGE_CRS,
    )
    water = gpd.GeoDataFrame(
        {"key": ["water-1"], "name": ["演示河"]},
        geometry=store(np.array([water_poly], dtype=object)),
        crs=STORAGE_CRS,
    )

    hotspots = _plant_hotspots(
        plans,
        sizes,
        centre,
        theta,
        town_of,
        on_road,
        v_names,
        hh_v,
        hh_xy,
        hh_l3,
        l3_off,
        ln_off,
        ln_names,
    )
    irng = np.random.default_rng(s_incidents)
    inc = make_incidents(
        irng,
        as_of,
        hh_xy=hh_xy,
        hh_l3=hh_l3,
        hh_place=hh_place,
        hh_village=hh_v,
        hh_head=ppl.head_key,
        village_names=v_names,
        village_codes=v_codes,
        l3_polys=l3_poly,
        l3_codes=l3_codes,
        l3_l2=l3_parent,
        l2_codes=l2_codes,
        l2_village=l2_v,
        river=twp.river,
        road=twp.road,
        village_area=float(shapely.area(outline).sum()),
        hotspots=hotspots,
        worker_key=ppl.worker_key,
        police_key=ppl.police_key,
        cadre_key=ppl.cadre_key,
        limits=time_limits,
        calendar=calendar,
    )
    inc_df = inc.incidents
    incidents = gpd.GeoDataFrame(
        inc_df.drop(columns=["x", "y"]),
        geometry=store(shapely.points(inc_df[["x", "y"]].to_numpy())),
        crs=STORAGE_CRS,
    )
    hs_xy = np.array([[h.x, h.y] for h in hotspots]).reshape(-1, 2)
    hs_ll = to_4490(hs_xy) if len(hs_xy) else hs_xy
    planted = pd.DataFrame(
        {
            "category_code": [h.category_code for h in hotspots],
            "lon": hs_ll[:, 0],
            "lat": hs_ll[:, 1],
            "radius_m": [h.radius_m for h in hotspots],
            "name": [h.name for h in hotspots],
        }
    )
    return DemoTownship(
        seed=seed,
        as_of=as_of,
        town=town,
        villages=villages,
        streets=streets,
        lanes=lanes,
        barriers=barriers,
        water=water,
        grids=grids,
        households=households_gdf,
        persons=ppl.persons,
        roles=ppl.roles,
        incidents=incidents,
        incident_events=inc.events,
        planted_hotspots=planted,
    )


def _lines(xy: np.ndarray, vidx: np.ndarray, centre: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Two-point lines (u0, v0, u1, v1 rows) from village frames to world metres."""
    pts = to_world(xy.reshape(-1, 2), np.repeat(centre[vidx], 2, 0), np.repeat(theta[vidx], 2))
    return shapely.linestrings(pts.reshape(-1, 2, 2))


def _plant_hotspots(
    plans: list[VillagePlan],
    sizes: np.ndarray,
    centre: np.ndarray,
    theta: np.ndarray,
    town_of: np.ndarray,
    on_road: np.ndarray,
    v_names: list[str],
    hh_v: np.ndarray,
    hh_xy: np.ndarray,
    hh_l3: np.ndarray,
    l3_off: np.ndarray,
    ln_off: np.ndarray,
    ln_names: np.ndarray,
) -> list[Hotspot]:
    """Four hotspots per town, each in a different village where the town has enough.

    A market on the seat's main street (sanitation), the busiest block of the
    second village (disputes), the fullest lane of the third (safety hazards) and
    the crossroads of the road with a village's north–south street (public order).
    """
    out: list[Hotspot] = []

    def world(v: int, u: float, w: float) -> tuple[float, float]:
        xy = to_world(np.array([[u, w]]), centre[v : v + 1], theta[v : v + 1])[0]
        return float(xy[0]), float(xy[1])

    for t in range(int(town_of.max()) + 1):
        members = np.flatnonzero(town_of == t)
        by_size = members[np.argsort(-sizes[members], kind="stable")]
        pick = [int(by_size[min(k, len(by_size) - 1)]) for k in range(3)]
        # Market: a third of the way along the seat's east main street.
        v = pick[0]
        x, y = world(v, 0.35 * plans[v].bbox[2], 0.0)
        out.append(Hotspot("01", x, y, 100.0, f"{v_names[v]}集市"))
        # Dense quarter: the level-3 block with the most households.
        v = pick[1]
        blocks = hh_l3[hh_v == v] - l3_off[v]
        b = int(np.argmax(np.bincount(blocks)))
        sel = np.flatnonzero(hh_v == v)[blocks == b]
        cx, cy = hh_xy[sel].mean(axis=0)
        out.append(Hotspot("04", float(cx), float(cy), 90.0, f"{v_names[v]}第{b + 1}片居民区"))
        # Lane block: the lane with most courtyards, around its middle.
        v = pick[2]
        lanes = plans[v].house_lane
        lane = int(np.argmax(np.bincount(lanes[lanes >= 0])))
        mid = plans[v].house_uv[lanes == lane].mean(axis=0)
        x, y = world(v, float(mid[0]), float(mid[1]))
        out.append(Hotspot("05", x, y, 70.0, f"{v_names[v]}{ln_names[ln_off[v] + lane]}"))
        # Road junction: a road village not used above, else any village's crossroads.
        road_v = [int(i) for i in members if on_road[i] and int(i) not in pick]
        road_any = [int(i) for i in members if on_road[i]]
        v = (road_v or road_any or [pick[0]])[0]
        x, y = world(v, 0.0, 0.0)
        out.append(Hotspot("06", x, y, 80.0, f"{v_names[v]}省道路口"))
    return out
