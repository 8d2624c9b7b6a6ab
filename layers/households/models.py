"""Household points and persons (personal data: names, phones, ID numbers)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from layers.db import Base, created_at_column, geometry


class Household(Base):
    """A household (户) at a point; ``grid_id`` is the level-3 grid that contains it."""

    __tablename__ = "household"
    __table_args__ = (
        CheckConstraint("people > 0", name="people_positive"),
        Index("ix_household_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    lane_id: Mapped[int | None] = mapped_column(ForeignKey("lane.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    address: Mapped[str] = mapped_column(Text)
    people: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    geom = mapped_column(geometry("POINT"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = created_at_column()


class Person(Base):
    """A person: a household member, a captain, a team member. Sensitive data.

    Phone and ID number are stored in full and masked on every way out unless
    the viewer's role is cleared for the person's area.
    """

    __tablename__ = "person"
    __table_args__ = (
        CheckConstraint("phone ~ '^[0-9+-]{5,20}$'", name="phone_format"),
        CheckConstraint("id_number ~ '^[0-9]{17}[0-9X]$'", name="id_number_format"),
        CheckConstraint("gender IN ('M', 'F')", name="gender"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("household.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20))
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True)
    gender: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[date | None] = mapped_column(Date)
