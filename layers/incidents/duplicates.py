"""Duplicate reports: an open report of the same category within 50 m and 72 h.

Reporters cannot see other people's reports (row-level security), yet a
duplicate must be found among them. The owner-run function ``incident_nearby``
(migration 0004) is the narrow window: it returns ids, codes, statuses and
distances of open reports near a point, and no text or personal data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

RADIUS_M = 50.0
WINDOW_H = 72.0


def candidates(
    session: Session,
    category: str,
    lon: float,
    lat: float,
    at: datetime,
    *,
    metres: float = RADIUS_M,
    hours: float = WINDOW_H,
) -> list[dict]:
    """Open primary reports of ``category`` near the point, reported shortly before ``at``.

    "Near" is ``metres``, "shortly" ``hours``.

    Returns
    -------
    list of dict
        ``id``, ``code``, ``status``, ``distance_m`` (rounded), ``reported_at`` (ISO),
        nearest first, at most five.
    """
    rows = session.execute(
        text("SELECT * FROM incident_nearby(:c, :x, :y, :at, :m, :h)"),
        {"c": category, "x": lon, "y": lat, "at": at, "m": metres, "h": hours},
    ).all()
    return [
        {
            "id": r.id,
            "code": r.code,
            "status": r.status,
            "distance_m": round(r.distance_m, 1),
            "reported_at": r.reported_at.isoformat(),
        }
        for r in rows
    ]
