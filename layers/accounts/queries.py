"""Read-side queries over accounts and their grants."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class GrantRow:
    username: str
    role: str
    area_code: str
    area_name: str


def grants_table(session: Session) -> list[GrantRow]:
    """Every active user's grants with the area's code and name, by user id."""
    rows = session.execute(
        text(
            """
            SELECT u.username, g.role,
                   coalesce(t.code, v.code, gr.code, ca.code) AS area_code,
                   coalesce(t.name, v.name, gr.name, ca.name) AS area_name
            FROM user_account u
            JOIN user_grant g ON g.user_id = u.id
            LEFT JOIN town t ON t.id = g.town_id
            LEFT JOIN village v ON v.id = g.village_id
            LEFT JOIN grid gr ON gr.id = g.grid_id
            LEFT JOIN captain_area ca ON ca.id = g.captain_area_id
            WHERE u.is_active
            ORDER BY u.id, g.id
            """
        )
    )
    return [GrantRow(*r) for r in rows]
