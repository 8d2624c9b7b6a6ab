"""Planned patrol routes, week plans and walked GPS tracks (time in the M coordinate)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, Float, ForeignKey, Index, SmallInteger, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from layers.db import Base, created_at_column, geometry


class PatrolWeekPlan(Base):
    """A week of twice-daily patrols for one village's patrol team; its routes point here."""

    __tablename__ = "patrol_week_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    #: The patrol team that walks it (e.g. 夕阳红巡逻队): the monthly coverage is per team.
    team: Mapped[str] = mapped_column(Text)
    week_start: Mapped[date] = mapped_column(Date)
    #: Planning parameters, hotspots, targets and the plan's variety figures.
    params: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = created_at_column()


class PatrolRoute(Base):
    """A planned route: full cover of the lanes, a time-budget route, or drawn by hand."""

    __tablename__ = "patrol_route"
    __table_args__ = (
        CheckConstraint("mode IN ('cover', 'budget', 'manual')", name="mode"),
        CheckConstraint(
            "(week_plan_id IS NULL) = (slot IS NULL) AND (week_plan_id IS NULL)"
            " = (planned_start IS NULL) AND slot >= 0",
            name="week_plan_slot",
        ),
        Index("ix_patrol_route_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    mode: Mapped[str] = mapped_column(Text)
    geom = mapped_column(geometry("MULTILINESTRING"), nullable=False)
    length_m: Mapped[float] = mapped_column(Float)
    params: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = created_at_column()
    #: Set for the patrols of a week plan: when to start, and which window of the day.
    week_plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("patrol_week_plan.id", ondelete="CASCADE"), index=True
    )
    planned_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    slot: Mapped[int | None] = mapped_column(SmallInteger)


class PatrolTrack(Base):
    """A walked GPS track; M holds seconds since the epoch for each vertex."""

    __tablename__ = "patrol_track"
    __table_args__ = (
        CheckConstraint("ended_at >= started_at", name="time_order"),
        Index("ix_patrol_track_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    route_id: Mapped[int | None] = mapped_column(
        ForeignKey("patrol_route.id", ondelete="SET NULL"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    geom = mapped_column(geometry("LINESTRINGM", dimension=3), nullable=False)
    #: The check against the route: lane and checkpoint shares, dwell, delays.
    report: Mapped[dict] = mapped_column(JSONB, server_default="{}")
