"""Patrol week plans: a week of twice-daily patrols whose routes keep their planned start.

A week plan belongs to one village's patrol team; its fourteen routes are
ordinary budget routes that also carry the plan, the window of the day (slot)
and the planned start, so a walked track is checked against its start and the
monthly coverage can count the patrols walked against those planned. Like the
routes, plans are filtered by the application (village scope); the tracks keep
their row-level security.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "wangge_app"


def upgrade() -> None:
    op.create_table(
        "patrol_week_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("team", sa.Text(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column(
            "params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_patrol_week_plan_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_week_plan")),
    )
    op.create_index(
        op.f("ix_patrol_week_plan_village_id"), "patrol_week_plan", ["village_id"], unique=False
    )
    op.add_column("patrol_route", sa.Column("week_plan_id", sa.Integer(), nullable=True))
    op.add_column(
        "patrol_route", sa.Column("planned_start", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("patrol_route", sa.Column("slot", sa.SmallInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_patrol_route_week_plan_id_patrol_week_plan"),
        "patrol_route",
        "patrol_week_plan",
        ["week_plan_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_index(
        op.f("ix_patrol_route_week_plan_id"), "patrol_route", ["week_plan_id"], unique=False
    )
    op.create_check_constraint(
        op.f("ck_patrol_route_week_plan_slot"),
        "patrol_route",
        "(week_plan_id IS NULL) = (slot IS NULL) AND (week_plan_id IS NULL)"
        " = (planned_start IS NULL) AND slot >= 0",
    )
    op.execute(f"GRANT SELECT, INSERT, DELETE ON patrol_week_plan TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE patrol_week_plan_id_seq TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_patrol_route_week_plan_slot"), "patrol_route", type_="check")
    op.drop_index(op.f("ix_patrol_route_week_plan_id"), table_name="patrol_route")
    op.drop_constraint(
        op.f("fk_patrol_route_week_plan_id_patrol_week_plan"), "patrol_route", type_="foreignkey"
    )
    op.drop_column("patrol_route", "slot")
    op.drop_column("patrol_route", "planned_start")
    op.drop_column("patrol_route", "week_plan_id")
    op.drop_index(op.f("ix_patrol_week_plan_village_id"), table_name="patrol_week_plan")
    op.drop_table("patrol_week_plan")
