"""A regular grid of square cells in a metric CRS, and binning of points into it.

Every hotspot analysis works on the same kind of grid: an origin aligned to a
multiple of the cell size (so the same cells come back run after run, and stored
runs can be compared cell by cell), ``ny`` rows and ``nx`` columns, row 0 at the
south. Values live in ``(ny, nx)`` arrays; a boolean mask of the same shape says
which cells belong to the study area.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

#: Default cell size (m): the issue asks for 50–100 m.
DEFAULT_CELL_M = 75.0


@dataclass(frozen=True)
class CellGrid:
    """Square cells of ``cell_m`` metres; cell (r, c) spans x0 + c·cell_m … and y0 + r·cell_m …."""

    x0: float
    y0: float
    cell_m: float
    nx: int
    ny: int

    @classmethod
    def covering(
        cls, bounds: tuple[float, float, float, float], cell_m: float = DEFAULT_CELL_M
    ) -> CellGrid:
        """The aligned grid that covers ``bounds`` (minx, miny, maxx, maxy).

        Parameters
        ----------
        bounds : tuple of float
            Area to cover, in the metric CRS.
        cell_m : float
            Cell size in metres (> 0).

        Returns
        -------
        CellGrid
        """
        if not cell_m > 0:
            raise ValueError("cell_m must be positive")
        minx, miny, maxx, maxy = (float(b) for b in bounds)
        if not (np.isfinite([minx, miny, maxx, maxy]).all() and maxx >= minx and maxy >= miny):
            raise ValueError(f"bad bounds {bounds!r}")
        # Aligning the origin to the cell size makes runs over different periods
        # or categories share their cells.
        x0 = np.floor(minx / cell_m) * cell_m
        y0 = np.floor(miny / cell_m) * cell_m
        # Points on the upper edge go to the last cell (see flat_index), so
        # bounds that end on a cell line get no extra, nearly empty row.
        nx = max(1, int(np.ceil((maxx - x0) / cell_m)))
        ny = max(1, int(np.ceil((maxy - y0) / cell_m)))
        return cls(float(x0), float(y0), float(cell_m), nx, ny)

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``, the shape of value arrays."""
        return (self.ny, self.nx)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Outer bounds of the grid."""
        return (
            self.x0,
            self.y0,
            self.x0 + self.nx * self.cell_m,
            self.y0 + self.ny * self.cell_m,
        )

    def flat_index(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Flat cell index (row · nx + col) of each point, −1 outside the grid.

        Cells are closed below and open above, except that the grid's upper
        edge belongs to the last row / column.
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        col = np.floor((x - self.x0) / self.cell_m)
        row = np.floor((y - self.y0) / self.cell_m)
        col = np.where((col == self.nx) & (x <= self.x0 + self.nx * self.cell_m), col - 1, col)
        row = np.where((row == self.ny) & (y <= self.y0 + self.ny * self.cell_m), row - 1, row)
        inside = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        idx = np.where(inside, row * self.nx + col, -1)
        return idx.astype(np.int64)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """x and y of every cell centre, each of shape ``(ny, nx)``."""
        xs = self.x0 + (np.arange(self.nx) + 0.5) * self.cell_m
        ys = self.y0 + (np.arange(self.ny) + 0.5) * self.cell_m
        return np.meshgrid(xs, ys)

    def polygons(self, flat: np.ndarray | None = None) -> np.ndarray:
        """Cell squares (shapely) for the given flat indices, or for every cell."""
        flat = np.arange(self.nx * self.ny) if flat is None else np.asarray(flat)
        row, col = np.divmod(flat, self.nx)
        x = self.x0 + col * self.cell_m
        y = self.y0 + row * self.cell_m
        return shapely.box(x, y, x + self.cell_m, y + self.cell_m)

    def mask_within(self, area: shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame) -> np.ndarray:
        """Cells whose centre lies in ``area`` (e.g. the village outlines), as a mask.

        Incidents only happen where people live: cells over fields would make
        every village look hot against an empty background.
        """
        if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
            area = shapely.union_all(np.asarray(area.geometry.values))
        cx, cy = self.centres()
        shapely.prepare(area)
        return shapely.contains_xy(area, cx.ravel(), cy.ravel()).reshape(self.shape)

    def to_geodataframe(
        self,
        columns: dict[str, np.ndarray],
        *,
        crs: object = None,
        mask: np.ndarray | None = None,
    ) -> gpd.GeoDataFrame:
        """One row per (masked) cell with its square and the given ``(ny, nx)`` arrays.

        Parameters
        ----------
        columns : dict of str to ndarray
            Column name -> array of shape ``(ny, nx)``.
        crs : optional
            CRS of the result (the metric CRS the grid is in).
        mask : ndarray of bool, optional
            Cells to keep; default all.

        Returns
        -------
        geopandas.GeoDataFrame
            Columns ``row``, ``col``, the given columns and ``geometry``.
        """
        keep = np.ones(self.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        flat = np.flatnonzero(keep.ravel())
        row, col = np.divmod(flat, self.nx)
        data: dict[str, np.ndarray] = {"row": row, "col": col}
        for name, values in columns.items():
            arr = np.asarray(values)
            if arr.shape != self.shape:
                raise ValueError(f"column {name!r} has shape {arr.shape}, grid is {self.shape}")
            data[name] = arr.ravel()[flat]
        return gpd.GeoDataFrame(data, geometry=self.polygons(flat), crs=crs)


def bin_points(
    grid: CellGrid,
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Count (or sum ``weights`` of) the points falling in each cell.

    Parameters
    ----------
    grid : CellGrid
    x, y : ndarray
        Point coordinates in the grid's metric CRS.
    weights : ndarray, optional
        Weight of each point; default 1.

    Returns
    -------
    ndarray of float, shape ``(ny, nx)``
        Points outside the grid are dropped.
    """
    idx = grid.flat_index(x, y)
    inside = idx >= 0
    w = None if weights is None else np.asarray(weights, dtype=float)[inside]
    counts = np.bincount(idx[inside], weights=w, minlength=grid.nx * grid.ny)
    return counts.astype(float).reshape(grid.shape)
