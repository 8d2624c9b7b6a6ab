"""Read-side queries over the territory."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from layers.boundaries.models import Grid, Town, Village
from layers.households.models import Household
from layers.incidents.models import Incident, IncidentStatus


@dataclass(frozen=True)
class VillageSummary:
    code: str
    name: str
    households: int
    people: int
    grids: int
    open_incidents: int


def town_names(session: Session) -> list[str]:
    """Names of the towns in the database, by code."""
    return list(session.scalars(select(Town.name).order_by(Town.code)))


def village_summaries(session: Session) -> list[VillageSummary]:
    """Per village: households, people, current grids and open incidents.

    One grouped subquery per table keeps this a single round trip whatever the
    number of villages.
    """
    hh = (
        select(
            Household.village_id,
            func.count().label("n"),
            func.coalesce(func.sum(Household.people), 0).label("people"),
        )
        .group_by(Household.village_id)
        .subquery()
    )
    grids = (
        select(Grid.village_id, func.count().label("n"))
        .where(Grid.valid_to.is_(None))
        .group_by(Grid.village_id)
        .subquery()
    )
    open_inc = (
        select(Incident.village_id, func.count().label("n"))
        .join(IncidentStatus, IncidentStatus.code == Incident.status)
        .where(IncidentStatus.is_open)
        .group_by(Incident.village_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Village.code,
            Village.name,
            func.coalesce(hh.c.n, 0),
            func.coalesce(hh.c.people, 0),
            func.coalesce(grids.c.n, 0),
            func.coalesce(open_inc.c.n, 0),
        )
        .outerjoin(hh, hh.c.village_id == Village.id)
        .outerjoin(grids, grids.c.village_id == Village.id)
        .outerjoin(open_inc, open_inc.c.village_id == Village.id)
        .order_by(Village.code)
    )
    return [VillageSummary(*row) for row in rows]
