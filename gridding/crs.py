"""The local metric CRS the engine works in.

Distances and areas need metres. Inside China (73.5°E–136.5°E) we use the
CGCS2000 3-degree Gauss–Krüger zone whose central meridian is nearest the data
(EPSG:4534 = CM 75°E … EPSG:4554 = CM 135°E, the variants without zone prefix;
the demo town near 116.1°E gets EPSG:4548, CM 117°E), as design.md asks.
Elsewhere the UTM zone of the data's centre is used.
"""

from __future__ import annotations

import numpy as np
import pyproj
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

GEOGRAPHIC = "EPSG:4490"  # CGCS2000 geographic, the storage CRS


def local_metric_crs(lon: float, lat: float) -> pyproj.CRS:
    """Metric CRS for data centred at ``lon``, ``lat`` (degrees).

    Parameters
    ----------
    lon, lat : float
        Centre of the data in geographic degrees.

    Returns
    -------
    pyproj.CRS
        A CGCS2000 3-degree Gauss–Krüger CRS inside China, a WGS 84 / UTM CRS elsewhere.
    """
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise ValueError("the data has no finite centre")
    if 73.5 <= lon <= 136.5 and 0.0 <= lat <= 56.0:
        zone = int(np.clip(round((lon - 75.0) / 3.0), 0, 20))
        return pyproj.CRS.from_epsg(4534 + zone)
    infos = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(lon, lat, lon, lat),
    )
    if not infos:
        raise ValueError(f"no UTM zone found for {lon:.3f}, {lat:.3f}")
    return pyproj.CRS.from_epsg(int(infos[0].code))


def centre_lonlat(x: float, y: float, crs: pyproj.CRS) -> tuple[float, float]:
    """The point ``x``, ``y`` of ``crs`` in CGCS2000 longitude and latitude."""
    tr = pyproj.Transformer.from_crs(crs, GEOGRAPHIC, always_xy=True)
    lon, lat = tr.transform(x, y)
    return float(lon), float(lat)
