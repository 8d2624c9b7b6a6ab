"""The heat layer: kernel density of the incidents in some villages, as a small raster.

The density (:func:`layers.hotspots.kde.kernel_density`) lives on a metric
grid; Leaflet draws images in longitude/latitude. So the raster is resampled
onto pixels aligned with longitude and latitude (bilinear, from the metric
density at each pixel centre) and sent as rows of level digits, which the page
paints on a canvas and lays on the map as an image: about 50 KB for the demo
town at 25 m (mostly zeros, so it compresses well), drawn at once, with no
plugin. Only density levels leave the server, never an incident, and pixels
outside the villages stay empty.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import shapely
from pyproj import Transformer
from scipy import ndimage
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.db import METRIC_SRID, SRID
from layers.errors import Invalid
from layers.hotspots.kde import kernel_density
from layers.hotspots.runs import check_params, incident_points, study_area

#: Colour levels of the layer; level 0 is left transparent.
LEVELS = 5
#: Lower edges of levels 1–5 as shares of the highest density: a pixel under a
#: tenth of the peak is left clear, so the layer shows where incidents gather.
LEVEL_SHARES = (0.1, 0.3, 0.5, 0.7, 0.9)
#: Most pixels a layer may have (a town of 10 × 10 km at 25 m is 160,000).
MAX_PIXELS = 250_000
#: Default period: the year up to the last incident in the villages.
DEFAULT_DAYS = 365
BANDWIDTH_RANGE_M = (50.0, 1000.0)
PIXEL_RANGE_M = (10.0, 200.0)


def heat_raster(
    session: Session,
    villages: list[int] | None,
    *,
    since: date | None = None,
    until: date | None = None,
    category: str | None = None,
    bandwidth_m: float = 100.0,
    pixel_m: float = 25.0,
) -> dict:
    """Kernel density of the villages' incidents as a longitude/latitude raster of levels.

    Parameters
    ----------
    session
        Open session; it must be allowed to read the villages' incidents.
    villages
        Village ids of the study area; all villages when ``None``.
    since, until
        Period; default the :data:`DEFAULT_DAYS` up to the last incident there.
    category
        Top-level category code; all when ``None``.
    bandwidth_m
        Standard deviation of the Gaussian kernel (metres).
    pixel_m
        Approximate pixel size (metres); coarsened when the area would need
        more than :data:`MAX_PIXELS` pixels.

    Returns
    -------
    dict
        ``bounds`` ([[south, west], [north, east]]), ``width``, ``height``,
        ``rows`` (``height`` strings of ``width`` digits 0–5, north first),
        ``breaks_per_km2`` (lower density edge of levels 1–5, incidents per km²
        over the period), ``incidents``, ``period``, ``category``,
        ``bandwidth_m``, ``pixel_m`` and ``empty`` (no incident in the period).
    """
    lo, hi = BANDWIDTH_RANGE_M
    if not (isinstance(bandwidth_m, int | float) and lo <= bandwidth_m <= hi):
        raise Invalid(
            f"核密度带宽应在 {lo:g}–{hi:g} 米之间 / bandwidth must be {lo:g}–{hi:g} m",
            "bandwidth",
        )
    lo, hi = PIXEL_RANGE_M
    if not (isinstance(pixel_m, int | float) and lo <= pixel_m <= hi):
        raise Invalid(
            f"像元边长应在 {lo:g}–{hi:g} 米之间 / pixel size must be {lo:g}–{hi:g} m", "pixel"
        )
    if villages is not None and not villages:
        raise Invalid("没有可见的村 / no villages to show", "villages")
    if until is None:
        until = (
            session.execute(
                text(
                    "SELECT max(reported_at)::date FROM incident"
                    " WHERE CAST(:vs AS int[]) IS NULL OR village_id = ANY(:vs)"
                ),
                {"vs": villages},
            ).scalar()
            or date.today()
        )
    if since is None:
        since = until - timedelta(days=DEFAULT_DAYS - 1)
    check_params(session, since=since, until=until, category=category, cell_m=75.0, alpha=0.05)
    area = study_area(session, villages=villages)
    x, y = incident_points(session, since, until, category, villages)

    # Pixels aligned with longitude/latitude over the area's bounds.
    to_metric = Transformer.from_crs(SRID, METRIC_SRID, always_xy=True)
    to_geo = Transformer.from_crs(METRIC_SRID, SRID, always_xy=True)
    west, south, east, north = to_geo.transform_bounds(*area.bounds)
    dlat = pixel_m / 111_320.0
    dlon = pixel_m / (111_320.0 * math.cos(math.radians((south + north) / 2)))
    width = max(1, math.ceil((east - west) / dlon))
    height = max(1, math.ceil((north - south) / dlat))
    if width * height > MAX_PIXELS:
        scale = math.sqrt(width * height / MAX_PIXELS)
        pixel_m, dlat, dlon = pixel_m * scale, dlat * scale, dlon * scale
        width = max(1, math.ceil((east - west) / dlon))
        height = max(1, math.ceil((north - south) / dlat))
    east, south = west + width * dlon, north - height * dlat
    lon = west + (np.arange(width) + 0.5) * dlon
    lat = north - (np.arange(height) + 0.5) * dlat
    glon, glat = np.meshgrid(lon, lat)
    mx, my = to_metric.transform(glon.ravel(), glat.ravel())
    shapely.prepare(area)
    inside = shapely.contains_xy(area, mx, my)

    level = np.zeros(width * height, dtype=np.int8)
    breaks = None
    if len(x):
        # Binning at a fifth of the bandwidth keeps the KDE exact to well under a pixel.
        kde = kernel_density(
            x, y, bandwidth_m=bandwidth_m, cell_m=bandwidth_m / 5, bounds=area.bounds
        )
        g = kde.grid
        cols = (mx - g.x0) / g.cell_m - 0.5
        rows = (my - g.y0) / g.cell_m - 0.5
        density = ndimage.map_coordinates(kde.per_km2(), [rows, cols], order=1, cval=0.0)
        density = np.where(inside, density, 0.0)
        peak = float(density.max())
        if peak > 0:
            edges = np.array(LEVEL_SHARES) * peak
            level = np.searchsorted(edges, density, side="right").astype(np.int8)
            breaks = [round(float(e), 1) for e in edges]
    digits = level.reshape(height, width).astype(np.uint8) + ord("0")
    return {
        "bounds": [[south, west], [north, east]],
        "width": width,
        "height": height,
        "rows": [r.tobytes().decode("ascii") for r in digits],
        "levels": LEVELS,
        "breaks_per_km2": breaks,
        "incidents": len(x),
        "period": [since.isoformat(), until.isoformat()],
        "category": category,
        "bandwidth_m": bandwidth_m,
        "pixel_m": round(pixel_m, 1),
        "empty": breaks is None,
    }
