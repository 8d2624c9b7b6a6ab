"""Test fixtures: a real PostGIS database, migrated by Alembic, each test rolled back.

The embedded cluster in var/pg is started when needed (as in `make test` on a
fresh machine); WANGGE_TEST_DATABASE_URL points the tests at another server,
whose database is then dropped and recreated (it must be a scratch database).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from layers import migrate
from layers.db import make_engine
from webgis.app import create_app
from webgis.pgcluster import Cluster
from webgis.settings import Settings, var_dir


def scratch_database(name: str) -> str:
    """A fresh, empty database ``name`` with PostGIS (dropped first if it exists)."""
    external = os.environ.get("WANGGE_TEST_DATABASE_URL")
    if external:
        if name != "wangge_test":
            pytest.skip("only one scratch database on an external server")
        return external
    cluster = Cluster(var_dir() / "pg")
    cluster.ensure_running()
    return cluster.ensure_database(name, fresh=True)


@pytest.fixture(scope="session")
def scratch_db():
    """The :func:`scratch_database` factory, for tests that need a database of their own."""
    return scratch_database


@pytest.fixture(scope="session")
def database_url() -> str:
    url = scratch_database("wangge_test")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """A session whose commits go to savepoints of the test's transaction."""
    with Session(bind=connection, join_transaction_mode="create_savepoint") as s:
        yield s


def make_settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, secret_key="t" * 48, var=tmp_path)


@pytest.fixture
def app(database_url: str, connection: Connection, tmp_path: Path):
    return create_app(make_settings(database_url, tmp_path), bind=connection)


@pytest.fixture
def client(app):
    return app.test_client()
