"""Where a budget route stops: the hotspots of a village's incidents of the last year."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.db import METRIC_SRID
from layers.hotspots.gistar import gi_star_points, hotspot_clusters
from layers.hotspots.runs import incident_points

#: Incidents of this many days before the latest one decide where a budget route stops.
HOTSPOT_WINDOW_DAYS = 365


def _hotspots(session: Session, v):
    """Where a budget route should stop: the village's hotspot peaks (metric x, y, priority).

    Gi* hotspots of the last year's incidents first; a quiet village with no
    significant hotspot gets its busiest cells instead, so the patrol still
    goes where things happen. ``None`` when the village had no incident at all.
    """
    latest = session.execute(
        text("SELECT max(reported_at)::date FROM incident WHERE village_id = :v"), {"v": v.id}
    ).scalar()
    if latest is None:
        return None
    since = latest - timedelta(days=HOTSPOT_WINDOW_DAYS)
    x, y = incident_points(session, since, latest, villages=[v.id])
    if len(x) == 0:
        return None
    result = gi_star_points(x, y, cell_m=50.0, area=shapely.from_wkb(bytes(v.metric)))
    clusters = hotspot_clusters(result, METRIC_SRID)
    clusters = clusters[clusters["priority"] > 0]
    if len(clusters):
        # Stops at the peak cells; the clusters' own x, y (weighted centres) are dropped
        # first, or the renamed columns would be doubled.
        peaks = clusters.drop(columns=["x", "y"], errors="ignore")
        out = peaks.rename(columns={"x_peak": "x", "y_peak": "y"})[["x", "y", "priority"]]
        return out.assign(source="gistar")
    counts = result.counts.ravel()
    busiest = np.argsort(-counts, kind="stable")[:10]
    busiest = busiest[counts[busiest] >= 2]
    if busiest.size == 0:
        return None
    cx, cy = (c.ravel()[busiest] for c in result.grid.centres())
    return pd.DataFrame({"x": cx, "y": cy, "priority": counts[busiest], "source": "busiest"})
