"""Where the villages lie: sizes, placement, the river, the provincial road, the towns.

All coordinates here are metres in EPSG:4548 (CGCS2000 3-degree Gauss–Krüger,
CM 117°E). Villages sit on a jittered lattice about 1.4 km apart, as on the
North China plain where fields separate villages of a few hundred households.
The road runs east–west along the middle row and through every village of that
row (as provincial roads do); the river meanders north–south through a gap
between two lattice columns and is kept clear of every village.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from layers.demo.village import VillagePlan

#: Lattice spacing (m) between village centres; larger than any village is wide.
SPACING_X = 1450.0
SPACING_Y = 1350.0
#: Half width of the river's water surface (30 m wide).
HALF_WATER = 15.0
#: Nearest a village outline may come to the river's centre line.
RIVER_CLEARANCE = HALF_WATER + 40.0
#: Margin of fields around the villages that the town outline includes.
TOWN_MARGIN = 600.0
#: A county-scale run puts at most this many villages in one town (codes 201..299).
MAX_VILLAGES_PER_TOWN = 99
VILLAGES_PER_TOWN_COUNTY = 60


def village_count(households: int) -> int:
    """Villages for a number of households: about one per 420 households, at least 3."""
    return max(3, round(households / 420))


def village_sizes(rng: np.random.Generator, households: int) -> np.ndarray:
    """Households per village, summing exactly to ``households``.

    Sizes spread over about 120..900 at the demo's density (scaled for very small
    runs), the spread of Hebei plain villages.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    households : int
        Total households.

    Returns
    -------
    numpy.ndarray of int
    """
    n_v = village_count(households)
    mean = households / n_v
    lo, hi = mean * 120 / 420, mean * 900 / 420
    # A right-skewed Beta spread over lo..hi has mean ≈ 420 at the demo density;
    # rescaling then hits the total exactly without piling villages at a cap.
    x = lo + (hi - lo) * rng.beta(1.5, 2.45, n_v)
    x *= households / x.sum()
    base = np.floor(x).astype(np.int64)
    rest = households - int(base.sum())
    base[np.argsort(-(x - base), kind="stable")[:rest]] += 1
    return base


@dataclass
class Township:
    """Placed villages and the lines crossing them, in EPSG:4548 metres.

    Attributes
    ----------
    centre : (n, 2) array
        Village origins (the main crossroads) in world metres.
    theta : (n,) array
        Rotation of each village frame (radians, counter-clockwise from east).
    on_road : (n,) bool array
        Whether the provincial road runs along the village's main street.
    town : (n,) int array
        Town index of each village.
    order : (n,) int array
        Rank of each village in code order (north to south, west to east, per town).
    outline : (n,) array of shapely Polygon
        Village outlines in world metres.
    river, road : shapely LineString
        Centre lines, long enough to cross the whole area.
    town_polys : list of shapely Polygon
        One outline per town, tiling the area.
    """

    centre: np.ndarray
    theta: np.ndarray
    on_road: np.ndarray
    town: np.ndarray
    order: np.ndarray
    outline: np.ndarray
    river: shapely.LineString
    road: shapely.LineString
    town_polys: list[shapely.Polygon]


def to_world(uv: np.ndarray, centre: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Rotate local (u, v) rows by ``theta`` and shift by ``centre`` (row-wise arrays)."""
    c, s = np.cos(theta), np.sin(theta)
    return np.column_stack(
        [centre[:, 0] + c * uv[:, 0] - s * uv[:, 1], centre[:, 1] + s * uv[:, 0] + c * uv[:, 1]]
    )


