"""Initial schema: territory, grids, households, persons, captain areas, incidents, patrol,
hotspots, accounts and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 17:50:11.683176
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No-ops where the embedded cluster (or the DBA) made them as superuser already.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=True),
        sa.Column("object_id", sa.Text(), nullable=True),
        sa.Column(
            "detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"], unique=False)
    op.create_index(
        op.f("ix_audit_log_actor_user_id"), "audit_log", ["actor_user_id"], unique=False
    )
    op.create_table(
        "incident_category",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("parent_code", sa.String(length=8), nullable=True),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), server_default="false", nullable=False),
        sa.CheckConstraint(
            "code ~ '^[0-9]{2}([0-9]{2})?$'", name=op.f("ck_incident_category_code_format")
        ),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["incident_category.code"],
            name=op.f("fk_incident_category_parent_code_incident_category"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_incident_category")),
    )
    op.create_table(
        "incident_status",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_incident_status")),
        sa.UniqueConstraint("seq", name=op.f("uq_incident_status_seq")),
    )
    op.create_geospatial_table(
        "town",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("code ~ '^[0-9]{9}$'", name=op.f("ck_town_code_format")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_town_geom_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_town")),
        sa.UniqueConstraint("code", name=op.f("uq_town_code")),
    )
    op.create_geospatial_index(
        "ix_town_geom", "town", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_geospatial_table(
        "water",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_water_geom_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_water")),
    )
    op.create_geospatial_index(
        "ix_water_geom", "water", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_geospatial_table(
        "barrier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTILINESTRING",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('river', 'road', 'rail', 'other')", name=op.f("ck_barrier_kind")
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_barrier_geom_valid")),
        sa.ForeignKeyConstraint(["town_id"], ["town.id"], name=op.f("fk_barrier_town_id_town")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_barrier")),
    )
    op.create_geospatial_index(
        "ix_barrier_geom",
        "barrier",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_barrier_town_id"), "barrier", ["town_id"], unique=False)
    op.create_table(
        "hotspot_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("category_code", sa.String(length=8), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column(
            "params", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "summary", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "method IN ('gistar', 'kde', 'emerging')", name=op.f("ck_hotspot_run_method")
        ),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_hotspot_run_period")),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["incident_category.code"],
            name=op.f("fk_hotspot_run_category_code_incident_category"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotspot_run")),
    )
    op.create_geospatial_table(
        "village",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), server_default="village", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("code ~ '^[0-9]{12}$'", name=op.f("ck_village_code_format")),
        sa.CheckConstraint("kind IN ('village', 'community')", name=op.f("ck_village_kind")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_village_geom_valid")),
        sa.ForeignKeyConstraint(["town_id"], ["town.id"], name=op.f("fk_village_town_id_town")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_village")),
        sa.UniqueConstraint("code", name=op.f("uq_village_code")),
    )
    op.create_geospatial_index(
        "ix_village_geom",
        "village",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_village_town_id"), "village", ["town_id"], unique=False)
    op.create_geospatial_table(
        "grid",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("parent_level", sa.SmallInteger(), nullable=True),
        sa.Column("village_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("valid_from", sa.Date(), server_default=sa.text("CURRENT_DATE"), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("code ~ '^[0-9]{6,32}$'", name=op.f("ck_grid_code_format")),
        sa.CheckConstraint(
            "(level = 1 AND parent_id IS NULL AND parent_level IS NULL) OR (level > 1 AND parent_id IS NOT NULL AND parent_level = level - 1)",
            name=op.f("ck_grid_parent_level"),
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_grid_geom_valid")),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name=op.f("ck_grid_level")),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_grid_validity")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id", "parent_level"], ["grid.id", "grid.level"], name="fk_grid_parent"
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_grid_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid")),
        sa.UniqueConstraint("id", "level", name="uq_grid_id_level"),
    )
    op.create_geospatial_index(
        "ix_grid_geom", "grid", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_grid_parent_id"), "grid", ["parent_id"], unique=False)
    op.create_index(op.f("ix_grid_village_id"), "grid", ["village_id"], unique=False)
    op.create_index(
        "uq_grid_current_code",
        "grid",
        ["code"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_table(
        "gridding_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=True),
        sa.Column(
            "params", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "summary", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_gridding_run_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gridding_run")),
    )
    op.create_index(
        op.f("ix_gridding_run_village_id"), "gridding_run", ["village_id"], unique=False
    )
    op.create_geospatial_table(
        "hotspot_cell",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POLYGON",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("z", sa.Float(), nullable=True),
        sa.Column("p", sa.Float(), nullable=True),
        sa.Column("class", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["hotspot_run.id"],
            name=op.f("fk_hotspot_cell_run_id_hotspot_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotspot_cell")),
    )
    op.create_geospatial_index(
        "ix_hotspot_cell_geom",
        "hotspot_cell",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_hotspot_cell_run_id"), "hotspot_cell", ["run_id"], unique=False)
    op.create_geospatial_table(
        "patrol_route",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTILINESTRING",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column(
            "params", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "mode IN ('cover', 'budget', 'manual')", name=op.f("ck_patrol_route_mode")
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_patrol_route_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_route")),
    )
    op.create_geospatial_index(
        "ix_patrol_route_geom",
        "patrol_route",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_patrol_route_village_id"), "patrol_route", ["village_id"], unique=False
    )
    op.create_geospatial_table(
        "street",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("is_main", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTILINESTRING",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_street_geom_valid")),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_street_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_street")),
    )
    op.create_geospatial_index(
        "ix_street_geom",
        "street",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_street_village_id"), "street", ["village_id"], unique=False)
    op.create_geospatial_table(
        "captain_area",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("street_area_id", sa.Integer(), nullable=True),
        sa.Column("party_group_id", sa.Integer(), nullable=True),
        sa.Column("min_size", sa.Integer(), nullable=False),
        sa.Column("max_size", sa.Integer(), nullable=False),
        sa.Column("households", sa.Integer(), server_default="0", nullable=False),
        sa.Column("pinned", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "level <> 'lane' OR ST_NumGeometries(geom) = 1",
            name=op.f("ck_captain_area_lane_single_part"),
        ),
        sa.CheckConstraint(
            "level = 'lane' OR (street_area_id IS NULL AND party_group_id IS NULL)",
            name=op.f("ck_captain_area_grouping"),
        ),
        sa.CheckConstraint(
            "level IN ('lane', 'street', 'party_group')", name=op.f("ck_captain_area_level")
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_captain_area_geom_valid")),
        sa.CheckConstraint("min_size <= max_size", name=op.f("ck_captain_area_bounds")),
        sa.ForeignKeyConstraint(
            ["party_group_id"],
            ["captain_area.id"],
            name=op.f("fk_captain_area_party_group_id_captain_area"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["gridding_run.id"], name=op.f("fk_captain_area_run_id_gridding_run")
        ),
        sa.ForeignKeyConstraint(
            ["street_area_id"],
            ["captain_area.id"],
            name=op.f("fk_captain_area_street_area_id_captain_area"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_captain_area_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captain_area")),
        sa.UniqueConstraint("code", name=op.f("uq_captain_area_code")),
    )
    op.create_geospatial_index(
        "ix_captain_area_geom",
        "captain_area",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_captain_area_party_group_id"), "captain_area", ["party_group_id"], unique=False
    )
    op.create_index(op.f("ix_captain_area_run_id"), "captain_area", ["run_id"], unique=False)
    op.create_index(
        op.f("ix_captain_area_street_area_id"), "captain_area", ["street_area_id"], unique=False
    )
    op.create_index(
        op.f("ix_captain_area_village_id"), "captain_area", ["village_id"], unique=False
    )
    op.create_geospatial_table(
        "lane",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTILINESTRING",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "area",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.CheckConstraint("ST_IsValid(area)", name=op.f("ck_lane_area_valid")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_lane_geom_valid")),
        sa.CheckConstraint("num_nonnulls(geom, area) >= 1", name=op.f("ck_lane_has_shape")),
        sa.ForeignKeyConstraint(
            ["street_id"], ["street.id"], name=op.f("fk_lane_street_id_street")
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_lane_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lane")),
    )
    op.create_geospatial_index(
        "ix_lane_area", "lane", ["area"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_geospatial_index(
        "ix_lane_geom", "lane", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_lane_street_id"), "lane", ["street_id"], unique=False)
    op.create_index(op.f("ix_lane_village_id"), "lane", ["village_id"], unique=False)
    op.create_geospatial_table(
        "household",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("lane_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("people", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("people > 0", name=op.f("ck_household_people_positive")),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_household_grid_id_grid")),
        sa.ForeignKeyConstraint(["lane_id"], ["lane.id"], name=op.f("fk_household_lane_id_lane")),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_household_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household")),
    )
    op.create_geospatial_index(
        "ix_household_geom",
        "household",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_household_grid_id"), "household", ["grid_id"], unique=False)
    op.create_index(op.f("ix_household_lane_id"), "household", ["lane_id"], unique=False)
    op.create_index(op.f("ix_household_village_id"), "household", ["village_id"], unique=False)
    op.create_table(
        "captain_area_member",
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["captain_area.id"],
            name=op.f("fk_captain_area_member_area_id_captain_area"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_captain_area_member_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("household_id", name=op.f("pk_captain_area_member")),
    )
    op.create_index(
        op.f("ix_captain_area_member_area_id"), "captain_area_member", ["area_id"], unique=False
    )
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("id_number", sa.String(length=18), nullable=True),
        sa.Column("gender", sa.String(length=1), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.CheckConstraint("gender IN ('M', 'F')", name=op.f("ck_person_gender")),
        sa.CheckConstraint(
            "id_number ~ '^[0-9]{17}[0-9X]$'", name=op.f("ck_person_id_number_format")
        ),
        sa.CheckConstraint("phone ~ '^[0-9+-]{5,20}$'", name=op.f("ck_person_phone_format")),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_person_household_id_household"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_person_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("id_number", name=op.f("uq_person_id_number")),
    )
    op.create_index(op.f("ix_person_household_id"), "person", ["household_id"], unique=False)
    op.create_index(op.f("ix_person_village_id"), "person", ["village_id"], unique=False)
    op.create_geospatial_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("category_code", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("reporter_person_id", sa.Integer(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "closed_at IS NULL OR closed_at >= reported_at", name=op.f("ck_incident_closed_after")
        ),
        sa.CheckConstraint("satisfaction BETWEEN 1 AND 5", name=op.f("ck_incident_satisfaction")),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["incident_category.code"],
            name=op.f("fk_incident_category_code_incident_category"),
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_incident_grid_id_grid")),
        sa.ForeignKeyConstraint(
            ["reporter_person_id"],
            ["person.id"],
            name=op.f("fk_incident_reporter_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["status"], ["incident_status.code"], name=op.f("fk_incident_status_incident_status")
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_incident_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
        sa.UniqueConstraint("code", name=op.f("uq_incident_code")),
    )
    op.create_index(op.f("ix_incident_category_code"), "incident", ["category_code"], unique=False)
    op.create_geospatial_index(
        "ix_incident_geom",
        "incident",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_incident_grid_id"), "incident", ["grid_id"], unique=False)
    op.create_index("ix_incident_reported_at", "incident", ["reported_at"], unique=False)
    op.create_index(op.f("ix_incident_status"), "incident", ["status"], unique=False)
    op.create_index(op.f("ix_incident_village_id"), "incident", ["village_id"], unique=False)
    op.create_geospatial_table(
        "patrol_track",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRINGM",
                srid=4490,
                dimension=3,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("ended_at >= started_at", name=op.f("ck_patrol_track_time_order")),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_patrol_track_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["patrol_route.id"],
            name=op.f("fk_patrol_track_route_id_patrol_route"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_patrol_track_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_track")),
    )
    op.create_geospatial_index(
        "ix_patrol_track_geom",
        "patrol_track",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_patrol_track_route_id"), "patrol_track", ["route_id"], unique=False)
    op.create_index(
        op.f("ix_patrol_track_village_id"), "patrol_track", ["village_id"], unique=False
    )
    op.create_table(
        "role_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("captain_area_id", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.Date(), server_default=sa.text("CURRENT_DATE"), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "role IN ('street_captain', 'lane_captain', 'party_group_member', 'grid_worker', 'community_police', 'village_cadre', 'patrol_member')",
            name=op.f("ck_role_assignment_role"),
        ),
        sa.CheckConstraint(
            "num_nonnulls(village_id, grid_id, captain_area_id) = 1",
            name=op.f("ck_role_assignment_one_area"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_role_assignment_validity")
        ),
        sa.ForeignKeyConstraint(
            ["captain_area_id"],
            ["captain_area.id"],
            name=op.f("fk_role_assignment_captain_area_id_captain_area"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_role_assignment_grid_id_grid")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_role_assignment_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_role_assignment_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_assignment")),
    )
    op.create_index(
        op.f("ix_role_assignment_captain_area_id"),
        "role_assignment",
        ["captain_area_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_role_assignment_grid_id"), "role_assignment", ["grid_id"], unique=False
    )
    op.create_index(
        op.f("ix_role_assignment_person_id"), "role_assignment", ["person_id"], unique=False
    )
    op.create_index(
        op.f("ix_role_assignment_village_id"), "role_assignment", ["village_id"], unique=False
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "username ~ '^[a-z0-9_.-]{3,32}$'", name=op.f("ck_user_account_username_format")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_user_account_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    op.create_table(
        "incident_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["user_account.id"],
            name=op.f("fk_incident_event_actor_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["from_status"],
            ["incident_status.code"],
            name=op.f("fk_incident_event_from_status_incident_status"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_event_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_status"],
            ["incident_status.code"],
            name=op.f("fk_incident_event_to_status_incident_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_event")),
        sa.UniqueConstraint("incident_id", "seq", name="uq_incident_event_seq"),
    )
    op.create_table(
        "user_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=True),
        sa.Column("village_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("captain_area_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role IN ('town_admin', 'grid_officer', 'community_police', 'village_cadre', 'grid_worker', 'patrol_member', 'street_captain', 'lane_captain', 'resident')",
            name=op.f("ck_user_grant_role"),
        ),
        sa.CheckConstraint(
            "num_nonnulls(town_id, village_id, grid_id, captain_area_id) = 1",
            name=op.f("ck_user_grant_one_area"),
        ),
        sa.ForeignKeyConstraint(
            ["captain_area_id"],
            ["captain_area.id"],
            name=op.f("fk_user_grant_captain_area_id_captain_area"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_user_grant_grid_id_grid")),
        sa.ForeignKeyConstraint(["town_id"], ["town.id"], name=op.f("fk_user_grant_town_id_town")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_grant_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.id"], name=op.f("fk_user_grant_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_grant")),
    )
    op.create_index(op.f("ix_user_grant_user_id"), "user_grant", ["user_id"], unique=False)

    _seed_catalogue()
    # The audit log is append-only for everyone, the owner included: history
    # that can be edited is no evidence.
    op.execute(
        """
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
        """
    )


CATEGORIES = [
    # code, name_zh, name_en, sensitive (hidden from the public, see Open311 rules)
    ("01", "环境卫生", "Sanitation", False),
    ("02", "水电煤厕改", "Water, power, coal and toilet reform", False),
    ("03", "禁燃禁放", "Fireworks ban", False),
    ("04", "矛盾纠纷", "Disputes", True),
    ("05", "安全隐患", "Safety hazards", False),
    ("06", "治安", "Public order", True),
    ("07", "防汛", "Flood control", False),
    ("08", "民生诉求", "Livelihood requests", False),
]

STATUSES = [
    # code, seq, name_zh, name_en, is_open
    ("draft", 0, "草稿", "Draft", True),
    ("reported", 1, "已上报", "Reported", True),
    ("accepted", 2, "已受理", "Accepted", True),
    ("rejected", 3, "不予受理", "Rejected", False),
    ("dispatched", 4, "已派遣", "Dispatched", True),
    ("in_progress", 5, "处置中", "In progress", True),
    ("parked", 6, "缓办", "Parked", True),
    ("handled", 7, "已处置", "Handled", True),
    ("rework", 8, "返工", "Rework", True),
    ("verified", 9, "已核查", "Verified", True),
    ("closed", 10, "已结案", "Closed", False),
    ("feedback_done", 11, "已反馈", "Feedback done", False),
]


def _seed_catalogue() -> None:
    category = sa.table(
        "incident_category",
        sa.column("code"),
        sa.column("name_zh"),
        sa.column("name_en"),
        sa.column("sensitive"),
    )
    op.bulk_insert(
        category,
        [
            dict(zip(("code", "name_zh", "name_en", "sensitive"), c, strict=True))
            for c in CATEGORIES
        ],
    )
    status = sa.table(
        "incident_status",
        sa.column("code"),
        sa.column("seq"),
        sa.column("name_zh"),
        sa.column("name_en"),
        sa.column("is_open"),
    )
    op.bulk_insert(
        status,
        [
            dict(zip(("code", "seq", "name_zh", "name_en", "is_open"), s, strict=True))
            for s in STATUSES
        ],
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER audit_log_no_change ON audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_index(op.f("ix_user_grant_user_id"), table_name="user_grant")
    op.drop_table("user_grant")
    op.drop_table("incident_event")
    op.drop_table("user_account")
    op.drop_index(op.f("ix_role_assignment_village_id"), table_name="role_assignment")
    op.drop_index(op.f("ix_role_assignment_person_id"), table_name="role_assignment")
    op.drop_index(op.f("ix_role_assignment_grid_id"), table_name="role_assignment")
    op.drop_index(op.f("ix_role_assignment_captain_area_id"), table_name="role_assignment")
    op.drop_table("role_assignment")
    op.drop_index(op.f("ix_patrol_track_village_id"), table_name="patrol_track")
    op.drop_index(op.f("ix_patrol_track_route_id"), table_name="patrol_track")
    op.drop_geospatial_index(
        "ix_patrol_track_geom",
        table_name="patrol_track",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("patrol_track")
    op.drop_index(op.f("ix_incident_village_id"), table_name="incident")
    op.drop_index(op.f("ix_incident_status"), table_name="incident")
    op.drop_index("ix_incident_reported_at", table_name="incident")
    op.drop_index(op.f("ix_incident_grid_id"), table_name="incident")
    op.drop_geospatial_index(
        "ix_incident_geom", table_name="incident", postgresql_using="gist", column_name="geom"
    )
    op.drop_index(op.f("ix_incident_category_code"), table_name="incident")
    op.drop_geospatial_table("incident")
    op.drop_index(op.f("ix_person_village_id"), table_name="person")
    op.drop_index(op.f("ix_person_household_id"), table_name="person")
    op.drop_table("person")
    op.drop_index(op.f("ix_captain_area_member_area_id"), table_name="captain_area_member")
    op.drop_table("captain_area_member")
    op.drop_index(op.f("ix_household_village_id"), table_name="household")
    op.drop_index(op.f("ix_household_lane_id"), table_name="household")
    op.drop_index(op.f("ix_household_grid_id"), table_name="household")
    op.drop_geospatial_index(
        "ix_household_geom", table_name="household", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("household")
    op.drop_index(op.f("ix_lane_village_id"), table_name="lane")
    op.drop_index(op.f("ix_lane_street_id"), table_name="lane")
    op.drop_geospatial_index(
        "ix_lane_geom", table_name="lane", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_index(
        "ix_lane_area", table_name="lane", postgresql_using="gist", column_name="area"
    )
    op.drop_geospatial_table("lane")
    op.drop_index(op.f("ix_captain_area_village_id"), table_name="captain_area")
    op.drop_index(op.f("ix_captain_area_street_area_id"), table_name="captain_area")
    op.drop_index(op.f("ix_captain_area_run_id"), table_name="captain_area")
    op.drop_index(op.f("ix_captain_area_party_group_id"), table_name="captain_area")
    op.drop_geospatial_index(
        "ix_captain_area_geom",
        table_name="captain_area",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("captain_area")
    op.drop_index(op.f("ix_street_village_id"), table_name="street")
    op.drop_geospatial_index(
        "ix_street_geom", table_name="street", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("street")
    op.drop_index(op.f("ix_patrol_route_village_id"), table_name="patrol_route")
    op.drop_geospatial_index(
        "ix_patrol_route_geom",
        table_name="patrol_route",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("patrol_route")
    op.drop_index(op.f("ix_hotspot_cell_run_id"), table_name="hotspot_cell")
    op.drop_geospatial_index(
        "ix_hotspot_cell_geom",
        table_name="hotspot_cell",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("hotspot_cell")
    op.drop_index(op.f("ix_gridding_run_village_id"), table_name="gridding_run")
    op.drop_table("gridding_run")
    op.drop_index(
        "uq_grid_current_code", table_name="grid", postgresql_where=sa.text("valid_to IS NULL")
    )
    op.drop_index(op.f("ix_grid_village_id"), table_name="grid")
    op.drop_index(op.f("ix_grid_parent_id"), table_name="grid")
    op.drop_geospatial_index(
        "ix_grid_geom", table_name="grid", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("grid")
    op.drop_index(op.f("ix_village_town_id"), table_name="village")
    op.drop_geospatial_index(
        "ix_village_geom", table_name="village", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("village")
    op.drop_table("hotspot_run")
    op.drop_index(op.f("ix_barrier_town_id"), table_name="barrier")
    op.drop_geospatial_index(
        "ix_barrier_geom", table_name="barrier", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("barrier")
    op.drop_geospatial_index(
        "ix_water_geom", table_name="water", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("water")
    op.drop_geospatial_index(
        "ix_town_geom", table_name="town", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("town")
    op.drop_table("incident_status")
    op.drop_table("incident_category")
    op.drop_index(op.f("ix_audit_log_actor_user_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_action"), table_name="audit_log")
    op.drop_table("audit_log")
