"""Incident categories and statuses (as data), incidents and their status history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from layers.db import Base, geometry


class IncidentCategory(Base):
    """A category of the catalogue (two levels, coded like the city-management standard)."""

    __tablename__ = "incident_category"
    __table_args__ = (CheckConstraint("code ~ '^[0-9]{2}([0-9]{2})?$'", name="code_format"),)

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("incident_category.code"))
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    #: Disputes and police matters: never shown to the public, locations coarsened.
    sensitive: Mapped[bool] = mapped_column(Boolean, server_default="false")


class IncidentStatus(Base):
    """A status of the closed loop; ``is_open`` maps it to Open311's open/closed."""

    __tablename__ = "incident_status"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(SmallInteger, unique=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    is_open: Mapped[bool] = mapped_column(Boolean)


class Incident(Base):
    """A reported problem at a point inside a grid."""

    __tablename__ = "incident"
    __table_args__ = (
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction"),
        CheckConstraint("closed_at IS NULL OR closed_at >= reported_at", name="closed_after"),
        Index("ix_incident_geom", "geom", postgresql_using="gist"),
        Index("ix_incident_reported_at", "reported_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("incident_category.code"), index=True)
    status: Mapped[str] = mapped_column(ForeignKey("incident_status.code"), index=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    geom = mapped_column(geometry("POINT"), nullable=False)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    reporter_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL")
    )
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class IncidentEvent(Base):
    """One transition in an incident's history (who, when, from, to, note)."""

    __tablename__ = "incident_event"
    __table_args__ = (UniqueConstraint("incident_id", "seq", name="uq_incident_event_seq"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(SmallInteger)
    from_status: Mapped[str | None] = mapped_column(ForeignKey("incident_status.code"))
    to_status: Mapped[str] = mapped_column(ForeignKey("incident_status.code"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    actor_role: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
