"""Row-level security: look up the parent row by key instead of scanning the visible set.

``incident_id IN (SELECT id FROM incident)`` made PostgreSQL evaluate the incident
policy over every incident for each history row written (75 ms per report at
demo scale); the correlated EXISTS probes the primary key and checks one row.
Same visibility, same rules.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "wangge_app"

PERSON_OLD = """
        app_scope_all('household')
        OR village_id = ANY (app_scope_ids('household', 'villages'))
        OR household_id IN (SELECT id FROM household)
        OR id IN (SELECT person_id FROM role_assignment
                  WHERE grid_id = ANY (app_scope_ids('household', 'grids'))
                     OR captain_area_id = ANY (app_scope_ids('household', 'areas')))
"""
PERSON_NEW = PERSON_OLD.replace(
    "household_id IN (SELECT id FROM household)",
    "EXISTS (SELECT 1 FROM household h WHERE h.id = person.household_id)",
)

# policy name, table, command, old clause, new clause
POLICIES = [
    (
        "incident_event_scope",
        "incident_event",
        "ALL",
        "USING (incident_id IN (SELECT id FROM incident))",
        "USING (EXISTS (SELECT 1 FROM incident i WHERE i.id = incident_event.incident_id))",
    ),
    (
        "incident_photo_scope",
        "incident_photo",
        "ALL",
        "USING (incident_id IN (SELECT id FROM incident))",
        "USING (EXISTS (SELECT 1 FROM incident i WHERE i.id = incident_photo.incident_id))",
    ),
    ("person_scope", "person", "ALL", f"USING ({PERSON_OLD})", f"USING ({PERSON_NEW})"),
]


def _apply(new: bool) -> None:
    for name, table, command, old_clause, new_clause in POLICIES:
        op.execute(f"DROP POLICY {name} ON {table}")
        clause = new_clause if new else old_clause
        op.execute(f"CREATE POLICY {name} ON {table} FOR {command} TO {APP_ROLE} {clause}")


def upgrade() -> None:
    _apply(new=True)


def downgrade() -> None:
    _apply(new=False)
