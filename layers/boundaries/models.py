"""Models of the territory: town → village → street → lane, barriers and water, and grids."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from layers.db import Base, created_at_column, geometry


def _valid(column: str = "geom") -> CheckConstraint:
    return CheckConstraint(f"ST_IsValid({column})", name=f"{column}_valid")


def _gist(table: str, column: str = "geom") -> Index:
    return Index(f"ix_{table}_{column}", column, postgresql_using="gist")


class Town(Base):
    """A township (镇/乡), the top of the territory; code is the 9-digit statistical code."""

    __tablename__ = "town"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{9}$'", name="code_format"),
        _valid(),
        _gist("town"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(Text)
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=False)


class Village(Base):
    """A village or community (村/社区); code is the 12-digit statistical code."""

    __tablename__ = "village"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{12}$'", name="code_format"),
        CheckConstraint("kind IN ('village', 'community')", name="kind"),
        _valid(),
        _gist("village"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("town.id"), index=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), server_default="village")
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class Street(Base):
    """A street (街); main streets are the ones areas should rather not straddle."""

    __tablename__ = "street"
    __table_args__ = (_valid(), _gist("street"))

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    is_main: Mapped[bool] = mapped_column(Boolean, server_default="false")
    geom = mapped_column(geometry("MULTILINESTRING"), nullable=False)
    #: Bumped on every edit; the editor sends the one it loaded (stale → 409).
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class Lane(Base):
    """A lane (巷/胡同): its centre line, its block polygon, or both."""

    __tablename__ = "lane"
    __table_args__ = (
        CheckConstraint("num_nonnulls(geom, area) >= 1", name="has_shape"),
        _valid(),
        _valid("area"),
        _gist("lane"),
        _gist("lane", "area"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    street_id: Mapped[int | None] = mapped_column(ForeignKey("street.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    geom = mapped_column(geometry("MULTILINESTRING"))
    area = mapped_column(geometry("MULTIPOLYGON"))
    #: Bumped on every edit; the editor sends the one it loaded (stale → 409).
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class Barrier(Base):
    """A line areas should not cross: river, main road, railway."""

    __tablename__ = "barrier"
    __table_args__ = (
        CheckConstraint("kind IN ('river', 'road', 'rail', 'other')", name="kind"),
        _valid(),
        _gist("barrier"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int | None] = mapped_column(ForeignKey("town.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    geom = mapped_column(geometry("MULTILINESTRING"), nullable=False)


class Water(Base):
    """A water surface, drawn on the basemap."""

    __tablename__ = "water"
    __table_args__ = (_valid(), _gist("water"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=False)


class Grid(Base):
    """A management grid (网格) at level 1–3, versioned by validity period.

    The parent must be exactly one level up; the composite foreign key on
    ``(parent_id, parent_level)`` lets the database enforce it. The code is
    unique among current grids (``valid_to IS NULL``); retired versions keep it.
    """

    __tablename__ = "grid"
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 3", name="level"),
        CheckConstraint(
            "(level = 1 AND parent_id IS NULL AND parent_level IS NULL)"
            " OR (level > 1 AND parent_id IS NOT NULL AND parent_level = level - 1)",
            name="parent_level",
        ),
        CheckConstraint("code ~ '^[0-9]{6,32}$'", name="code_format"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity"),
        UniqueConstraint("id", "level", name="uq_grid_id_level"),
        ForeignKeyConstraint(
            ["parent_id", "parent_level"],
            ["grid.id", "grid.level"],
            name="fk_grid_parent",
        ),
        Index(
            "uq_grid_current_code", "code", unique=True, postgresql_where=text("valid_to IS NULL")
        ),
        _valid(),
        _gist("grid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(SmallInteger)
    parent_id: Mapped[int | None] = mapped_column(Integer, index=True)
    parent_level: Mapped[int | None] = mapped_column(SmallInteger)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=False)
    valid_from: Mapped[date] = mapped_column(Date, server_default=func.current_date())
    valid_to: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = created_at_column()
