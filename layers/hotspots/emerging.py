"""Emerging hotspots: space-time Gi* per time step, then a trend category per cell.

Follows the published rules of Esri's Emerging Hot Spot Analysis:

1. Incidents are binned into a cube (time step × row × column).
2. Each bin gets a Gi* z-score over its spatial neighbourhood in the current
   and the ``time_lag`` previous steps; BH-FDR over all bins decides which are
   significant.
3. The Mann–Kendall test on each cell's series of z-scores gives its trend.
4. Rules turn (significance history, trend) into a category; the "90 %" rule
   separates the steady categories from the sporadic ones.

Categories (each for hot spots; the cold ones carry the prefix ``cold_``):

========== ==============================================================
new         hot in the final step only
consecutive hot in one uninterrupted run (≥ 2) up to the final step, never before, < 90 %
intensifying hot in ≥ 90 % of steps incl. the final, z rising (MK significant)
persistent  hot in ≥ 90 % of steps incl. the final, no significant trend
diminishing hot in ≥ 90 % of steps incl. the final, z falling (MK significant)
sporadic    hot in the final step, on and off before, < 90 %, never cold
oscillating hot in the final step, cold in some earlier step, < 90 %
historical  not hot in the final step, hot in ≥ 90 % of the steps
========== ==============================================================

The research note (§5.2) found that with a time lag of 1 a step just after a hot
run still looks hot, so "historical" rarely shows; ``time_lag=0`` avoids that.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np

from layers.hotspots.gistar import gi_star_test, neighbourhood
from layers.hotspots.grid import DEFAULT_CELL_M, CellGrid
from layers.hotspots.stats import MannKendall, benjamini_hochberg, mann_kendall

CATEGORIES: tuple[str, ...] = (
    "new", "consecutive", "intensifying", "persistent", "diminishing",
    "sporadic", "oscillating", "historical",
)  # fmt: skip
NO_PATTERN = "none"


@dataclass(frozen=True)
class EmergingResult:
    """Per-bin Gi* and per-cell categories of a space-time cube.

    Attributes
    ----------
    grid : CellGrid
    counts : ndarray, shape ``(T, ny, nx)``
    mask : ndarray of bool, shape ``(ny, nx)``
    z, q : ndarray, shape ``(T, ny, nx)``
        Space-time Gi* z and BH q per bin.
    category : ndarray of str, shape ``(ny, nx)``
        One of :data:`CATEGORIES` (``cold_`` prefixed for cold spots) or ``"none"``.
    trend : MannKendall
        Trend of each cell's z-series, flattened over the grid (``ny * nx``).
    alpha : float
    """

    grid: CellGrid
    counts: np.ndarray
    mask: np.ndarray
    z: np.ndarray
    q: np.ndarray
    category: np.ndarray
    trend: MannKendall
    alpha: float

    def to_geodataframe(self, crs: object = None) -> gpd.GeoDataFrame:
        """Cells with a pattern: ``category``, trend ``tau``/``trend_p``, total ``count``."""
        keep = self.mask & (self.category != NO_PATTERN)
        shape = self.grid.shape
        return self.grid.to_geodataframe(
            {
                "category": self.category,
                "tau": self.trend.tau.reshape(shape),
                "trend_z": self.trend.z.reshape(shape),
                "trend_p": self.trend.p.reshape(shape),
                "count": self.counts.sum(axis=0),
                "z_last": self.z[-1],
            },
            crs=crs,
            mask=keep,
        )


def time_bins(t: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Step index of each time for ascending ``edges`` (k + 1 edges → k steps), −1 outside."""
    t = np.asarray(t)
    edges = np.asarray(edges)
    step = np.searchsorted(edges, t, side="right") - 1
    return np.where((step >= 0) & (step < len(edges) - 1), step, -1)


def cube_counts(grid: CellGrid, x: np.ndarray, y: np.ndarray, step: np.ndarray, n_steps: int):
    """Incident counts per (step, row, col); points with step −1 or off-grid are dropped."""
    idx = grid.flat_index(x, y)
    step = np.asarray(step)
    ok = (idx >= 0) & (step >= 0) & (step < n_steps)
    flat = step[ok] * (grid.nx * grid.ny) + idx[ok]
    c = np.bincount(flat, minlength=n_steps * grid.nx * grid.ny).astype(float)
    return c.reshape(n_steps, grid.ny, grid.nx)


