"""Synthetic captains for the demo: who holds each captain area made by ``wangge grid run``.

A township picks a known neighbour; the demo picks the household head living
nearest the middle of the area, nobody holding two captaincies: lane captains
first, then street captains, then three members per party group.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

_HEADS = """
    WITH middle AS (SELECT id, ST_PointOnSurface(geom) AS point FROM captain_area
                    WHERE level = :level),
         head AS (SELECT household_id, min(id) AS person_id FROM person
                  WHERE household_id IS NOT NULL GROUP BY household_id)
    SELECT a.id AS area_id, head.person_id, h.geom <-> a.point AS distance
    FROM middle a
    JOIN captain_area lane ON lane.{link} = a.id AND lane.level = 'lane'
    JOIN captain_area_member m ON m.area_id = lane.id
    JOIN household h ON h.id = m.household_id
    JOIN head ON head.household_id = h.id
    WHERE NOT EXISTS (SELECT 1 FROM role_assignment r
                      WHERE r.person_id = head.person_id AND r.captain_area_id IS NOT NULL)
"""


def assign_demo_captains(session: Session, as_of: date) -> int:
    """Give every captain area of the database its synthetic duty holders; return how many."""
    total = 0
    for level, role, link, count in (
        ("lane", "lane_captain", "id", 1),
        ("street", "street_captain", "street_area_id", 1),
        ("party_group", "party_group_member", "party_group_id", 3),
    ):
        total += session.execute(
            text(
                f"""
                INSERT INTO role_assignment (person_id, role, captain_area_id, valid_from)
                SELECT person_id, :role, area_id, :d FROM (
                    SELECT person_id, area_id, row_number() OVER (
                        PARTITION BY area_id ORDER BY distance, person_id) AS n
                    FROM ({_HEADS.format(link=link)}) heads
                ) ranked WHERE n <= :count
                """
            ),
            {"level": level, "role": role, "d": as_of, "count": count},
        ).rowcount
    return total
