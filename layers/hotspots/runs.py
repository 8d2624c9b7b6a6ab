"""Hotspot runs on the stored incidents: compute, store with their parameters, read back.

A run is reproducible: its period, category, cell size and false discovery
rate are stored beside its cells, so a map legend can say what it shows.
Only significant cells are stored (hot, hot core, cold); the map draws them
over the village outlines.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts import audit
from layers.bulk import copy_rows, ewkb
from layers.db import METRIC_SRID, SRID
from layers.errors import Invalid, NotFound
from layers.hotspots.gistar import gi_star_points, hotspot_clusters


def incident_points(
    session: Session,
    since: date,
    until: date,
    category: str | None = None,
    village_id: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Metric coordinates of the incidents reported in ``[since, until]`` (by top category)."""
    rows = session.execute(
        text(
            f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(geom, {METRIC_SRID}) AS p"
            " FROM incident WHERE reported_at >= :since AND reported_at < :until"
            " AND (CAST(:cat AS text) IS NULL OR left(category_code, 2) = :cat)"
            " AND (CAST(:v AS int) IS NULL OR village_id = :v)) t"
        ),
        {"since": since, "until": until + timedelta(days=1), "cat": category, "v": village_id},
    ).all()
    xy = np.array(rows, dtype=float).reshape(-1, 2)
    return xy[:, 0], xy[:, 1]


def study_area(session: Session, village_id: int | None = None) -> shapely.Geometry:
    """The villages (or one) in the metric CRS: cells outside are neither tested nor neighbours."""
    wkb = session.execute(
        text(
            f"SELECT ST_AsBinary(ST_Transform(ST_Union(geom), {METRIC_SRID})) FROM village"
            " WHERE CAST(:v AS int) IS NULL OR id = :v"
        ),
        {"v": village_id},
    ).scalar()
    if wkb is None:
        raise NotFound("没有村界 / no village outlines")
    return shapely.from_wkb(bytes(wkb))


def run_hotspots(
    session: Session,
    *,
    since: date,
    until: date,
    category: str | None = None,
    cell_m: float = 75.0,
    alpha: float = 0.05,
    actor: str = "cli",
) -> dict:
    """Gi* hotspots of the incidents in a period, stored as a run; returns its summary.

    Parameters
    ----------
    session
        Open session; the caller commits.
    since, until
        First and last day of the period.
    category
        Top-level category code (``01``–``08``); all when ``None``.
    cell_m
        Cell size in metres (50–100 is usual).
    alpha
        False discovery rate (Benjamini–Hochberg).
    """
    if until < since:
        raise Invalid("结束日期早于开始日期 / the period ends before it starts", "until")
    if not 20 <= cell_m <= 500:
        raise Invalid("格网边长应在 20–500 米之间 / cell size must be 20–500 m", "cell_m")
    x, y = incident_points(session, since, until, category)
    if len(x) == 0:
        raise Invalid("所选时段和类别没有事件 / no incidents in that period and category")
    result = gi_star_points(x, y, cell_m=cell_m, area=study_area(session), alpha=alpha)
    cells = result.to_geodataframe(METRIC_SRID)
    cells = cells[cells["klass"] != "none"].to_crs(SRID)
    clusters = hotspot_clusters(result, METRIC_SRID)
    peaks = gpd.points_from_xy(clusters["x_peak"], clusters["y_peak"], crs=METRIC_SRID).to_crs(SRID)
    hotspots = [
        {
            "hotspot": int(c.hotspot),
            "cells": int(c.n_cells),
            "incidents": int(c.incidents),
            "excess": round(float(c.excess), 1),
            "z_max": round(float(c.z_max), 2),
            "priority": round(float(c.priority), 1),
            "lon": round(p.x, 6),
            "lat": round(p.y, 6),
        }
        for c, p in zip(clusters.itertuples(), peaks, strict=True)
    ]
    summary = {
        "incidents": len(x),
        "cells_tested": int(result.mask.sum()),
        "hot": int((cells["klass"] == "hot").sum()),
        "core": int(cells["core"].sum()),
        "cold": int((cells["klass"] == "cold").sum()),
        "hotspots": hotspots,
    }
    params = {
        "cell_m": cell_m,
        "alpha": alpha,
        "fdr": "benjamini-hochberg",
        "neighbourhood": "queen",
    }
    run_id = session.execute(
        text(
            "INSERT INTO hotspot_run (method, category_code, period_start, period_end, params,"
            " summary) VALUES ('gistar', :cat, :since, :until, CAST(:p AS jsonb),"
            " CAST(:s AS jsonb)) RETURNING id"
        ),
        {
            "cat": category,
            "since": since,
            "until": until,
            "p": json.dumps(params),
            "s": json.dumps(summary, ensure_ascii=False),
        },
    ).scalar_one()
    klass = np.where(cells["core"].to_numpy(), "hot_core", cells["klass"].to_numpy())
    copy_rows(
        session,
        "hotspot_cell",
        ("run_id", "geom", "value", "z", "p", "class"),
        zip(
            [run_id] * len(cells),
            ewkb(cells.geometry),
            cells["count"],
            cells["z"],
            cells["q"],
            klass,
            strict=True,
        ),
    )
    audit.record(
        session,
        "hotspots.run",
        actor_name=actor,
        object_type="hotspot_run",
        object_id=run_id,
        detail={"category": category},
    )
    return {"run_id": run_id, **summary}


def run_features(session: Session, run_id: int | None = None, category: str | None = None) -> dict:
    """A run's cells as GeoJSON with the run's parameters (the latest run when no id is given)."""
    run = session.execute(
        text(
            "SELECT id, category_code, period_start, period_end, params, summary FROM hotspot_run"
            " WHERE method = 'gistar' AND (CAST(:id AS int) IS NULL OR id = :id)"
            " AND (CAST(:id AS int) IS NOT NULL OR CAST(:cat AS text) IS NULL"
            "      OR category_code = :cat)"
            " ORDER BY id DESC LIMIT 1"
        ),
        {"id": run_id, "cat": category},
    ).one_or_none()
    if run is None:
        raise NotFound(run_id)
    cells = session.execute(
        text(
            "SELECT ST_AsGeoJSON(geom, 7), value, z, p, class FROM hotspot_cell"
            " WHERE run_id = :r ORDER BY id"
        ),
        {"r": run.id},
    ).all()
    return {
        "type": "FeatureCollection",
        "run": {
            "id": run.id,
            "category": run.category_code,
            "period": [run.period_start.isoformat(), run.period_end.isoformat()],
            "params": run.params,
            "summary": run.summary,
        },
        "features": [
            {
                "type": "Feature",
                "geometry": json.loads(g),
                "properties": {"count": v, "z": round(z, 2), "q": q, "class": k},
            }
            for g, v, z, q, k in cells
        ],
    }
