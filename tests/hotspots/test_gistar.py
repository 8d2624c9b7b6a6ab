"""Gi* with BH-FDR: planted hotspots found, nothing flagged on random data, esda agreement."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy import stats

from layers.demo import generate
from layers.hotspots.gistar import gi_star, gi_star_points, hotspot_clusters, neighbourhood
from layers.hotspots.grid import DEFAULT_CELL_M, CellGrid, bin_points
from layers.hotspots.stats import benjamini_hochberg, two_sided_p

METRIC = "EPSG:4548"
SIDE = 5000.0


def _planted(seed: int, n_bg: int = 20000, per_spot: int = 400, sigma: float = 60.0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(600, SIDE - 600, (6, 2))
    bg = rng.uniform(0, SIDE, (n_bg, 2))
    spots = np.vstack([c + rng.normal(0, sigma, (per_spot, 2)) for c in centres])
    pts = np.vstack([bg, spots])
    return pts, centres


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_hotspots_found_with_precise_core(seed):
    # 6 clusters of 100 points (σ = 60 m) over 20,000 random points: 3 % planted.
    pts, centres = _planted(seed, per_spot=100)
    r = gi_star_points(pts[:, 0], pts[:, 1], cell_m=100, bounds=(0, 0, SIDE, SIDE))
    cx, cy = r.grid.centres()
    truth = np.zeros(r.grid.shape, dtype=bool)
    core = r.core
    for x, y in centres:
        near = np.hypot(cx - x, cy - y) <= 150
        assert (near & core).any(), "every planted hotspot has a core cell"
        truth |= near
    assert (core & truth).sum() / core.sum() >= 0.8
    # The halo: plain hot cells include the ring around each hotspot.
    assert r.hot.sum() >= core.sum()
    clusters = hotspot_clusters(r, crs=METRIC)
    assert len(clusters) >= 5
    assert clusters["priority"].is_monotonic_decreasing


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weak_hotspots_found_at_the_default_cell_size(seed):
    # 6 clusters of 50 points over 20,000 random ones (1.5 %): at 75 m cells the
    # 3 × 3 neighbourhood matches a σ = 60 m cluster better than at 100 m.
    pts, centres = _planted(seed, per_spot=50)
    r = gi_star_points(pts[:, 0], pts[:, 1], bounds=(0, 0, SIDE, SIDE))
    assert r.grid.cell_m == DEFAULT_CELL_M == 75.0
    cx, cy = r.grid.centres()
    near = [np.hypot(cx - x, cy - y) <= 150 for x, y in centres]
    assert all((m & r.hot).any() for m in near)
    assert (r.hot & np.logical_or.reduce(near)).sum() / r.hot.sum() >= 0.8


@pytest.mark.parametrize("seed", range(5))
def test_nothing_flagged_on_random_points(seed):
    rng = np.random.default_rng(100 + seed)
    pts = rng.uniform(0, SIDE, (20000, 2))
    r = gi_star_points(pts[:, 0], pts[:, 1], cell_m=100, bounds=(0, 0, SIDE, SIDE))
    assert r.hot.sum() == 0
    assert r.cold.sum() == 0
    # Without FDR the same data would flag cells: the correction is applied.
    assert (np.nan_to_num(r.p, nan=1) < 0.05).sum() > 20


def test_bh_matches_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5, np.nan])
    q = benjamini_hochberg(p)
    m = 5
    order = np.argsort(p[:5])
    ranked = p[:5][order] * m / np.arange(1, m + 1)
    expect = np.minimum.accumulate(ranked[::-1])[::-1]
    assert np.allclose(q[:5][order], expect)
    assert np.isnan(q[5])


def test_gi_star_matches_the_textbook_formula():
    """Getis & Ord (1992) Gi* with binary queen weights (self included), cell by cell."""
    rng = np.random.default_rng(0)
    grid = CellGrid(0.0, 0.0, 100.0, 12, 10)
    counts = rng.poisson(3.0, grid.shape).astype(float)
    counts[4:6, 5:7] += 8
    r = gi_star(grid, counts)
    x = counts.ravel()
    n = x.size
    mean, s = x.mean(), np.sqrt((x**2).mean() - x.mean() ** 2)
    ny, nx = grid.shape
    for i in range(ny):
        for j in range(nx):
            nb = counts[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2]
            w = nb.size  # binary weights: their sum and sum of squares are both the count
            z = (nb.sum() - mean * w) / (s * np.sqrt((n * w - w**2) / (n - 1)))
            assert r.z[i, j] == pytest.approx(z, abs=1e-9)
            # The p-value reads the neighbourhood count off a count distribution
            # with the same mean and variance: binomial, or negative binomial
            # when the cells vary more than that.
            mu, var = mean * w, s**2 * w * (n - w) / (n - 1)
            k, total = nb.sum(), int(x.sum())
            if var > mu:
                prob = mu / var
                dist = stats.nbinom(mu * prob / (1 - prob), prob)
            else:
                dist = stats.binom(total, mu / total)
            tails = min(dist.sf(k - 1), dist.cdf(k))
            assert r.p[i, j] == pytest.approx(min(1.0, 2 * tails), rel=1e-9)


@pytest.mark.parametrize("dispersed", [False, True])
def test_random_counts_rarely_flag_anything(dispersed):
    """FDR control at 5 %: under the null, at most 1 dataset in 20 flags any cell.

    With 4–5 incidents per cell the normal p-value of Gi* flagged cells in about
    11 % of random datasets; the count distribution keeps to the 5 %, whether the
    counts vary as Poisson counts do or more (villages of different size).
    """
    grid = CellGrid(0.0, 0.0, 75.0, 67, 67)
    flagged = normal = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        if dispersed:
            counts = rng.negative_binomial(2, 2 / (2 + 4.5), grid.shape).astype(float)
        else:
            counts = rng.poisson(4.5, grid.shape).astype(float)
        r = gi_star(grid, counts)
        flagged += bool(r.hot.any() or r.cold.any())
        normal += bool((benjamini_hochberg(two_sided_p(r.z)) <= 0.05).any())
    assert flagged <= 10
    assert normal > flagged  # the normal curve's tail is what the count test fixes


def test_mask_and_band():
    grid = CellGrid(0.0, 0.0, 50.0, 20, 20)
    counts = np.ones(grid.shape)
    mask = np.zeros(grid.shape, dtype=bool)
    mask[5:15, 5:15] = True
    counts[~mask] = 100.0  # outside the study area: must not matter
    r = gi_star(grid, counts, mask=mask)
    assert np.isnan(r.z[~mask]).all()
    assert np.allclose(r.z[mask], 0.0)
    k = neighbourhood(50.0, 120.0)
    assert k.shape == (5, 5)
    assert k.sum() == 21


def test_demo_planted_hotspots_found():
    t = generate(seed=20261101, households=8000)
    inc = t.incidents.to_crs(METRIC)
    vil = t.villages.to_crs(METRIC)
    ph = t.planted_hotspots
    planted = gpd.GeoSeries(gpd.points_from_xy(ph["lon"], ph["lat"]), crs="EPSG:4490")
    planted = planted.to_crs(METRIC)
    grid = CellGrid.covering(vil.total_bounds, 75.0)
    mask = grid.mask_within(vil)
    for k, code in enumerate(ph["category_code"]):
        sel = inc[inc["category_code"] == code]
        counts = bin_points(grid, sel.geometry.x.to_numpy(), sel.geometry.y.to_numpy())
        r = gi_star(grid, counts, mask=mask)
        clusters = hotspot_clusters(r, crs=METRIC)
        assert len(clusters) >= 1
        top = clusters.iloc[0]
        dist = np.hypot(top["x_peak"] - planted.x.iloc[k], top["y_peak"] - planted.y.iloc[k])
        assert dist <= ph["radius_m"].iloc[k] + 75
        disc = shapely.buffer(planted.iloc[k], ph["radius_m"].iloc[k])
        cells = grid.polygons(np.flatnonzero(r.core.ravel()))
        assert shapely.intersects(cells, disc).mean() >= 0.8
    gdf = r.to_geodataframe(crs=METRIC)
    assert {"count", "z", "p", "q", "bin", "klass", "core"} <= set(gdf.columns)
    assert set(gdf["klass"]) <= {"hot", "cold", "none"}
