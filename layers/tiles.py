"""Mapbox vector tiles straight from PostGIS (``ST_AsMVT``), filtered by the user's areas.

Large layers never go into a page's HTML: the map asks for tiles. Each layer
carries only the attributes its map needs, and never personal data.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, literal_column, select, text, true
from sqlalchemy.orm import Session

from layers.accounts.access import Principal, scope_clause
from layers.boundaries.models import Grid, Lane, Street, Village, Water
from layers.captains.models import CaptainArea
from layers.errors import Invalid, NotFound
from layers.households.models import Household
from layers.incidents.models import Incident

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22


@dataclass(frozen=True)
class TileLayer:
    model: type
    columns: tuple[str, ...]
    #: The kind of sensitive data (scope) it shows, or None for boundaries any user sees.
    kind: str | None = None
    min_zoom: int = 0


LAYERS: dict[str, TileLayer] = {
    "households": TileLayer(Household, ("id", "people"), "household", min_zoom=12),
    "incidents": TileLayer(Incident, ("id", "category_code", "status"), "incident", min_zoom=10),
    "villages": TileLayer(Village, ("id", "code", "name")),
    "grids": TileLayer(Grid, ("id", "code", "level", "name")),
    "captain_areas": TileLayer(CaptainArea, ("id", "code", "level", "name", "households")),
    "streets": TileLayer(Street, ("id", "name", "is_main"), min_zoom=10),
    "lanes": TileLayer(Lane, ("id", "name"), min_zoom=12),
    "water": TileLayer(Water, ("id", "name")),
}


def check_tile(z: int, x: int, y: int) -> None:
    """Refuse coordinates that name no tile."""
    if not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
        raise Invalid(f"瓦片坐标无效 / no such tile: {z}/{x}/{y}")


def tile(
    session: Session, principal: Principal | None, layer: str, z: int, x: int, y: int
) -> bytes:
    """The MVT tile ``z/x/y`` of ``layer`` (empty bytes when nothing is visible there)."""
    spec = LAYERS.get(layer)
    if spec is None:
        raise NotFound(layer)
    check_tile(z, x, y)
    if z < spec.min_zoom:
        return b""
    if layer == "households":
        return _households(session, principal, z, x, y)
    m = spec.model
    visible: ColumnElement[bool] = true()
    if spec.kind is not None:
        scope = principal.scope(spec.kind) if principal else None
        if scope is None or scope.empty:
            return b""
        visible = scope_clause(scope, m, geom=m.geom if m is Incident else None)
    if m is Grid:
        visible = and_(visible, Grid.valid_to.is_(None))
    env = func.ST_TileEnvelope(z, x, y)
    rows = (
        select(
            *(getattr(m, c) for c in spec.columns),
            func.ST_AsMVTGeom(func.ST_Transform(m.geom, 3857), env, EXTENT, BUFFER, True).label(
                "geom"
            ),
        )
        .where(m.geom.op("&&")(func.ST_Transform(env, 4490)), visible)
        .subquery("t")
    )
    query = select(func.ST_AsMVT(literal_column("t"), layer, EXTENT, "geom")).select_from(rows)
    data = session.scalar(query)
    return bytes(data) if data else b""


def _households(session: Session, principal: Principal | None, z: int, x: int, y: int) -> bytes:
    """Household tiles from ``tile_households`` (migration 0006), which applies both scopes.

    Under row-level security PostgreSQL may not use the GiST index for PostGIS's
    ``&&`` (not LEAKPROOF), and every tile scanned the whole table. The function
    runs as the table owner and checks the app's scope (passed here) *and* the
    database's (the transaction's settings), as the policy would.
    """
    scope = principal.scope("household") if principal else None
    if scope is None or scope.empty:
        return b""
    data = session.scalar(
        text("SELECT tile_households(:z, :x, :y, :all, :villages, :grids, :areas)"),
        {
            "z": z,
            "x": x,
            "y": y,
            "all": scope.all,
            "villages": sorted(scope.villages),
            "grids": sorted(scope.grids),
            "areas": sorted(scope.areas),
        },
    )
    return bytes(data) if data else b""
