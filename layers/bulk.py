"""Bulk writes by COPY: thousands of rows in one round trip instead of one each."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import shapely
from sqlalchemy.orm import Session

from layers.db import SRID


def _cell(value) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return r"\N"
    if isinstance(value, bool | np.bool_):
        return "t" if value else "f"
    s = str(value)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_rows(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence]
) -> int:
    """COPY ``rows`` into ``table`` in the session's transaction; return the row count."""
    buf = io.StringIO()
    n = 0
    for row in rows:
        buf.write("\t".join(_cell(v) for v in row))
        buf.write("\n")
        n += 1
    buf.seek(0)
    cursor = session.connection().connection.cursor()
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)
    return n


def as_multi(g):
    """Polygon → MultiPolygon, LineString → MultiLineString; others unchanged."""
    if g is None:
        return None
    if g.geom_type == "Polygon":
        return shapely.MultiPolygon([g])
    if g.geom_type == "LineString":
        return shapely.MultiLineString([g])
    return g


def ewkb(geoms, *, multi: bool = False) -> list[str]:
    """Hex EWKB with SRID 4490, the text form COPY accepts for geometry columns."""
    values = np.asarray(geoms, dtype=object)
    if multi:
        values = np.array([as_multi(g) for g in values], dtype=object)
    values = shapely.set_srid(values, SRID)
    return list(shapely.to_wkb(values, hex=True, include_srid=True))


def nullable(series: pd.Series, cast=None) -> list:
    """Values with NaN/NA as None (COPY's NULL), optionally cast (ids arrive as floats)."""
    return [None if pd.isna(v) else (cast(v) if cast else v) for v in series]
