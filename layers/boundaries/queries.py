"""Read-side queries over the territory: summaries, who answers for an area, notice boards."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from layers.accounts.masking import mask_phone
from layers.boundaries.models import Grid, Town, Village
from layers.errors import NotFound
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


#: Duty names as shown on a notice board (公示栏).
ROLE_NAMES: dict[str, tuple[str, str]] = {
    "community_police": ("社区民警", "Community police"),
    "village_cadre": ("村干部", "Village cadre"),
    "grid_worker": ("网格员", "Grid worker"),
    "street_captain": ("街长", "Street captain"),
    "lane_captain": ("巷长", "Lane captain"),
    "party_group_member": ("党小组成员", "Party group member"),
    "patrol_member": ("巡逻队员", "Patrol member"),
}
#: The order duties are listed in: the 铁三角 first, then the captains.
_ROLE_ORDER = list(ROLE_NAMES)


def _people(session: Session, column: str, ids: list[int]) -> list[dict]:
    """Current duty holders of the areas ``ids``; names shown, phones masked.

    Rows are read under row-level security, so a user sees only the duty
    holders of areas in his scope; the rest are simply absent.
    """
    if not ids:
        return []
    rows = session.execute(
        text(
            "SELECT r.role, p.name, p.phone, r." + column + " FROM role_assignment r"
            " JOIN person p ON p.id = r.person_id"
            f" WHERE r.{column} = ANY(:ids) AND r.valid_to IS NULL ORDER BY r.id"
        ),
        {"ids": ids},
    ).all()
    out = [
        {
            "role": role,
            "role_zh": ROLE_NAMES.get(role, (role, role))[0],
            "role_en": ROLE_NAMES.get(role, (role, role))[1],
            "name": name,
            "phone": mask_phone(phone),
            "area": area,
        }
        for role, name, phone, area in rows
    ]
    out.sort(key=lambda p: _ROLE_ORDER.index(p["role"]) if p["role"] in _ROLE_ORDER else 99)
    return out


def _grid_tree(session: Session, grid_id: int) -> list[int]:
    return list(
        session.scalars(
            text(
                "WITH RECURSIVE t AS (SELECT id FROM grid WHERE id = :i UNION ALL"
                " SELECT g.id FROM grid g JOIN t ON g.parent_id = t.id) SELECT id FROM t"
            ),
            {"i": grid_id},
        )
    )


def area_info(session: Session, layer: str, area_id: int) -> dict:
    """Who is responsible for an area clicked on the map, and how many households it holds.

    Parameters
    ----------
    layer : {"villages", "grids", "captain_areas"}
        The tile layer the area came from.
    area_id : int
        Its id (a tile feature property).

    Raises
    ------
    NotFound
        For another layer or an unknown id.
    """
    if layer == "villages":
        row = session.execute(
            text("SELECT id, code, name FROM village WHERE id = :i"), {"i": area_id}
        ).one_or_none()
        if row is None:
            raise NotFound(area_id)
        households = session.scalar(
            text("SELECT count(*) FROM household WHERE village_id = :i"), {"i": area_id}
        )
        return {
            "kind": "village",
            "code": row.code,
            "name": row.name,
            "households": households,
            "people": _people(session, "village_id", [area_id]),
        }
    if layer == "grids":
        row = session.execute(
            text("SELECT id, code, name, level FROM grid WHERE id = :i"), {"i": area_id}
        ).one_or_none()
        if row is None:
            raise NotFound(area_id)
        tree = _grid_tree(session, area_id)
        households = session.scalar(
            text("SELECT count(*) FROM household WHERE grid_id = ANY(:t)"), {"t": tree}
        )
        return {
            "kind": "grid",
            "code": row.code,
            "name": row.name,
            "level": row.level,
            "households": households,
            "people": _people(session, "grid_id", [area_id]),
        }
    if layer == "captain_areas":
        row = session.execute(
            text(
                "SELECT id, code, name, level, households, street_area_id, party_group_id"
                " FROM captain_area WHERE id = :i"
            ),
            {"i": area_id},
        ).one_or_none()
        if row is None:
            raise NotFound(area_id)
        # A lane area's street captain and party group answer for it too.
        ids = [i for i in (row.id, row.street_area_id, row.party_group_id) if i is not None]
        return {
            "kind": "captain_area",
            "code": row.code,
            "name": row.name,
            "level": row.level,
            "households": row.households,
            "people": _people(session, "captain_area_id", ids),
        }
    raise NotFound(layer)


def grid_board(session: Session, code: str) -> dict:
    """What a grid's notice board (公示栏) shows: its team, its captains and their areas.

    Raises
    ------
    NotFound
        When no current grid has ``code``.
    """
    row = session.execute(
        text(
            "SELECT g.id, g.code, g.name, g.level, v.name AS village, ST_AsGeoJSON(g.geom, 7),"
            " ST_XMin(g.geom), ST_YMin(g.geom), ST_XMax(g.geom), ST_YMax(g.geom)"
            " FROM grid g JOIN village v ON v.id = g.village_id"
            " WHERE g.code = :c AND g.valid_to IS NULL"
        ),
        {"c": code},
    ).one_or_none()
    if row is None:
        raise NotFound(code)
    tree = _grid_tree(session, row.id)
    households = session.scalar(
        text("SELECT count(*) FROM household WHERE grid_id = ANY(:t)"), {"t": tree}
    )
    children = session.execute(
        text("SELECT code, name FROM grid WHERE parent_id = :i AND valid_to IS NULL ORDER BY code"),
        {"i": row.id},
    ).all()
    # Lane areas whose centre lies in the grid: each area counted in one grid only.
    areas = session.execute(
        text(
            "SELECT a.id, a.code, a.name, a.households, a.min_size, a.max_size FROM captain_area a"
            " JOIN grid g ON g.id = :i WHERE a.level = 'lane'"
            " AND ST_Intersects(g.geom, ST_PointOnSurface(a.geom)) ORDER BY a.code"
        ),
        {"i": row.id},
    ).all()
    street_ids = session.scalars(
        text(
            "SELECT DISTINCT street_area_id FROM captain_area"
            " WHERE id = ANY(:ids) AND street_area_id IS NOT NULL"
        ),
        {"ids": [a.id for a in areas]},
    ).all()
    captains = _people(session, "captain_area_id", [a.id for a in areas] + list(street_ids))
    by_area: dict[int, list[dict]] = {}
    for person in captains:
        by_area.setdefault(person["area"], []).append(person)
    return {
        "code": row.code,
        "name": row.name,
        "level": row.level,
        "village": row.village,
        "households": households,
        "geometry": json.loads(row[5]),
        "bounds": [[row[7], row[6]], [row[9], row[8]]],
        "team": _people(session, "grid_id", [row.id]),
        "children": [{"code": c.code, "name": c.name} for c in children],
        "street_captains": [p for p in captains if p["area"] in set(street_ids)],
        "areas": [
            {
                "code": a.code,
                "name": a.name,
                "households": a.households,
                "rule": [a.min_size, a.max_size],
                "captains": by_area.get(a.id, []),
            }
            for a in areas
        ],
    }


def boundary_features(session: Session, kind: str, level: int | None, edit) -> dict:
    """The current boundaries of one kind and level that the ``edit`` scope may change.

    Small by nature (a town has a few hundred grids), so the editor loads them
    as GeoJSON into Leaflet.draw, which can only edit real Leaflet layers.
    """
    if edit is None or edit.empty:
        return {"type": "FeatureCollection", "features": []}
    if kind == "village":
        if not edit.all:
            return {"type": "FeatureCollection", "features": []}
        sql = "SELECT 'village', id, code, name, NULL, version, ST_AsGeoJSON(geom, 7) FROM village"
        params: dict = {}
    elif kind == "grid":
        sql = (
            "SELECT 'grid', id, code, name, level, version, ST_AsGeoJSON(geom, 7) FROM grid"
            " WHERE valid_to IS NULL AND level = :level"
        )
        params = {"level": level}
        if not edit.all:
            sql += " AND (village_id = ANY(:v) OR id = ANY(:g))"
            params |= {"v": sorted(edit.villages), "g": sorted(edit.grids)}
    else:
        raise NotFound(kind)
    features = []
    for k, i, code, name, lvl, version, geojson in session.execute(
        text(sql + " ORDER BY code"), params
    ):
        geometry = json.loads(geojson)
        if geometry["type"] == "MultiPolygon" and len(geometry["coordinates"]) == 1:
            geometry = {"type": "Polygon", "coordinates": geometry["coordinates"][0]}
        features.append(
            {
                "type": "Feature",
                "id": f"{k}:{code}",
                "geometry": geometry,
                "properties": {
                    "kind": k,
                    "id": i,
                    "code": code,
                    "name": name,
                    "level": lvl,
                    "version": version,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
