"""Declarative base, spatial reference constants and the engine factory shared by all layers."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import DateTime, Engine, MetaData, create_engine, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Storage CRS: CGCS2000 geographic, the national standard (numerically WGS-84 at grid scale).
SRID = 4490
#: Metric CRS for the demo town: CGCS2000 / 3-degree Gauss-Krüger CM 117E.
METRIC_SRID = 4548

# Stable constraint names, so that migrations can refer to them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every model; its metadata is what Alembic compares against."""

    metadata = MetaData(naming_convention=NAMING)


def geometry(kind: str, *, srid: int = SRID, dimension: int = 2) -> Geometry:
    """A geometry column type; the GiST index is declared in ``__table_args__`` instead.

    GeoAlchemy2 would otherwise add its own index on ``create_all``, which our
    migrations already create under the project's naming scheme.
    """
    return Geometry(kind, srid=srid, dimension=dimension, spatial_index=False)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for ``url`` with connection liveness checks (the cluster may restart).

    A plain ``postgresql://`` URL (libpq style, as in DATABASE_URL) is driven by
    psycopg2; SQLAlchemy 2.1 would otherwise pick psycopg 3.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **kwargs)
