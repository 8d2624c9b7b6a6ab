"""Patrol checks: a walked track keeps the result of its check against the route.

Tracks are kept per village; a grant on a grid now covers the patrol tracks of
the grid's village (as the application does), so the 铁三角 team of a grid sees
the patrols walked there.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OLD = "app_scope_all('track') OR village_id = ANY (app_scope_ids('track', 'villages'))"
NEW = (
    OLD + " OR village_id IN (SELECT village_id FROM grid"
    " WHERE id = ANY (app_scope_ids('track', 'grids')))"
)


def _policy(using: str) -> None:
    op.execute("DROP POLICY patrol_track_scope ON patrol_track")
    op.execute(f"CREATE POLICY patrol_track_scope ON patrol_track TO wangge_app USING ({using})")


def upgrade() -> None:
    _policy(NEW)
    op.add_column(
        "patrol_track",
        sa.Column(
            "report",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("patrol_track", "report")
    _policy(OLD)
