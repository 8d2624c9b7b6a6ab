"""Access control: login sessions, the app's own database role, row-level security.

The web app connects as ``wangge_app``, which owns nothing, so PostgreSQL's
row-level security applies to it. Each transaction sets what the user may see
(``wangge.<kind>_all``, ``_villages``, ``_grids``, ``_areas``; see
layers/accounts/access.py); with nothing set a policy shows nothing. Migrations
and the CLI run as the owner, which policies do not restrict.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:14:09.678252
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "wangge_app"

# Read everything, write the working tables; the audit log is insert-only, and the
# catalogues and migration bookkeeping are the owner's.
ROLE_AND_GRANTS = f"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        CREATE ROLE {APP_ROLE} NOLOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA public TO {APP_ROLE};
GRANT SELECT ON ALL TABLES IN SCHEMA public TO {APP_ROLE};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE};
GRANT INSERT, UPDATE, DELETE ON
    town, village, street, lane, barrier, water, grid, household, person,
    gridding_run, captain_area, captain_area_member, role_assignment,
    incident, incident_event, patrol_route, patrol_track, hotspot_run, hotspot_cell,
    user_account, user_grant, user_session
    TO {APP_ROLE};
GRANT UPDATE ON incident_category TO {APP_ROLE};
GRANT INSERT ON audit_log TO {APP_ROLE};
"""

# What a transaction may see, per kind of sensitive data; unset means nothing.
# SQL functions so that the planner can inline them into the policies.
SCOPE_FUNCTIONS = """
CREATE FUNCTION app_scope_all(kind text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('wangge.' || kind || '_all', true), '') = 'on'
$$;
CREATE FUNCTION app_scope_ids(kind text, what text) RETURNS int[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('wangge.' || kind || '_' || what, true), ''), '{}')::int[]
$$;
"""

POLICIES = {
    "household": """
        app_scope_all('household')
        OR village_id = ANY (app_scope_ids('household', 'villages'))
        OR grid_id = ANY (app_scope_ids('household', 'grids'))
        OR id IN (SELECT household_id FROM captain_area_member
                  WHERE area_id = ANY (app_scope_ids('household', 'areas')))
    """,
    # A person is visible with his household, or as a duty holder of a visible area.
    "person": """
        app_scope_all('household')
        OR village_id = ANY (app_scope_ids('household', 'villages'))
        OR household_id IN (SELECT id FROM household)
        OR id IN (SELECT person_id FROM role_assignment
                  WHERE grid_id = ANY (app_scope_ids('household', 'grids'))
                     OR captain_area_id = ANY (app_scope_ids('household', 'areas')))
    """,
    "incident": """
        app_scope_all('incident')
        OR village_id = ANY (app_scope_ids('incident', 'villages'))
        OR grid_id = ANY (app_scope_ids('incident', 'grids'))
        OR EXISTS (SELECT 1 FROM captain_area a
                   WHERE a.id = ANY (app_scope_ids('incident', 'areas'))
                     AND ST_Intersects(a.geom, incident.geom))
    """,
    "incident_event": "incident_id IN (SELECT id FROM incident)",
    "patrol_track": """
        app_scope_all('track') OR village_id = ANY (app_scope_ids('track', 'villages'))
    """,
}


def upgrade() -> None:
    op.create_table(
        "user_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.CheckConstraint("expires_at > created_at", name=op.f("ck_user_session_expiry")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_user_session")),
    )
    op.create_index(op.f("ix_user_session_user_id"), "user_session", ["user_id"], unique=False)
    op.create_index("ix_audit_log_ip_at", "audit_log", ["ip", "at"], unique=False)
    op.execute(ROLE_AND_GRANTS)
    op.execute(SCOPE_FUNCTIONS)
    for table, using in POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {table}_scope ON {table} TO {APP_ROLE} USING ({using})")


def downgrade() -> None:
    for table in POLICIES:
        op.execute(f"DROP POLICY {table}_scope ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION app_scope_all(text); DROP FUNCTION app_scope_ids(text, text)")
    # The role is cluster-wide (other databases may use it); only its rights here go.
    op.execute(
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE};"
        f" REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE};"
        f" REVOKE ALL ON SCHEMA public FROM {APP_ROLE}"
    )
    op.drop_index("ix_audit_log_ip_at", table_name="audit_log")
    op.drop_index(op.f("ix_user_session_user_id"), table_name="user_session")
    op.drop_table("user_session")
