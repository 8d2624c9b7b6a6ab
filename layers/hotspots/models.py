"""Stored hotspot runs (with their parameters) and their cells."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from layers.db import Base, created_at_column, geometry


class HotspotRun(Base):
    """One analysis over a period and category, reproducible from its parameters."""

    __tablename__ = "hotspot_run"
    __table_args__ = (
        CheckConstraint("method IN ('gistar', 'kde', 'emerging')", name="method"),
        CheckConstraint("period_end >= period_start", name="period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    method: Mapped[str] = mapped_column(String(16))
    category_code: Mapped[str | None] = mapped_column(ForeignKey("incident_category.code"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    params: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    summary: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = created_at_column()


class HotspotCell(Base):
    """A cell of a run: its statistic and its class (hot, cold, new, intensifying…)."""

    __tablename__ = "hotspot_cell"
    __table_args__ = (Index("ix_hotspot_cell_geom", "geom", postgresql_using="gist"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("hotspot_run.id", ondelete="CASCADE"), index=True
    )
    geom = mapped_column(geometry("POLYGON"), nullable=False)
    value: Mapped[float] = mapped_column(Float)
    z: Mapped[float | None] = mapped_column(Float)
    p: Mapped[float | None] = mapped_column(Float)
    klass: Mapped[str] = mapped_column("class", Text)
