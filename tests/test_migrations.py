"""Migrations: they build the schema the models describe, and they go down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from layers import migrate
from layers.db import make_engine
from layers.migrate import include_object
from layers.models import Base


def test_upgrade_downgrade_upgrade(scratch_db):
    url = scratch_db("wangge_test_migrate")
    engine = make_engine(url)
    try:
        migrate.upgrade(url)
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        migrate.downgrade(url, "base")
        assert set(Base.metadata.tables).isdisjoint(inspect(engine).get_table_names())
        migrate.upgrade(url)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_models_match_migrations(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True}
        )
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []
