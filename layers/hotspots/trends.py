"""Emerging-hotspot runs on the stored incidents: which hotspots are new, growing or fading.

The period is cut into time steps (weeks, months or quarters) counted back from its last
day, so the final step, the one the categories are about, is always whole; a
partial step at the start would look like a rise. The cells with a pattern are
stored in ``hotspot_cell`` with their category as the class, beside the run's
parameters (step, cell size, false discovery rate), so a legend can say what it shows.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.db import METRIC_SRID, SRID
from layers.errors import Invalid
from layers.hotspots.emerging import CATEGORIES, emerging_hotspots
from layers.hotspots.grid import CellGrid
from layers.hotspots.runs import check_params, store_run, study_area

#: Time steps a run may use, and their length. A township's few thousand incidents a
#: year leave most 75 m cells empty in a month; quarters give the trends enough to go on
#: (on the demo: monthly steps flag no cell in the final month, quarterly ones do).
STEPS = {
    "week": pd.DateOffset(weeks=1),
    "month": pd.DateOffset(months=1),
    "quarter": pd.DateOffset(months=3),
}

#: Fewer steps cannot give a trend: with 4 values the Mann–Kendall test never
#: reaches p < 0.05, so "intensifying" and "diminishing" could not appear.
MIN_STEPS = 5

#: Every category a stored emerging cell may carry (hot ones, then cold ones).
ALL_CATEGORIES: tuple[str, ...] = (*CATEGORIES, *(f"cold_{c}" for c in CATEGORIES))


def step_edges(since: date, until: date, step: str) -> list[date]:
    """Boundaries of the whole steps in ``[since, until]``, counted back from ``until``.

    Parameters
    ----------
    since, until : datetime.date
        First and last day of the period.
    step : str
        ``'week'``, ``'month'`` or ``'quarter'``.

    Returns
    -------
    list of datetime.date
        k + 1 ascending boundaries for k steps; the last is ``until`` + 1 day
        (exclusive), the first is on or after ``since``.
    """
    if step not in STEPS:
        raise Invalid(
            f"时间步长应为 week（周）、month（月）或 quarter（季度），而不是 {step!r}"
            f" / the time step must be week, month or quarter, not {step!r}",
            "step",
        )
    end = pd.Timestamp(until + timedelta(days=1))
    start = pd.Timestamp(since)
    edges = [end]
    k = 1
    while (edge := end - STEPS[step] * k) >= start:
        edges.append(edge)
        k += 1
    return [e.date() for e in reversed(edges)]


def incident_days(
    session: Session, since: date, until: date, category: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Metric x, y and the day (``datetime64[D]``) of the incidents in ``[since, until]``."""
    rows = session.execute(
        text(
            f"SELECT ST_X(p), ST_Y(p), d FROM (SELECT ST_Transform(geom, {METRIC_SRID}) AS p,"
            " CAST(reported_at AS date) AS d FROM incident"
            " WHERE reported_at >= :since AND reported_at < :until"
            " AND (CAST(:cat AS text) IS NULL OR left(category_code, 2) = :cat)) t"
        ),
        {"since": since, "until": until + timedelta(days=1), "cat": category},
    ).all()
    x = np.array([r[0] for r in rows], dtype=float)
    y = np.array([r[1] for r in rows], dtype=float)
    t = np.array([r[2] for r in rows], dtype="datetime64[D]")
    return x, y, t


def run_emerging(
    session: Session,
    *,
    since: date,
    until: date,
    category: str | None = None,
    step: str = "month",
    cell_m: float = 75.0,
    alpha: float = 0.05,
    time_lag: int = 1,
    actor: str = "cli",
) -> dict:
    """Emerging-hotspot categories of the incidents over time steps, stored as a run.

    Parameters
    ----------
    session
        Open session; the caller commits.
    since, until
        First and last day of the period; the steps are counted back from ``until``
        and the stored period starts at the first whole step.
    category
        Top-level category code (``01``–``08``); all when ``None``.
    step
        ``'week'``, ``'month'`` or ``'quarter'``.
    cell_m
        Cell size in metres.
    alpha
        False discovery rate of the space-time Gi* bins and level of the trend test.
    time_lag
        Previous steps in each bin's neighbourhood (see
        :func:`layers.hotspots.emerging.emerging_hotspots_cube`).
    actor
        Who ran it, for the audit log.

    Returns
    -------
    dict
        ``run_id``, ``incidents``, ``steps``, ``period`` and ``categories``
        (cells per category, those with none left out).

    Raises
    ------
    Invalid
        Bad parameters, fewer than :data:`MIN_STEPS` steps, or no incidents.
    """
    check_params(session, since=since, until=until, category=category, cell_m=cell_m, alpha=alpha)
    if not isinstance(time_lag, int) or not 0 <= time_lag <= 3:
        raise Invalid("时间滞后应为 0–3 步 / the time lag must be 0–3 steps", "time_lag")
    edges = step_edges(since, until, step)
    if len(edges) - 1 < MIN_STEPS:
        raise Invalid(
            f"所选时段只有 {len(edges) - 1} 个完整时间步，趋势至少需要 {MIN_STEPS} 个"
            f" / the period holds {len(edges) - 1} whole time steps; a trend needs at least"
            f" {MIN_STEPS}",
            "since",
        )
    x, y, t = incident_days(session, edges[0], until, category)
    if len(x) == 0:
        raise Invalid("所选时段和类别没有事件 / no incidents in that period and category")
    area = study_area(session)
    grid = CellGrid.covering(area.bounds, cell_m)
    result = emerging_hotspots(
        x,
        y,
        t,
        np.array(edges, dtype="datetime64[D]"),
        cell_m=cell_m,
        bounds=area.bounds,
        mask=grid.mask_within(area),
        time_lag=time_lag,
        alpha=alpha,
    )
    cells = result.to_geodataframe(METRIC_SRID).to_crs(SRID)
    found = cells["category"].value_counts()
    categories = {c: int(found[c]) for c in ALL_CATEGORIES if c in found.index}
    summary = {
        "incidents": len(x),
        "steps": len(edges) - 1,
        "cells_tested": int(result.mask.sum()),
        "categories": categories,
    }
    params = {
        "cell_m": cell_m,
        "alpha": alpha,
        "step": step,
        "time_lag": time_lag,
        "fdr": "benjamini-hochberg",
        "trend": "mann-kendall",
        "neighbourhood": "queen",
    }
    run_id = store_run(
        session,
        "emerging",
        category,
        (edges[0], until),
        params,
        summary,
        cells.assign(value=cells["count"], z=cells["trend_z"], p=cells["trend_p"]).rename(
            columns={"category": "klass"}
        )[["geometry", "value", "z", "p", "klass"]],
        actor,
    )
    return {
        "run_id": run_id,
        "period": [edges[0].isoformat(), until.isoformat()],
        **summary,
    }
