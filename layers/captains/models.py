"""Captain areas, their member households, gridding runs and role assignments."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from layers.db import Base, created_at_column, geometry

ROLES = (
    "street_captain",
    "lane_captain",
    "party_group_member",
    "grid_worker",
    "community_police",
    "village_cadre",
    "patrol_member",
)


class GriddingRun(Base):
    """One run of the partition engine: its parameters and quality figures."""

    __tablename__ = "gridding_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), index=True)
    params: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    summary: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = created_at_column()


class CaptainArea(Base):
    """A lane-captain area (巷长), street-captain area (街长) or party group (党小组).

    Lane areas point to their street area and party group; the other two levels
    are groupings of lane areas and point nowhere. A lane area is one polygon.
    """

    __tablename__ = "captain_area"
    __table_args__ = (
        CheckConstraint("level IN ('lane', 'street', 'party_group')", name="level"),
        CheckConstraint(
            "level = 'lane' OR (street_area_id IS NULL AND party_group_id IS NULL)",
            name="grouping",
        ),
        CheckConstraint("level <> 'lane' OR ST_NumGeometries(geom) = 1", name="lane_single_part"),
        CheckConstraint("min_size <= max_size", name="bounds"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        Index("ix_captain_area_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("gridding_run.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    street_area_id: Mapped[int | None] = mapped_column(
        ForeignKey("captain_area.id", ondelete="SET NULL"), index=True
    )
    party_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("captain_area.id", ondelete="SET NULL"), index=True
    )
    #: The size rule of the level: households for lane areas, lane areas for the others.
    min_size: Mapped[int] = mapped_column(Integer)
    max_size: Mapped[int] = mapped_column(Integer)
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    pinned: Mapped[bool] = mapped_column(Boolean, server_default="false")
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class CaptainAreaMember(Base):
    """A household's lane-captain area; the primary key makes it at most one."""

    __tablename__ = "captain_area_member"

    household_id: Mapped[int] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE"), primary_key=True
    )
    area_id: Mapped[int] = mapped_column(
        ForeignKey("captain_area.id", ondelete="CASCADE"), index=True
    )


class RoleAssignment(Base):
    """A person's duty in exactly one area: a village, a grid or a captain area."""

    __tablename__ = "role_assignment"
    __table_args__ = (
        CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="role"),
        CheckConstraint("num_nonnulls(village_id, grid_id, captain_area_id) = 1", name="one_area"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    captain_area_id: Mapped[int | None] = mapped_column(
        ForeignKey("captain_area.id", ondelete="CASCADE"), index=True
    )
    valid_from: Mapped[date] = mapped_column(Date, server_default=func.current_date())
    valid_to: Mapped[date | None] = mapped_column(Date)
