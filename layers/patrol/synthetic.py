"""Synthetic lane layers for tests and benchmarks: a perturbed grid township.

The research note's benchmark networks (229 / 365 / 661 lanes) are n × n grids
with jittered crossings, 15 % of the lanes removed (keeping the network
connected) and a few diagonal lanes; :func:`grid_lanes` rebuilds that family.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph

#: Grid sizes of the research note's networks and their lane counts.
RESEARCH_SIZES = {12: 229, 15: 365, 20: 661}


def grid_lanes(
    n: int,
    *,
    spacing: float = 100.0,
    drop: float = 0.15,
    n_lanes: int | None = None,
    jitter: float = 0.1,
    seed: int = 0,
    origin: tuple[float, float] = (0.0, 0.0),
    crs: object = "EPSG:4548",
) -> gpd.GeoDataFrame:
    """Lanes of an ``n`` × ``n`` perturbed grid township, as straight lines.

    Parameters
    ----------
    n : int
        Crossings per side.
    spacing : float
        Distance between crossings (m).
    drop : float
        Share of grid lanes removed (never disconnecting the network).
    n_lanes : int, optional
        Exact lane count wanted; default :data:`RESEARCH_SIZES` for the
        research sizes, else whatever ``drop`` gives plus n/8 diagonals.
    jitter : float
        Crossing jitter as a share of ``spacing``.
    seed : int
    origin : (float, float)
        South-west corner.
    crs : object
        CRS label of the result.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``key`` and ``geometry``.
    """
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    xy = np.column_stack([jj.ravel(), ii.ravel()]).astype(float) * spacing
    xy += rng.uniform(-jitter, jitter, xy.shape) * spacing + np.asarray(origin)
    node = np.arange(n * n).reshape(n, n)
    a = np.r_[node[:, :-1].ravel(), node[:-1, :].ravel()]
    b = np.r_[node[:, 1:].ravel(), node[1:, :].ravel()]
    # A random spanning tree is kept, so dropping other lanes never disconnects.
    w = rng.random(len(a)) + 0.01
    g = sparse.coo_matrix((w, (a, b)), shape=(n * n, n * n)).tocsr()
    tree = csgraph.minimum_spanning_tree(g).tocoo()
    in_tree = {(min(p, q), max(p, q)) for p, q in zip(tree.row, tree.col, strict=True)}
    optional = np.array([k for k in range(len(a)) if (a[k], b[k]) not in in_tree])
    n_diag = max(1, n // 8 + (n >= 15) * 2)
    target = n_lanes if n_lanes is not None else RESEARCH_SIZES.get(n)
    n_grid = len(a) - round(drop * len(a)) if target is None else target - n_diag
    n_drop = min(len(a) - n_grid, len(optional))
    dropped = rng.choice(optional, size=n_drop, replace=False) if n_drop > 0 else []
    keep = np.setdiff1d(np.arange(len(a)), dropped)
    cells = rng.choice((n - 1) * (n - 1), size=n_diag, replace=False)
    r, c = np.divmod(cells, n - 1)
    da, db = node[r, c], node[r + 1, c + 1]
    ea = np.r_[a[keep], da]
    eb = np.r_[b[keep], db]
    lines = shapely.linestrings(np.stack([xy[ea], xy[eb]], axis=1))
    keys = [f"L{k:04d}" for k in range(len(lines))]
    return gpd.GeoDataFrame({"key": keys}, geometry=lines, crs=crs)


def simulate_track(
    line: shapely.LineString,
    *,
    speed_mps: float = 1.1,
    interval_s: float = 15.0,
    sigma_m: float = 10.0,
    outlier_share: float = 0.03,
    outlier_m: float = 60.0,
    stops: list[tuple[float, float]] | None = None,
    t0: float = 1_793_000_000.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GPS fixes of someone walking ``line``, with noise, outliers and stops.

    Parameters
    ----------
    line : shapely.LineString
        The walked line (metric CRS).
    speed_mps : float
        Walking speed.
    interval_s : float
        Seconds between fixes.
    sigma_m : float
        GPS noise (standard deviation per axis, m).
    outlier_share : float
        Share of fixes thrown ``outlier_m`` off in a random direction.
    outlier_m : float
    stops : list of (float, float), optional
        (distance along the line in m, seconds stood there).
    t0 : float
        Start time, seconds since the epoch.
    seed : int

    Returns
    -------
    x, y, t : ndarray
    """
    rng = np.random.default_rng(seed)
    stops = sorted(stops or [])
    total = line.length
    # Time → distance along the line: walking segments with pauses between.
    knots_t, knots_d = [0.0], [0.0]
    for d, dur in stops:
        d = min(max(d, knots_d[-1]), total)
        knots_t.append(knots_t[-1] + (d - knots_d[-1]) / speed_mps)
        knots_d.append(d)
        knots_t.append(knots_t[-1] + dur)
        knots_d.append(d)
    knots_t.append(knots_t[-1] + (total - knots_d[-1]) / speed_mps)
    knots_d.append(total)
    t = np.arange(0.0, knots_t[-1] + 1e-9, interval_s)
    along = np.interp(t, knots_t, knots_d)
    xy = shapely.get_coordinates(shapely.line_interpolate_point(line, along))
    xy = xy + rng.normal(0.0, sigma_m, xy.shape)
    out = rng.random(len(t)) < outlier_share
    ang = rng.uniform(0, 2 * np.pi, out.sum())
    xy[out] += outlier_m * np.column_stack([np.cos(ang), np.sin(ang)])
    return xy[:, 0], xy[:, 1], t0 + t
