"""The incident loop: a two-level category catalogue with time limits, handler levels,
escalation and supervision, duplicates, photos, Open311 keys and a working-day calendar.

Row-level security gains two clauses on ``incident``: a signed-in reporter reads,
files and rates his *own* reports (``reporter_user_id``), and an Open311 key reads
and files the reports made with it (``api_key_id``). Two owner-run windows give the
app what RLS would hide, and nothing more: ``incident_public`` (what any resident may
see: no personal data, no police or dispute cases, locations coarsened to ~100 m) and
``incident_nearby()`` (open reports of one category near a point, for duplicates).

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "wangge_app"

# code: (time limit, unit, default handler level, police matter) for the top classes.
TOP_LIMITS = {
    "01": (1, "day", "village", False),
    "02": (3, "day", "village", False),
    "03": (2, "hour", "village", True),
    "04": (5, "day", "village", False),
    "05": (1, "day", "village", False),
    "06": (2, "hour", "village", True),
    "07": (4, "hour", "village", False),
    "08": (5, "day", "village", False),
}

# Sub-classes in the style of GB/T 30428.2 (two levels, coded); limits after the city
# tables in research/governance_anchors.md §3.4, adapted to a township.
# code, name_zh, name_en, limit, unit, handler level, police
SUBCATEGORIES = [
    ("0101", "暴露垃圾", "Exposed rubbish", 4, "hour", "lane", False),
    ("0102", "道路不洁", "Dirty road", 5, "hour", "lane", False),
    ("0103", "积存渣土", "Spoil and construction waste", 2, "day", "village", False),
    ("0104", "水域不洁", "Dirty waterway", 15, "day", "village", False),
    ("0105", "私搭乱建", "Illegal structure", 20, "day", "town", False),
    ("0106", "非法小广告", "Illegal flyers", 1, "day", "lane", False),
    ("0107", "绿地脏乱", "Untidy green space", 4, "hour", "lane", False),
    ("0201", "供水故障", "Water supply fault", 1, "day", "village", False),
    ("0202", "供电故障", "Power fault", 1, "day", "village", False),
    ("0203", "煤改气煤改电", "Coal-to-gas or electric heating", 5, "day", "town", False),
    ("0204", "厕所改造", "Toilet reform", 10, "day", "village", False),
    ("0205", "管道破裂", "Burst pipe", 4, "hour", "village", False),
    ("0301", "违规燃放", "Illegal fireworks", 2, "hour", "village", True),
    (
        "0302",
        "违规销售储存烟花爆竹",
        "Illegal sale or storage of fireworks",
        1,
        "day",
        "town",
        True,
    ),
    ("0303", "露天焚烧", "Open burning", 2, "hour", "lane", False),
    ("0401", "邻里纠纷", "Neighbour dispute", 3, "day", "lane", False),
    ("0402", "婚姻家庭纠纷", "Family dispute", 5, "day", "village", False),
    ("0403", "土地山林纠纷", "Land or forest dispute", 10, "day", "town", False),
    ("0404", "劳资纠纷", "Wage dispute", 5, "day", "town", False),
    ("0501", "消防隐患", "Fire hazard", 4, "hour", "village", False),
    ("0502", "燃气隐患", "Gas hazard", 2, "hour", "town", False),
    ("0503", "危房", "Unsafe building", 3, "day", "town", False),
    ("0504", "道路交通隐患", "Road hazard", 1, "day", "village", False),
    ("0505", "路面塌陷", "Road subsidence", 4, "hour", "town", False),
    ("0601", "可疑人员", "Suspicious person", 2, "hour", "village", True),
    ("0602", "盗窃", "Theft", 4, "hour", "town", True),
    ("0603", "打架斗殴", "Fight", 1, "hour", "town", True),
    ("0604", "聚众赌博", "Gambling", 1, "day", "town", True),
    ("0701", "道路积水", "Waterlogged road", 4, "hour", "village", False),
    ("0702", "堤防险情", "Embankment danger", 1, "hour", "town", False),
    ("0703", "排水设施堵塞", "Blocked drain", 1, "day", "village", False),
    ("0801", "政策咨询", "Policy question", 3, "day", "village", False),
    ("0802", "救助申请", "Request for hardship help", 5, "day", "town", False),
    ("0803", "养老助残", "Elderly and disability care", 5, "day", "village", False),
    ("0804", "公共设施损坏", "Broken public facility", 3, "day", "village", False),
]

FUNCTIONS = """
CREATE FUNCTION app_user_id() RETURNS int LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('wangge.user_id', true), '')::int
$$;
CREATE FUNCTION app_api_key_id() RETURNS int LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('wangge.api_key_id', true), '')::int
$$;
CREATE FUNCTION incident_nearby(
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
CREATE VIEW incident_public AS
    SELECT i.id, i.code, i.category_code, i.status, s.is_open, i.description, i.address,
           i.reported_at, i.due_at, i.closed_at, i.village_id, i.grid_id, i.merged_into_id,
           ST_SnapToGrid(i.geom, 0.001) AS geom,
           (SELECT max(e.at) FROM incident_event e WHERE e.incident_id = i.id) AS updated_at
    FROM incident i
    JOIN incident_category c ON c.code = i.category_code
    JOIN incident_status s ON s.code = i.status
    WHERE NOT c.sensitive AND NOT c.police AND i.status <> 'draft';
"""

GRANTS = f"""
GRANT SELECT ON incident_public, api_key, work_day TO {APP_ROLE};
GRANT SELECT, INSERT ON incident_photo TO {APP_ROLE};
GRANT INSERT, UPDATE, DELETE ON work_day TO {APP_ROLE};
GRANT INSERT ON incident_category TO {APP_ROLE};
GRANT USAGE, SELECT ON SEQUENCE incident_photo_id_seq TO {APP_ROLE};
"""

OWN = "reporter_user_id = app_user_id()"
KEYED = "api_key_id = app_api_key_id()"
POLICIES = {
    "incident_reporter_read": ("incident", "SELECT", f"USING ({OWN} OR {KEYED})"),
    "incident_reporter_insert": ("incident", "INSERT", f"WITH CHECK ({OWN} OR {KEYED})"),
    "incident_reporter_update": ("incident", "UPDATE", f"USING ({OWN}) WITH CHECK ({OWN})"),
    "incident_photo_scope": (
        "incident_photo",
        "ALL",
        "USING (incident_id IN (SELECT id FROM incident))",
    ),
}


def upgrade() -> None:
    for column in (
        sa.Column("time_limit", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("time_unit", sa.String(length=4), server_default="day", nullable=False),
        sa.Column("handler_level", sa.String(length=8), server_default="village", nullable=False),
        sa.Column("police", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
    ):
        op.add_column("incident_category", column)
    op.create_check_constraint(
        op.f("ck_incident_category_time_limit"), "incident_category", "time_limit > 0"
    )
    op.create_check_constraint(
        op.f("ck_incident_category_time_unit"), "incident_category", "time_unit IN ('hour', 'day')"
    )
    op.create_check_constraint(
        op.f("ck_incident_category_handler_level"),
        "incident_category",
        "handler_level IN ('lane', 'village', 'town')",
    )
    _seed_catalogue()

    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=True),
        sa.Column("village_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "num_nonnulls(town_id, village_id, grid_id) <= 1", name=op.f("ck_api_key_one_area")
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_api_key_grid_id_grid"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["town_id"], ["town.id"], name=op.f("fk_api_key_town_id_town"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["village_id"],
            ["village.id"],
            name=op.f("fk_api_key_village_id_village"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_api_key_name")),
    )
    op.create_table(
        "work_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_workday", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_work_day")),
    )

    op.add_column("incident", sa.Column("reporter_user_id", sa.Integer(), nullable=True))
    op.add_column("incident", sa.Column("api_key_id", sa.Integer(), nullable=True))
    op.add_column(
        "incident", sa.Column("level", sa.String(length=8), server_default="lane", nullable=False)
    )
    op.add_column("incident", sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("incident", sa.Column("supervised_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("incident", sa.Column("merged_into_id", sa.Integer(), nullable=True))
    op.add_column("incident", sa.Column("address", sa.Text(), nullable=True))
    op.add_column("incident", sa.Column("contact_phone", sa.Text(), nullable=True))
    op.add_column("incident", sa.Column("contact_email", sa.Text(), nullable=True))
    op.add_column("incident", sa.Column("client_key", sa.String(length=64), nullable=True))
    op.create_check_constraint(
        op.f("ck_incident_level"), "incident", "level IN ('lane', 'village', 'town', 'county')"
    )
    op.create_check_constraint(
        op.f("ck_incident_not_merged_into_self"), "incident", "merged_into_id <> id"
    )
    op.create_foreign_key(
        op.f("fk_incident_reporter_user_id_user_account"),
        "incident",
        "user_account",
        ["reporter_user_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        op.f("fk_incident_api_key_id_api_key"),
        "incident",
        "api_key",
        ["api_key_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        op.f("fk_incident_merged_into_id_incident"),
        "incident",
        "incident",
        ["merged_into_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_unique_constraint(op.f("uq_incident_client_key"), "incident", ["client_key"])
    op.create_index(
        op.f("ix_incident_reporter_user_id"), "incident", ["reporter_user_id"], unique=False
    )
    op.create_index(
        op.f("ix_incident_merged_into_id"), "incident", ["merged_into_id"], unique=False
    )

    op.add_column("incident_event", sa.Column("action", sa.String(length=16), nullable=True))
    op.add_column(
        "incident_event",
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )

    op.create_table(
        "incident_photo",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("event_seq", sa.SmallInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("mime", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "mime IN ('image/jpeg', 'image/png', 'image/webp')", name=op.f("ck_incident_photo_mime")
        ),
        sa.CheckConstraint(
            "size_bytes BETWEEN 1 AND 10485760", name=op.f("ck_incident_photo_size")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_photo_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_photo")),
        sa.UniqueConstraint("incident_id", "sha256", name="uq_incident_photo_sha256"),
    )

    op.execute(FUNCTIONS)
    op.execute(GRANTS)
    op.execute("ALTER TABLE incident_photo ENABLE ROW LEVEL SECURITY")
    for name, (table, command, clause) in POLICIES.items():
        op.execute(f"CREATE POLICY {name} ON {table} FOR {command} TO {APP_ROLE} {clause}")


def _seed_catalogue() -> None:
    for code, (limit, unit, level, police) in TOP_LIMITS.items():
        op.execute(
            sa.text(
                "UPDATE incident_category SET time_limit = :l, time_unit = :u,"
                " handler_level = :h, police = :p WHERE code = :c"
            ).bindparams(l=limit, u=unit, h=level, p=police, c=code)
        )
    category = sa.table(
        "incident_category",
        sa.column("code"),
        sa.column("parent_code"),
        sa.column("name_zh"),
        sa.column("name_en"),
        sa.column("sensitive"),
        sa.column("time_limit"),
        sa.column("time_unit"),
        sa.column("handler_level"),
        sa.column("police"),
    )
    # Disputes (04) and public order (06) are sensitive: their children inherit it.
    op.bulk_insert(
        category,
        [
            {
                "code": code,
                "parent_code": code[:2],
                "name_zh": zh,
                "name_en": en,
                "sensitive": code[:2] in ("04", "06"),
                "time_limit": limit,
                "time_unit": unit,
                "handler_level": level,
                "police": police,
            }
            for code, zh, en, limit, unit, level, police in SUBCATEGORIES
        ],
    )


def downgrade() -> None:
    for name, (table, _command, _clause) in POLICIES.items():
        op.execute(f"DROP POLICY {name} ON {table}")
    op.execute(
        "DROP VIEW incident_public;"
        " DROP FUNCTION incident_nearby(text, float8, float8, timestamptz, float8, float8);"
        " DROP FUNCTION app_api_key_id(); DROP FUNCTION app_user_id()"
    )
    op.drop_table("incident_photo")
    op.drop_column("incident_event", "detail")
    op.drop_column("incident_event", "action")
    op.drop_index(op.f("ix_incident_merged_into_id"), table_name="incident")
    op.drop_index(op.f("ix_incident_reporter_user_id"), table_name="incident")
    op.drop_constraint(op.f("uq_incident_client_key"), "incident", type_="unique")
    for fk in (
        "fk_incident_merged_into_id_incident",
        "fk_incident_api_key_id_api_key",
        "fk_incident_reporter_user_id_user_account",
    ):
        op.drop_constraint(op.f(fk), "incident", type_="foreignkey")
    op.drop_constraint(op.f("ck_incident_not_merged_into_self"), "incident", type_="check")
    op.drop_constraint(op.f("ck_incident_level"), "incident", type_="check")
    for column in (
        "client_key",
        "contact_email",
        "contact_phone",
        "address",
        "merged_into_id",
        "supervised_at",
        "escalated_at",
        "level",
        "api_key_id",
        "reporter_user_id",
    ):
        op.drop_column("incident", column)
    op.drop_table("work_day")
    op.drop_table("api_key")
    # Incidents may use the sub-categories: move them up to their class before dropping.
    op.execute(
        "UPDATE incident SET category_code = left(category_code, 2) WHERE length(category_code) = 4;"
        " UPDATE hotspot_run SET category_code = left(category_code, 2)"
        " WHERE length(category_code) = 4;"
        " DELETE FROM incident_category WHERE parent_code IS NOT NULL"
    )
    for name in ("handler_level", "time_unit", "time_limit"):
        op.drop_constraint(op.f(f"ck_incident_category_{name}"), "incident_category", type_="check")
    for column in ("active", "police", "handler_level", "time_unit", "time_limit"):
        op.drop_column("incident_category", column)
