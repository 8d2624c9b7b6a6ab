"""Household vector tiles as a function: the index is used under row-level security.

PostGIS's ``&&`` is not LEAKPROOF, so under a row-level security policy
PostgreSQL may not evaluate it before the policy: every household tile then
scanned the whole table (measured: 1M households, 230 ms a tile and a
sequential scan, against 1 ms with the GiST index). Marking the operator
LEAKPROOF needs a superuser. Instead the tile is made by a SECURITY DEFINER
function, owned by the tables' owner (not subject to the policy), that applies
*both* scopes itself: the application's (its arguments) and the database's
(the same ``app_scope_*`` settings and the same predicate as the household
policy of 0002). The planner is then free to use the index first.

The function is also the tile contract Martin or pg_tileserv can publish later
(research/webgis_ecosystem.md §7.2); parallel workers are off for it, which
made z14 tiles 14× faster on two cores.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 19:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "wangge_app"

TILE_HOUSEHOLDS = f"""
CREATE FUNCTION tile_households(
    z integer, x integer, y integer,
    app_all boolean, app_villages integer[], app_grids integer[], app_areas integer[]
) RETURNS bytea
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
SET max_parallel_workers_per_gather = 0
AS $$
DECLARE
    env geometry := ST_TileEnvelope(z, x, y);
    tile bytea;
BEGIN
    SELECT ST_AsMVT(t, 'households', 4096, 'geom') INTO tile FROM (
        SELECT h.id, h.people,
               ST_AsMVTGeom(ST_Transform(h.geom, 3857), env, 4096, 64, true) AS geom
        FROM household h
        WHERE h.geom && ST_Transform(env, 4490)
          -- the application's scope (layers/accounts/access.py: scope_clause)
          AND (app_all OR h.village_id = ANY (app_villages) OR h.grid_id = ANY (app_grids)
               OR h.id IN (SELECT household_id FROM captain_area_member
                           WHERE area_id = ANY (app_areas)))
          -- the database's: the household policy of 0002, word for word
          AND (app_scope_all('household')
               OR h.village_id = ANY (app_scope_ids('household', 'villages'))
               OR h.grid_id = ANY (app_scope_ids('household', 'grids'))
               OR h.id IN (SELECT household_id FROM captain_area_member
                           WHERE area_id = ANY (app_scope_ids('household', 'areas'))))
    ) t;
    RETURN tile;
END
$$;
REVOKE ALL ON FUNCTION tile_households(integer, integer, integer, boolean, integer[],
    integer[], integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tile_households(integer, integer, integer, boolean, integer[],
    integer[], integer[]) TO {APP_ROLE};
"""


def upgrade() -> None:
    op.execute(TILE_HOUSEHOLDS)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION tile_households(integer, integer, integer, boolean, integer[],"
        " integer[], integer[])"
    )
