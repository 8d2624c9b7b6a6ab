"""Duplicate search walks outward from the point and stops at the nearest matches.

``incident_nearby`` (0004) intersected three bitmaps (box, category, time window)
and measured every report in the box: when many people report one event (a
flood, a fire, the intake benchmark), each new report measured all the others
before it, 5-6 ms at 2,000 reports within 50 m. It is now PL/pgSQL (its plan
is kept for the session) and reads the spatial index in distance order, so it
stops after the nearest matching reports: 0.3 ms in the same place. Where the
box holds many reports that do not match (other categories, closed cases) it
reads them all, as before. Same arguments, same result.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


NEW = """
CREATE OR REPLACE FUNCTION incident_nearby(
    p_category text, p_lon float8, p_lat float8, p_at timestamptz, p_metres float8, p_hours float8
) RETURNS TABLE (id int, code text, status text, distance_m float8, reported_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
-- Bitmap scans would combine the category and time indexes and measure the whole box.
SET search_path = public, pg_temp SET enable_bitmapscan = off AS $$
DECLARE
    g geometry := ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4490);
BEGIN
    RETURN QUERY
    SELECT n.id, n.code, n.status, n.d, n.reported_at FROM (
        SELECT i.id, i.code::text AS code, i.status::text AS status,
               ST_Distance(i.geom::geography, g::geography) AS d, i.reported_at
        FROM incident i
        -- a degree of longitude is >= 60 km below 57°N: the box holds the whole circle
        WHERE i.geom && ST_Expand(g, p_metres / 60000.0)
          AND i.category_code = p_category
          AND i.status IN (SELECT s.code FROM incident_status s WHERE s.is_open)
          AND i.status <> 'draft' AND i.merged_into_id IS NULL
          AND i.reported_at BETWEEN p_at - make_interval(secs => p_hours * 3600) AND p_at
          AND ST_DWithin(i.geom::geography, g::geography, p_metres)
        -- Degrees are not metres (a degree of longitude is shorter): take a margin of
        -- planar neighbours, then the five nearest on the ellipsoid.
        ORDER BY i.geom <-> g
        LIMIT 50) n
    ORDER BY n.d, n.id
    LIMIT 5;
END $$;
"""

OLD = """
CREATE OR REPLACE FUNCTION incident_nearby(
    p_category text, p_lon float8, p_lat float8, p_at timestamptz, p_metres float8, p_hours float8
) RETURNS TABLE (id int, code text, status text, distance_m float8, reported_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH p AS (SELECT ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4490) AS g)
    SELECT i.id, i.code::text, i.status::text,
           ST_Distance(i.geom::geography, p.g::geography), i.reported_at
    FROM incident i JOIN incident_status s ON s.code = i.status, p
    WHERE i.category_code = p_category AND s.is_open AND i.status <> 'draft'
      AND i.merged_into_id IS NULL
      AND i.reported_at BETWEEN p_at - make_interval(secs => p_hours * 3600) AND p_at
      -- a degree of longitude is >= 60 km below 57°N: the box holds the whole circle
      AND i.geom && ST_Expand(p.g, p_metres / 60000.0)
      AND ST_DWithin(i.geom::geography, p.g::geography, p_metres)
    ORDER BY 4, i.id
    LIMIT 5
$$;
"""


def upgrade() -> None:
    op.execute(NEW)


def downgrade() -> None:
    op.execute(OLD)
