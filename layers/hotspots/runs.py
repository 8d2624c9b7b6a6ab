"""Hotspot runs on the stored incidents: compute, store with their parameters, read back.

A run is reproducible: its period, category, cell size and false discovery
rate are stored beside its cells, so a map legend can say what it shows.
Only significant cells are stored (hot, hot core, cold); the map draws them
over the village outlines. Emerging-hotspot runs (:mod:`layers.hotspots.trends`)
share the tables: their cells carry a trend category instead.
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

#: Cell sizes a run accepts (m): finer cells hold too few incidents, coarser ones blur lanes.
CELL_RANGE_M = (20.0, 500.0)


def incident_points(
    session: Session,
    since: date,
    until: date,
    category: str | None = None,
    villages: list[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Metric coordinates of the incidents reported in ``[since, until]``.

    Optionally of one top-level ``category`` and within some ``villages`` (ids).
    """
    rows = session.execute(
        text(
            f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(geom, {METRIC_SRID}) AS p"
            " FROM incident WHERE reported_at >= :since AND reported_at < :until"
            " AND (CAST(:cat AS text) IS NULL OR left(category_code, 2) = :cat)"
            " AND (CAST(:vs AS int[]) IS NULL OR village_id = ANY(:vs))) t"
        ),
        {"since": since, "until": until + timedelta(days=1), "cat": category, "vs": villages},
    ).all()
    xy = np.array(rows, dtype=float).reshape(-1, 2)
    return xy[:, 0], xy[:, 1]


def study_area(
    session: Session, village_id: int | None = None, villages: list[int] | None = None
) -> shapely.Geometry:
    """The villages (one, a list, or all) in the metric CRS.

    Cells outside are neither tested nor neighbours.
    """
    wkb = session.execute(
        text(
            f"SELECT ST_AsBinary(ST_Transform(ST_Union(geom), {METRIC_SRID})) FROM village"
            " WHERE (CAST(:v AS int) IS NULL OR id = :v)"
            " AND (CAST(:vs AS int[]) IS NULL OR id = ANY(:vs))"
        ),
        {"v": village_id, "vs": None if villages is None else list(villages)},
    ).scalar()
    if wkb is None:
        raise NotFound("没有村界 / no village outlines")
    return shapely.from_wkb(bytes(wkb))


def check_params(
    session: Session,
    *,
    since: date,
    until: date,
    category: str | None,
    cell_m: float,
    alpha: float,
) -> None:
    """Refuse a run's parameters with a message for the user (Chinese, then English).

    Raises
    ------
    Invalid
        The period ends before it starts, the cell size is outside
        :data:`CELL_RANGE_M`, the false discovery rate is not in (0, 1), or the
        category is not a top-level incident category.
    """
    if not isinstance(since, date) or not isinstance(until, date):
        raise Invalid("日期格式应为 YYYY-MM-DD / dates must be YYYY-MM-DD", "since")
    if until < since:
        raise Invalid("结束日期早于开始日期 / the period ends before it starts", "until")
    lo, hi = CELL_RANGE_M
    if not (isinstance(cell_m, int | float) and lo <= cell_m <= hi):
        raise Invalid(
            f"格网边长应在 {lo:g}–{hi:g} 米之间 / cell size must be {lo:g}–{hi:g} m", "cell_m"
        )
    if not (isinstance(alpha, int | float) and 0 < alpha < 1):
        raise Invalid(
            "显著性水平（错误发现率）应在 0 与 1 之间，如 0.05"
            " / alpha (false discovery rate) must be between 0 and 1, e.g. 0.05",
            "alpha",
        )
    check_category(session, category)


def check_category(session: Session, category: str | None) -> None:
    """Refuse a category code that is not a top-level incident category (``None`` is all)."""
    if category is None:
        return
    known = session.execute(
        text("SELECT 1 FROM incident_category WHERE code = :c AND parent_code IS NULL"),
        {"c": category},
    ).scalar()
    if not known:
        raise Invalid(
            f"未知的事件大类：{category}（应为 01–08）"
            f" / unknown incident category {category!r} (use a top-level code, 01–08)",
            "category",
        )


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
    check_params(session, since=since, until=until, category=category, cell_m=cell_m, alpha=alpha)
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
    klass = np.where(cells["core"].to_numpy(), "hot_core", cells["klass"].to_numpy())
    run_id = store_run(
        session,
        "gistar",
        category,
        (since, until),
        params,
        summary,
        cells.assign(value=cells["count"], p=cells["q"], klass=klass)[
            ["geometry", "value", "z", "p", "klass"]
        ],
        actor,
    )
    return {"run_id": run_id, **summary}


def store_run(
    session: Session,
    method: str,
    category: str | None,
    period: tuple[date, date],
    params: dict,
    summary: dict,
    cells: gpd.GeoDataFrame,
    actor: str,
) -> int:
    """Store a run, its cells and an audit entry; returns the run's id.

    Parameters
    ----------
    session
        Open session; the caller commits.
    method
        ``'gistar'`` or ``'emerging'``.
    category, period, params, summary
        What the run was asked and what it found (kept beside its cells for
        the legend).
    cells
        In EPSG:4490, with columns ``value`` (incidents), ``z``, ``p`` and
        ``klass`` (the class or trend category stored per cell).
    actor
        Who ran it, for the audit log.

    Returns
    -------
    int
    """
    run_id = session.execute(
        text(
            "INSERT INTO hotspot_run (method, category_code, period_start, period_end, params,"
            " summary) VALUES (:m, :cat, :since, :until, CAST(:p AS jsonb),"
            " CAST(:s AS jsonb)) RETURNING id"
        ),
        {
            "m": method,
            "cat": category,
            "since": period[0],
            "until": period[1],
            "p": json.dumps(params),
            "s": json.dumps(summary, ensure_ascii=False),
        },
    ).scalar_one()
    copy_rows(
        session,
        "hotspot_cell",
        ("run_id", "geom", "value", "z", "p", "class"),
        zip(
            [run_id] * len(cells),
            ewkb(cells.geometry),
            cells["value"],
            cells["z"],
            cells["p"],
            cells["klass"],
            strict=True,
        ),
    )
    audit.record(
        session,
        "hotspots.run",
        actor_name=actor,
        object_type="hotspot_run",
        object_id=run_id,
        detail={"method": method, "category": category, "step": params.get("step")},
    )
    return run_id


