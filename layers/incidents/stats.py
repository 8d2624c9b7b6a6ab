"""Monthly incident statistics per grid, village or town, with the standard rate formulas.

结案率 = 结案数 ÷ (应结案数 − 缓办数) and 按期结案率 = 按期结案数 ÷ (应结案数 − 缓办数), as
the digital city-management assessment defines them. Here a case *should be closed*
(应结案) when it was accepted into the loop (not a draft, not rejected), *parked* (缓办)
when it sits in the parked status, and *closed on time* when it was closed by its due
time and never escalated on timeout: the sweep gives an escalated case a fresh limit at
the next level, but the case has missed its own. (Extensions and parking move the due
time legitimately and count.) Cases filed before due times were stored get the
category's time limit counted in calendar time from the report: an approximation, said
so in the dashboard's footnote.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts.access import Principal
from layers.errors import Invalid

GROUPINGS = {
    "grid": ("g.code", "g.name"),
    "village": ("v.code", "v.name"),
    "town": ("t.code", "t.name"),
}
CLOSED = ("closed", "feedback_done")


@dataclass(frozen=True)
class MonthRow:
    area_code: str
    area_name: str
    month: str  # YYYY-MM
    reported: int
    should_close: int
    parked: int
    closed: int
    closed_on_time: int
    rework: int
    median_hours_to_close: float | None
    satisfaction: float | None

    @property
    def closure_rate(self) -> float | None:
        base = self.should_close - self.parked
        return round(self.closed / base, 4) if base > 0 else None

    @property
    def on_time_rate(self) -> float | None:
        base = self.should_close - self.parked
        return round(self.closed_on_time / base, 4) if base > 0 else None

    def as_dict(self) -> dict:
        return asdict(self) | {"closure_rate": self.closure_rate, "on_time_rate": self.on_time_rate}


def monthly_stats(
    session: Session, principal: Principal | None, *, by: str, since: date, until: date
) -> list[MonthRow]:
    """Figures per area (``by``: grid, village or town) and month of report, in the user's areas.

    The area filter is the user's incident scope, applied here and again by
    row-level security; a user who sees no incidents gets no rows.
    """
    if by not in GROUPINGS:
        raise Invalid("分组应为 grid、village 或 town / by must be grid, village or town", "by")
    if until < since or (until - since).days > 3 * 366:
        raise Invalid("时段无效或超过三年 / the period is reversed or over three years", "since")
    scope = principal.scope("incident") if principal else None
    if scope is None or scope.empty:
        return []
    code, name = GROUPINGS[by]
    rows = session.execute(
        text(
            f"""
            WITH inc AS (
                SELECT i.*, coalesce(i.due_at, i.reported_at + CASE c.time_unit
                    WHEN 'day' THEN make_interval(days => c.time_limit)
                    ELSE make_interval(hours => c.time_limit) END) AS due
                FROM incident i JOIN incident_category c ON c.code = i.category_code
                WHERE i.reported_at >= :since AND i.reported_at < :until
                  AND (:all OR i.village_id = ANY(:villages) OR i.grid_id = ANY(:grids)
                       OR EXISTS (SELECT 1 FROM captain_area a WHERE a.id = ANY(:areas)
                                  AND ST_Intersects(a.geom, i.geom)))
            )
            SELECT {code} AS area_code, {name} AS area_name,
                   to_char(i.reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS month,
                   count(*) AS reported,
                   count(*) FILTER (WHERE i.status NOT IN ('draft', 'rejected')) AS should_close,
                   count(*) FILTER (WHERE i.status = 'parked') AS parked,
                   count(*) FILTER (WHERE i.status = ANY(:closed)) AS closed,
                   count(*) FILTER (WHERE i.status = ANY(:closed) AND i.closed_at <= i.due
                       AND NOT EXISTS (SELECT 1 FROM incident_event e WHERE e.incident_id = i.id
                           AND e.action = 'escalate' AND e.detail ->> 'reason' = 'timeout'))
                       AS closed_on_time,
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM incident_event e
                       WHERE e.incident_id = i.id AND e.to_status = 'rework')) AS rework,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM
                       i.closed_at - i.reported_at) / 3600) FILTER (WHERE i.closed_at IS NOT NULL)
                       AS median_hours,
                   avg(i.satisfaction) AS satisfaction
            FROM inc i
            JOIN grid g ON g.id = i.grid_id
            JOIN village v ON v.id = i.village_id
            JOIN town t ON t.id = v.town_id
            GROUP BY 1, 2, 3 ORDER BY 3, 1
            """
        ),
        {
            "since": since,
            "until": until + timedelta(days=1),
            "all": scope.all,
            "villages": sorted(scope.villages),
            "grids": sorted(scope.grids),
            "areas": sorted(scope.areas),
            "closed": list(CLOSED),
        },
    ).all()
    return [
        MonthRow(
            r.area_code,
            r.area_name,
            r.month,
            r.reported,
            r.should_close,
            r.parked,
            r.closed,
            r.closed_on_time,
            r.rework,
            None if r.median_hours is None else round(float(r.median_hours), 1),
            None if r.satisfaction is None else round(float(r.satisfaction), 2),
        )
        for r in rows
    ]
