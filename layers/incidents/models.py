"""Incident categories and statuses (as data), incidents and their status history.

Also the tables of the closed loop (migration 0004): photos stored by content hash,
Open311 API keys, and the working-day calendar the time limits are counted in.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from layers.db import Base, created_at_column, geometry

#: Handler levels, lowest first: 小事不出村、大事不出镇 — a case climbs only when it must.
LEVELS = ("lane", "village", "town", "county")


class IncidentCategory(Base):
    """A category of the catalogue (two levels, coded like the city-management standard)."""

    __tablename__ = "incident_category"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{2}([0-9]{2})?$'", name="code_format"),
        CheckConstraint("time_limit > 0", name="time_limit"),
        CheckConstraint("time_unit IN ('hour', 'day')", name="time_unit"),
        CheckConstraint("handler_level IN ('lane', 'village', 'town')", name="handler_level"),
    )

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("incident_category.code"))
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    #: Disputes and police matters: never shown to the public, locations coarsened.
    sensitive: Mapped[bool] = mapped_column(Boolean, server_default="false")
    #: Handling time limit (处置时限), counted in working hours or working days.
    time_limit: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    time_unit: Mapped[str] = mapped_column(String(4), server_default="day")
    #: Who handles it by default: lane captain, village or town.
    handler_level: Mapped[str] = mapped_column(String(8), server_default="village")
    #: A police matter: the grid's community police officer leads.
    police: Mapped[bool] = mapped_column(Boolean, server_default="false")
    #: Retired categories stay for old incidents but take no new reports.
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


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
        CheckConstraint("level IN ('lane', 'village', 'town', 'county')", name="level"),
        CheckConstraint("merged_into_id <> id", name="not_merged_into_self"),
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
    #: The signed-in user who reported it: he may read back and rate his own reports.
    reporter_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    #: The Open311 key a report came in with (its own reports are readable with it).
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_key.id", ondelete="SET NULL"))
    #: Current handler level (lane → village → town → county) and when it last climbed.
    level: Mapped[str] = mapped_column(String(8), server_default="lane")
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: 督办: the town supervises this case.
    supervised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: A duplicate shares the loop of the incident it was merged into.
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident.id", ondelete="SET NULL"), index=True
    )
    address: Mapped[str | None] = mapped_column(Text)
    #: Personal data from Open311 reporters: never shown unmasked.
    contact_phone: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(Text)
    #: The client's idempotency key: a retried report is stored once.
    client_key: Mapped[str | None] = mapped_column(String(64), unique=True)


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
    #: The workflow action (accept, dispatch, escalate, …); NULL on imported history.
    action: Mapped[str | None] = mapped_column(String(16))
    #: Action details: levels, extension, merge target, photo hashes, rating.
    detail: Mapped[dict | None] = mapped_column(JSONB)


class IncidentPhoto(Base):
    """A photo of an incident or of one of its transitions, stored under its SHA-256."""

    __tablename__ = "incident_photo"
    __table_args__ = (
        UniqueConstraint("incident_id", "sha256", name="uq_incident_photo_sha256"),
        CheckConstraint("mime IN ('image/jpeg', 'image/png', 'image/webp')", name="mime"),
        CheckConstraint("size_bytes BETWEEN 1 AND 10485760", name="size"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    event_seq: Mapped[int | None] = mapped_column(SmallInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    mime: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()


class ApiKey(Base):
    """An Open311 API key; only its SHA-256 is stored. An area grant widens what GETs show."""

    __tablename__ = "api_key"
    __table_args__ = (
        CheckConstraint("num_nonnulls(town_id, village_id, grid_id) <= 1", name="one_area"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    town_id: Mapped[int | None] = mapped_column(ForeignKey("town.id", ondelete="CASCADE"))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id", ondelete="CASCADE"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WorkDay(Base):
    """An exception to the Monday–Friday week: a holiday, or a weekend made a workday (调休)."""

    __tablename__ = "work_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, server_default="")