def classify(
    hot: np.ndarray, cold: np.ndarray, trend: MannKendall, alpha: float = 0.05
) -> np.ndarray:
    """Category per series from significance flags and the z trend.

    Parameters
    ----------
    hot, cold : ndarray of bool, shape ``(m, T)``
        Significant hot / cold per series and step.
    trend : MannKendall
        Trend of each series' z-scores.
    alpha : float
        Significance level of the trend test.

    Returns
    -------
    ndarray of str, shape ``(m,)``
    """
    out = np.full(hot.shape[0], NO_PATTERN, dtype=object)
    rising = (trend.p <= alpha) & (trend.s > 0)
    falling = (trend.p <= alpha) & (trend.s < 0)
    for flags, other, prefix, up, down in (
        (hot, cold, "", rising, falling),
        (cold, hot, "cold_", falling, rising),
    ):
        t = flags.shape[1]
        share = flags.mean(axis=1)
        final = flags[:, -1]
        before = flags[:, :-1].any(axis=1)
        steady = share >= 0.9
        # Length of the run of significant steps that ends at the final step.
        not_flag = ~flags[:, ::-1]
        run = np.where(not_flag.any(axis=1), np.argmax(not_flag, axis=1), t)
        ever_before_run = (flags & (np.arange(t)[None, :] < (t - run)[:, None])).any(axis=1)
        ever_other = other.any(axis=1)
        cat = np.full(len(out), "", dtype=object)
        cat[final & ~before] = "new"
        cat[final & steady & up] = "intensifying"
        cat[final & steady & ~up & ~down] = "persistent"
        cat[final & steady & down] = "diminishing"
        rest = final & ~steady & before
        cat[rest & (run >= 2) & ~ever_before_run] = "consecutive"
        open_ = rest & (cat == "")
        cat[open_ & ever_other] = "oscillating"
        cat[open_ & ~ever_other] = "sporadic"
        cat[~final & steady] = "historical"
        named = cat != ""
        # A cell is hot or cold in the final step, never both; hot rules run first.
        fill = named & (out == NO_PATTERN)
        out[fill] = np.char.add(prefix, cat[fill].astype(str)).astype(object)
    return out


def emerging_hotspots_cube(
    grid: CellGrid,
    counts: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    band_m: float | None = None,
    time_lag: int = 1,
    alpha: float = 0.05,
) -> EmergingResult:
    """Emerging-hotspot categories of a cube of counts.

    Parameters
    ----------
    grid : CellGrid
    counts : ndarray, shape ``(T, ny, nx)``
        Incidents per time step and cell, oldest step first (T ≥ 3 for a trend).
    mask : ndarray of bool, shape ``(ny, nx)``, optional
        Study-area cells; default all.
    band_m : float, optional
        Spatial neighbourhood radius; default queen.
    time_lag : int
        Previous time steps in each bin's neighbourhood (Esri's default is 1).
    alpha : float
        False discovery rate for the bins and level of the trend test.

    Returns
    -------
    EmergingResult
    """
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 3 or counts.shape[1:] != grid.shape:
        raise ValueError(f"counts must have shape (T, {grid.ny}, {grid.nx})")
    n_t = counts.shape[0]
    if time_lag < 0:
        raise ValueError("time_lag must be >= 0")
    m2 = np.ones(grid.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    m3 = np.broadcast_to(m2, counts.shape)
    spatial = neighbourhood(grid.cell_m, band_m)
    # The kernel looks back only: place it so that layer 0 of a (2·lag+1)-deep
    # kernel covers the steps t − lag … t and the rest is zero.
    kernel = np.zeros((2 * time_lag + 1, *spatial.shape))
    kernel[: time_lag + 1] = spatial
    z, p = gi_star_test(counts, m3, kernel)
    q = benjamini_hochberg(p)
    sig = np.nan_to_num(q, nan=1.0) <= alpha
    zf = np.nan_to_num(z).reshape(n_t, -1).T
    hot = (sig & (np.nan_to_num(z) > 0)).reshape(n_t, -1).T
    cold = (sig & (np.nan_to_num(z) < 0)).reshape(n_t, -1).T
    trend = mann_kendall(zf)
    cat = classify(hot, cold, trend, alpha).reshape(grid.shape)
    cat[~m2] = NO_PATTERN
    return EmergingResult(grid, counts, m2, z, q, cat, trend, float(alpha))


def emerging_hotspots(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    edges: np.ndarray,
    *,
    cell_m: float = DEFAULT_CELL_M,
    bounds: tuple[float, float, float, float] | None = None,
    mask: np.ndarray | None = None,
    band_m: float | None = None,
    time_lag: int = 1,
    alpha: float = 0.05,
) -> EmergingResult:
    """Emerging hotspots of incident points over time steps.

    Parameters
    ----------
    x, y : ndarray
        Incident coordinates in a metric CRS.
    t : ndarray
        Incident times (numbers or datetime64, comparable with ``edges``).
    edges : ndarray
        Ascending step boundaries (e.g. month starts): k + 1 edges give k steps.
    cell_m, bounds, mask, band_m, time_lag, alpha
        See :func:`emerging_hotspots_cube`; ``bounds`` defaults to the points'.
        ``mask`` must match the grid built from ``bounds`` and ``cell_m``.

    Returns
    -------
    EmergingResult
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if bounds is None:
        if not len(x):
            raise ValueError("no points and no bounds")
        bounds = (x.min(), y.min(), x.max(), y.max())
    grid = CellGrid.covering(bounds, cell_m)
    step = time_bins(t, edges)
    counts = cube_counts(grid, x, y, step, len(edges) - 1)
    return emerging_hotspots_cube(
        grid, counts, mask=mask, band_m=band_m, time_lag=time_lag, alpha=alpha
    )