def _run_meta(row) -> dict:
    """What a legend or a list says about a run (no cells, no hotspot details)."""
    params = row.params or {}
    summary = row.summary or {}
    counts = {k: v for k, v in summary.items() if k != "hotspots"}
    return {
        "id": row.id,
        "method": row.method,
        "category": row.category_code,
        "category_zh": row.name_zh,
        "category_en": row.name_en,
        "period": [row.period_start.isoformat(), row.period_end.isoformat()],
        "cell_m": params.get("cell_m"),
        "alpha": params.get("alpha"),
        "step": params.get("step"),
        "created": row.created_at.isoformat(timespec="seconds"),
        "counts": counts,
    }


_RUN_COLUMNS = (
    "SELECT r.id, r.method, r.category_code, c.name_zh, c.name_en, r.period_start,"
    " r.period_end, r.params, r.summary, r.created_at FROM hotspot_run r"
    " LEFT JOIN incident_category c ON c.code = r.category_code"
)


def list_runs(session: Session, method: str | None = None, limit: int = 100) -> list[dict]:
    """The stored runs, newest first: parameters and counts, no cells.

    Parameters
    ----------
    session
        Open session.
    method
        ``'gistar'`` or ``'emerging'``; all when ``None``.
    limit
        Most runs returned.

    Returns
    -------
    list of dict
        ``id``, ``method``, ``category`` (code and names), ``period``, ``cell_m``,
        ``alpha``, ``step`` (emerging runs), ``created``, ``counts``.
    """
    rows = session.execute(
        text(
            _RUN_COLUMNS + " WHERE CAST(:m AS text) IS NULL OR r.method = :m"
            " ORDER BY r.id DESC LIMIT :n"
        ),
        {"m": method, "n": limit},
    ).all()
    return [_run_meta(r) for r in rows]


def latest_run(session: Session, method: str = "gistar", category: str | None = None):
    """The run a map shows by default: the latest of ``method`` for ``category``.

    With no category the latest all-categories run wins; a single-category run
    is shown only when no all-categories run exists (its legend names the category).
    ``None`` when no run of the method is stored.
    """
    row = session.execute(
        text(
            _RUN_COLUMNS + " WHERE r.method = :m"
            " AND (CAST(:cat AS text) IS NULL OR r.category_code = :cat)"
            " ORDER BY (r.category_code IS NULL) DESC, r.id DESC LIMIT 1"
        ),
        {"m": method, "cat": category},
    ).one_or_none()
    return None if row is None else _run_meta(row)


def run_features(
    session: Session,
    run_id: int | None = None,
    category: str | None = None,
    method: str = "gistar",
) -> dict:
    """A run's cells as GeoJSON with the run's parameters.

    Parameters
    ----------
    session
        Open session.
    run_id
        The run; default the latest of ``method`` (see :func:`latest_run`).
    category
        Top-level category code when no ``run_id`` is given.
    method
        ``'gistar'`` or ``'emerging'`` when no ``run_id`` is given.

    Returns
    -------
    dict
        A FeatureCollection with ``run`` (the parameters; ``None`` and ``empty``
        true when no run of the method is stored yet). Gi* cells carry ``count``,
        ``z``, ``q`` and ``class`` (hot, hot_core, cold); emerging cells ``count``,
        ``trend_z``, ``trend_p`` and ``class`` (their trend category).

    Raises
    ------
    NotFound
        ``run_id`` was given and no such run exists.
    """
    if run_id is not None:
        row = session.execute(
            text(_RUN_COLUMNS + " WHERE r.id = :id"), {"id": run_id}
        ).one_or_none()
        if row is None:
            raise NotFound(f"热点分析结果 #{run_id} 不存在 / hotspot run #{run_id} does not exist")
        run = {**_run_meta(row), "params": row.params, "summary": row.summary}
    else:
        run = latest_run(session, method, category)
        if run is None:
            return {
                "type": "FeatureCollection",
                "run": None,
                "empty": True,
                "message": "尚未保存热点分析结果 / no hotspot run is stored yet",
                "features": [],
            }
        row = session.execute(text(_RUN_COLUMNS + " WHERE r.id = :id"), {"id": run["id"]}).one()
        run = {**run, "params": row.params, "summary": row.summary}
    cells = session.execute(
        text(
            "SELECT ST_AsGeoJSON(geom, 7), value, z, p, class FROM hotspot_cell"
            " WHERE run_id = :r ORDER BY id"
        ),
        {"r": run["id"]},
    ).all()
    if run["method"] == "emerging":
        props = [
            {
                "count": v,
                "trend_z": None if z is None else round(z, 2),
                "trend_p": None if p is None else round(p, 4),
                "class": k,
            }
            for _g, v, z, p, k in cells
        ]
    else:
        props = [{"count": v, "z": round(z, 2), "q": q, "class": k} for _g, v, z, q, k in cells]
    return {
        "type": "FeatureCollection",
        "run": run,
        "empty": False,
        "features": [
            {"type": "Feature", "geometry": json.loads(c[0]), "properties": pr}
            for c, pr in zip(cells, props, strict=True)
        ],
    }
