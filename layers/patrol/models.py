"""Planned patrol routes and walked GPS tracks (time in the M coordinate)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Float, ForeignKey, Index, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from layers.db import Base, created_at_column, geometry


class PatrolRoute(Base):
    """A planned route: full cover of the lanes, a time-budget route, or drawn by hand."""

    __tablename__ = "patrol_route"
    __table_args__ = (
        CheckConstraint("mode IN ('cover', 'budget', 'manual')", name="mode"),
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
