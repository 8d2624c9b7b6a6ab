"""Where and when incidents are reported: distances to the river and road, hours of day."""

from __future__ import annotations

import numpy as np
import shapely


def _distance_within(points: np.ndarray, line: shapely.Geometry, limit: float) -> np.ndarray:
    """Distance from each point to ``line``, or ``inf`` beyond ``limit``.

    Indexed by the line's segments: a plain distance to a long meandering line
    costs points × vertices, which dominates county-scale runs.
    """
    out = np.full(len(points), np.inf)
    for part in shapely.get_parts(line):
        xy = shapely.get_coordinates(part)
        segs = shapely.linestrings(np.stack([xy[:-1], xy[1:]], axis=1))
        idx, dist = shapely.STRtree(segs).query_nearest(
            points, max_distance=limit, return_distance=True, all_matches=False
        )
        np.minimum.at(out, idx[0], dist)
    return out


def _local_seconds(days: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Local (Asia/Shanghai, naive) epoch seconds from day numbers and fractional hours."""
    return days.astype(np.int64) * 86400 + (hours * 3600).astype(np.int64)


def _report_hours(rng: np.random.Generator, cat: np.ndarray) -> np.ndarray:
    """Time of day of a report: mostly daytime; fireworks and public order at night too."""
    n = len(cat)
    u = rng.random(n)
    h = np.where(
        u < 0.5,
        rng.normal(10.0, 1.8, n),
        np.where(u < 0.85, rng.normal(15.5, 1.8, n), rng.normal(20.0, 1.5, n)),
    )
    night = ((cat == 2) & (rng.random(n) < 0.7)) | ((cat == 5) & (rng.random(n) < 0.3))
    h[night] = rng.normal(21.5, 1.8, int(night.sum()))
    return np.mod(h, 24.0)