def _outlines(plans: list[VillagePlan], centre: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """World outlines of all villages, one vectorised pass."""
    lengths = np.array([len(p.ring) for p in plans])
    idx = np.repeat(np.arange(len(plans)), lengths)
    uv = np.vstack([p.ring for p in plans])
    return shapely.polygons(shapely.linearrings(to_world(uv, centre[idx], theta[idx]), indices=idx))


def choose_road_villages(rng: np.random.Generator, sizes: np.ndarray) -> np.ndarray:
    """Villages the road runs through: the largest (the town seat) and a few more.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    sizes : numpy.ndarray of int
        Households per village.

    Returns
    -------
    numpy.ndarray of bool
    """
    n_v = len(sizes)
    nx = int(np.ceil(np.sqrt(n_v * 1.25)))
    n_road = min(n_v, max(2, round(nx * 0.8)))
    mask = np.zeros(n_v, dtype=bool)
    largest = int(np.argmax(sizes))
    mask[largest] = True
    rest = np.setdiff1d(np.arange(n_v), [largest])
    mask[rng.choice(rest, size=n_road - 1, replace=False)] = True
    return mask


def place(
    rng: np.random.Generator, plans: list[VillagePlan], sizes: np.ndarray, road_rows: np.ndarray
) -> Township:
    """Place planned villages, then draw the river and the road between and through them.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    plans : list of VillagePlan
        Village layouts, in the order of ``sizes``.
    sizes : numpy.ndarray of int
        Households per village.
    road_rows : numpy.ndarray of bool
        Which villages were planned on the road; they are put in the road row.

    Returns
    -------
    Township
    """
    n_v = len(plans)
    n_road = int(road_rows.sum())
    nx = max(n_road, int(np.ceil(np.sqrt(n_v * 1.25))))
    ny = int(np.ceil((n_v - n_road) / nx)) + 1
    road_iy = ny // 2
    # Lattice cells: the road row takes the road villages (largest in the middle);
    # the others fill the remaining cells in random order, surplus cells dropped.
    road_cols = np.sort(rng.choice(nx, size=n_road, replace=False))
    cells = [(ix, iy) for iy in range(ny) for ix in range(nx) if iy != road_iy]
    pick = np.sort(rng.choice(len(cells), size=n_v - n_road, replace=False))
    ix = np.empty(n_v, dtype=np.int64)
    iy = np.empty(n_v, dtype=np.int64)
    road_idx = np.flatnonzero(road_rows)
    road_idx = road_idx[np.argsort(-sizes[road_idx], kind="stable")]
    # Put the biggest road village nearest the middle column: the town seat.
    mid_order = np.argsort(np.abs(road_cols - (nx - 1) / 2), kind="stable")
    ix[road_idx] = road_cols[mid_order]
    iy[road_idx] = road_iy
    other = np.flatnonzero(~road_rows)
    other = other[rng.permutation(len(other))]
    ix[other] = [cells[k][0] for k in pick]
    iy[other] = [cells[k][1] for k in pick]

    centre = np.column_stack(
        [(ix - (nx - 1) / 2) * SPACING_X, (iy - (ny - 1) / 2) * SPACING_Y]
    ) + rng.uniform(-170, 170, (n_v, 2))
    centre[road_rows, 1] = (road_iy - (ny - 1) / 2) * SPACING_Y + rng.uniform(-50, 50, n_road)
    theta = np.radians(rng.uniform(-8, 8, n_v))
    theta[road_rows] = np.radians(rng.normal(0, 1.5, n_road))

    # River: north–south through the gap left of the middle column, meandering.
    y_lo = centre[:, 1].min() - 4000
    y_hi = centre[:, 1].max() + 4000
    gx = (max(nx // 2, 1) - 0.5 - (nx - 1) / 2) * SPACING_X
    yy = np.arange(y_lo, y_hi, 20.0)
    ph = rng.uniform(0, 2 * np.pi, 3)
    xx = (
        gx
        + np.tan(np.radians(rng.uniform(-4, 4))) * yy
        + 170 * np.sin(2 * np.pi * yy / 2900 + ph[0])
        + 55 * np.sin(2 * np.pi * yy / 1100 + ph[1])
        + 15 * np.sin(2 * np.pi * yy / 470 + ph[2])
    )
    river = shapely.linestrings(np.column_stack([xx, yy]))

    def river_x(y: np.ndarray) -> np.ndarray:
        return np.interp(y, yy, xx)

    # Keep every village clear of the water; then draw one up to the bank.
    for _ in range(30):
        outline = _outlines(plans, centre, theta)
        d = shapely.distance(outline, river)
        bad = d < RIVER_CLEARANCE + 1.0
        if not bad.any():
            break
        away = np.sign(centre[:, 0] - river_x(centre[:, 1]))
        centre[bad, 0] += away[bad] * (RIVER_CLEARANCE + 10.0 - d[bad])
    side = np.sign(centre[:, 0] - river_x(centre[:, 1]))
    near = int(np.argmin(d))
    for _ in range(10):
        gap = float(shapely.distance(_outlines(plans, centre, theta)[near], river))
        if abs(gap - (RIVER_CLEARANCE + 8.0)) < 4.0:
            break
        centre[near, 0] -= side[near] * 0.9 * (gap - RIVER_CLEARANCE - 8.0)
    outline = _outlines(plans, centre, theta)
    if (shapely.distance(outline, river) < RIVER_CLEARANCE).any():
        raise RuntimeError("a village touches the river")  # never, by construction

    # Road: enters and leaves each road village along its main street (v = 0).
    ridx = road_idx[np.argsort(centre[road_idx, 0], kind="stable")]
    pts = []
    for i in ridx:
        p = plans[i]
        ends = np.array([[p.bbox[0] - 30.0, 0.0], [p.bbox[2] + 30.0, 0.0]])
        pts.append(to_world(ends, np.repeat(centre[i : i + 1], 2, 0), np.full(2, theta[i])))
    pts_a = np.vstack(pts)
    x_lo = centre[:, 0].min() - 4000
    x_hi = centre[:, 0].max() + 4000
    road = shapely.linestrings(
        np.vstack(
            [
                [x_lo, pts_a[0, 1] + rng.uniform(-80, 80)],
                pts_a,
                [x_hi, pts_a[-1, 1] + rng.uniform(-80, 80)],
            ]
        )
    )

    # No two villages closer than 100 m (checked, not assumed; the river may part them).
    tree = shapely.STRtree(outline)
    pairs = tree.query(outline, predicate="dwithin", distance=100.0)
    if (pairs[0] != pairs[1]).any():
        raise RuntimeError("villages too close")
    others = np.setdiff1d(np.arange(n_v), road_idx)
    if (shapely.intersects(outline[others], road)).any():
        raise RuntimeError("the road crosses a village it was not planned through")

    town, town_polys = _towns(centre, outline, ix, iy, nx, ny)
    # Codes run north to south, west to east within each town.
    key = np.lexsort((centre[:, 0], -np.round(centre[:, 1] / SPACING_Y), town))
    order = np.empty(n_v, dtype=np.int64)
    order[key] = np.arange(n_v)
    return Township(centre, theta, road_rows.copy(), town, order, outline, river, road, town_polys)


def _towns(
    centre: np.ndarray, outline: np.ndarray, ix: np.ndarray, iy: np.ndarray, nx: int, ny: int
) -> tuple[np.ndarray, list[shapely.Polygon]]:
    """Town of each village and town outlines (one town unless there are > 99 villages)."""
    n_v = len(centre)
    hull = shapely.buffer(shapely.convex_hull(shapely.multipolygons(outline)), TOWN_MARGIN)
    if n_v <= MAX_VILLAGES_PER_TOWN:
        return np.zeros(n_v, dtype=np.int64), [hull]
    n_t = int(np.ceil(n_v / VILLAGES_PER_TOWN_COUNTY))
    tx = max(1, round(np.sqrt(n_t * nx / ny)))
    ty = int(np.ceil(n_t / tx))
    raw = (ix * tx // nx) + tx * (iy * ty // ny)
    _, town = np.unique(raw, return_inverse=True)
    if np.bincount(town).max() > MAX_VILLAGES_PER_TOWN:
        raise RuntimeError("a town would have more than 99 villages")
    # Towns are the union of their villages' Voronoi cells, so they tile the area.
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(centre), extend_to=hull, ordered=True)
    )
    cells = shapely.intersection(cells, hull)
    # A village reaching over its cell's edge takes that piece from the neighbour
    # town, so each village lies wholly in its own town and towns still tile.
    polys = []
    tree = shapely.STRtree(outline)
    for t in range(int(town.max()) + 1):
        own = shapely.union_all(np.r_[cells[town == t], outline[town == t]])
        near = tree.query(own, predicate="intersects")
        foreign = near[town[near] != t]
        if len(foreign):
            own = shapely.difference(own, shapely.union_all(outline[foreign]))
        polys.append(own)
    return town.astype(np.int64), polys
