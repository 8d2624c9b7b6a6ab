"""Binned Gaussian kernel density for the heat layer.

A histogram on a fine grid smoothed by a Gaussian filter equals the exact
Gaussian KDE up to the binning (r = 1.0000 against scikit-learn at 50 m output
cells, research note §5.2) and takes 0.2 s for a million points instead of 12 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from layers.hotspots.grid import CellGrid, bin_points

#: The filter is cut at this many standard deviations (mass beyond: < 1e-8).
_TRUNCATE = 4.0


@dataclass(frozen=True)
class KdeGrid:
    """Density per cell: expected points per m² (the kernel mass kept inside the grid).

    ``density.sum() * grid.cell_m ** 2`` equals the total weight of the points
    (up to the few parts per billion cut off at the grid's padded edge).
    """

    grid: CellGrid
    density: np.ndarray
    bandwidth_m: float

    def per_km2(self) -> np.ndarray:
        """Density in points per km²."""
        return self.density * 1e6

    def probability(self) -> np.ndarray:
        """Share of the total mass in each cell (sums to 1)."""
        total = self.density.sum()
        return self.density / total if total > 0 else self.density.copy()


def kernel_density(
    x: np.ndarray,
    y: np.ndarray,
    *,
    bandwidth_m: float = 100.0,
    cell_m: float = 10.0,
    bounds: tuple[float, float, float, float] | None = None,
    weights: np.ndarray | None = None,
    out_cell_m: float | None = None,
) -> KdeGrid:
    """Gaussian kernel density of points, by binning and a Gaussian filter.

    Parameters
    ----------
    x, y : ndarray
        Points in a metric CRS.
    bandwidth_m : float
        Standard deviation of the Gaussian kernel in metres.
    cell_m : float
        Binning cell; the result is exact up to a blur of about cell_m/√12.
        Keep it ≤ bandwidth_m / 5.
    bounds : tuple, optional
        Area of interest; default the points' bounds. The grid is padded by
        four bandwidths so the kernel mass near the edge is kept.
    weights : ndarray, optional
        Weight of each point (e.g. severity); default 1.
    out_cell_m : float, optional
        Coarser output cell (a multiple of ``cell_m``) for the heat layer; the
        density is averaged over each block, so the mass is kept.

    Returns
    -------
    KdeGrid
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if not bandwidth_m > 0 or not cell_m > 0:
        raise ValueError("bandwidth_m and cell_m must be positive")
    if bounds is None:
        if not len(x):
            raise ValueError("no points and no bounds")
        bounds = (x.min(), y.min(), x.max(), y.max())
    pad = _TRUNCATE * bandwidth_m + 2 * (cell_m if out_cell_m is None else out_cell_m)
    step = cell_m if out_cell_m is None else out_cell_m
    factor = 1 if out_cell_m is None else round(out_cell_m / cell_m)
    if out_cell_m is not None and (factor < 1 or abs(factor * cell_m - out_cell_m) > 1e-6):
        raise ValueError("out_cell_m must be a multiple of cell_m")
    # The fine grid is the coarse one subdivided, so blocks sum without remainders.
    coarse = CellGrid.covering(
        (bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad), step
    )
    fine = CellGrid(coarse.x0, coarse.y0, cell_m, coarse.nx * factor, coarse.ny * factor)
    counts = bin_points(fine, x, y, weights)
    sigma = bandwidth_m / cell_m
    smooth = ndimage.gaussian_filter(counts, sigma=sigma, mode="constant", truncate=_TRUNCATE)
    if factor > 1:
        smooth = smooth.reshape(coarse.ny, factor, coarse.nx, factor).sum(axis=(1, 3))
    return KdeGrid(coarse, smooth / step**2, float(bandwidth_m))
