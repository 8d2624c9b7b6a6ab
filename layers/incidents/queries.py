"""Reading incidents within a user's areas: map features, lists, details with history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from layers.accounts.access import Principal, scope_clause
from layers.accounts.masking import mask_name
from layers.boundaries.models import Grid
from layers.errors import Invalid, NotFound
from layers.households.models import Person
from layers.incidents.models import Incident, IncidentCategory, IncidentEvent, IncidentStatus
from layers.incidents.sla import is_overdue, system_clock

#: Rough bounds of China: a bbox outside them is a client error, not an empty map.
LON_RANGE, LAT_RANGE = (73.0, 136.0), (3.0, 54.0)
MAX_FEATURES = 5000


@dataclass(frozen=True)
class IncidentFilter:
    """Map and list filters; every field optional."""

    bbox: tuple[float, float, float, float] | None = None
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    grid_code: str | None = None


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` in EPSG:4490, checked; ``None`` when absent."""
    if not value:
        return None
    try:
        minx, miny, maxx, maxy = (float(v) for v in value.split(","))
    except ValueError as exc:
        raise Invalid(
            "bbox 应为 最小经度,最小纬度,最大经度,最大纬度 / bbox must be "
            "minlon,minlat,maxlon,maxlat",
            "bbox",
        ) from exc
    ok = LON_RANGE[0] <= minx < maxx <= LON_RANGE[1] and LAT_RANGE[0] <= miny < maxy <= LAT_RANGE[1]
    if not ok:
        raise Invalid("bbox 超出范围或顺序不对 / bbox out of range or in the wrong order", "bbox")
    return minx, miny, maxx, maxy


def _visible(principal: Principal | None):
    scope = principal.scope("incident") if principal else None
    if scope is None or scope.empty:
        return None
    return scope_clause(scope, Incident, geom=Incident.geom)


def incident_features(session: Session, principal: Principal | None, f: IncidentFilter) -> dict:
    """A GeoJSON FeatureCollection of the visible incidents matching ``f`` (at most 5,000).

    Text is returned as stored; the page inserts it as text, never as HTML.
    """
    visible = _visible(principal)
    if visible is None:
        return {"type": "FeatureCollection", "features": [], "truncated": False}
    conditions = [visible]
    if f.bbox:
        conditions.append(Incident.geom.op("&&")(func.ST_MakeEnvelope(*f.bbox, 4490)))
    if f.categories:
        # A top-level code covers its sub-categories (0101, 0102, …).
        conditions.append(
            func.left(Incident.category_code, 2).in_([c[:2] for c in f.categories])
            if all(len(c) == 2 for c in f.categories)
            else Incident.category_code.in_(f.categories)
        )
    if f.statuses:
        conditions.append(Incident.status.in_(f.statuses))
    if f.since:
        conditions.append(Incident.reported_at >= f.since)
    if f.until:
        conditions.append(Incident.reported_at < func.date(f.until) + 1)
    if f.grid_code:
        conditions.append(Incident.grid_id.in_(select(Grid.id).where(Grid.code == f.grid_code)))
    rows = session.execute(
        select(
            Incident.id,
            Incident.code,
            Incident.category_code,
            IncidentCategory.name_zh,
            Incident.status,
            IncidentStatus.name_zh.label("status_zh"),
            IncidentStatus.is_open,
            Incident.title,
            Incident.reported_at,
            Grid.code.label("grid_code"),
            Incident.due_at,
            Incident.level,
            func.ST_X(Incident.geom).label("lon"),
            func.ST_Y(Incident.geom).label("lat"),
        )
        .join(IncidentCategory, IncidentCategory.code == Incident.category_code)
        .join(IncidentStatus, IncidentStatus.code == Incident.status)
        .join(Grid, Grid.id == Incident.grid_id)
        .where(and_(*conditions))
        .order_by(Incident.reported_at.desc())
        .limit(MAX_FEATURES + 1)
    ).all()
    now = system_clock()
    features = [
        {
            "type": "Feature",
            "id": r.id,
            "geometry": {"type": "Point", "coordinates": [round(r.lon, 7), round(r.lat, 7)]},
            "properties": {
                "id": r.id,
                "code": r.code,
                "category": r.category_code,
                "category_zh": r.name_zh,
                "status": r.status,
                "status_zh": r.status_zh,
                "open": r.is_open,
                "title": r.title,
                "reported_at": r.reported_at.isoformat(),
                "grid": r.grid_code,
                "due_at": _iso(r.due_at),
                "level": r.level,
                # Flagged on the map and in the list (time limit passed, still running).
                "overdue": is_overdue(r.due_at, r.status, now),
            },
        }
        for r in rows[:MAX_FEATURES]
    ]
    return {
        "type": "FeatureCollection",
        "features": features,
        "truncated": len(rows) > MAX_FEATURES,
    }


def get_incident(session: Session, principal: Principal | None, incident_id: int) -> dict:
    """One incident with its history; :class:`NotFound` if absent or outside the user's areas."""
    visible = _visible(principal)
    if visible is None:
        raise NotFound(incident_id)
    row = session.execute(
        select(
            Incident,
            IncidentCategory.name_zh,
            IncidentStatus.name_zh,
            Grid.code,
            Person.name,
            func.ST_X(Incident.geom),
            func.ST_Y(Incident.geom),
        )
        .join(IncidentCategory, IncidentCategory.code == Incident.category_code)
        .join(IncidentStatus, IncidentStatus.code == Incident.status)
        .join(Grid, Grid.id == Incident.grid_id)
        .outerjoin(Person, Person.id == Incident.reporter_person_id)
        .where(Incident.id == incident_id, visible)
    ).one_or_none()
    if row is None:
        raise NotFound(incident_id)
    inc, category_zh, status_zh, grid_code, reporter, lon, lat = row
    history = session.execute(
        select(
            IncidentEvent.seq,
            IncidentEvent.from_status,
            IncidentEvent.to_status,
            IncidentEvent.at,
            IncidentEvent.actor_role,
            IncidentEvent.note,
        )
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.seq)
    ).all()
    return {
        "id": inc.id,
        "code": inc.code,
        "category": inc.category_code,
        "category_zh": category_zh,
        "status": inc.status,
        "status_zh": status_zh,
        "title": inc.title,
        "description": inc.description,
        "grid": grid_code,
        "reporter": mask_name(reporter),
        "reported_at": _iso(inc.reported_at),
        "closed_at": _iso(inc.closed_at),
        "satisfaction": inc.satisfaction,
        "location": [lon, lat],
        "history": [
            {
                "seq": h.seq,
                "from": h.from_status,
                "to": h.to_status,
                "at": _iso(h.at),
                "actor_role": h.actor_role,
                "note": h.note,
            }
            for h in history
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
