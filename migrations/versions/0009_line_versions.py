"""Versions for streets and lanes: a counter the line editor compares and bumps.

Until now the editor used a digest of name and geometry as the version of a
street or lane. A counter says how many edits happened since a line was
loaded, costs no hashing per row when lines are listed, and is bumped in the
same ``UPDATE … WHERE version = :v`` as every other boundary. Existing rows
start at 1.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("street", "lane"):
        op.add_column(table, sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    for table in ("lane", "street"):
        op.drop_column(table, "version")
