"""Test fixtures: a real PostGIS database, migrated by Alembic, each test rolled back.

The embedded cluster in var/pg is started when needed (as in `make test` on a
fresh machine); WANGGE_TEST_DATABASE_URL points the tests at another server,
whose database is then dropped and recreated (it must be a scratch database).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.orm import Session

from layers import migrate
from layers.db import make_engine
from layers.incidents.sla import BEIJING, ManualClock
from webgis.app import create_app
from webgis.pgcluster import APP_ROLE, Cluster
from webgis.settings import Settings, var_dir

_CREATED: list[str] = []


def scratch_database(name: str) -> str:
    """A fresh, empty database with PostGIS for this test session, dropped at its end.

    The name carries the process id: two test runs on one machine (two
    checkouts, or a developer and CI) share the cluster but not their databases.
    """
    external = os.environ.get("WANGGE_TEST_DATABASE_URL")
    if external:
        if name != "wangge_test":
            pytest.skip("only one scratch database on an external server")
        return external
    cluster = Cluster(var_dir() / "pg")
    cluster.ensure_running()
    unique = f"{name}_{os.getpid()}"
    _CREATED.append(unique)
    return cluster.ensure_database(unique, fresh=True)


@pytest.fixture(scope="session", autouse=True)
def _drop_scratch_databases() -> Iterator[None]:
    yield
    if _CREATED:
        Cluster(var_dir() / "pg").drop_databases(_CREATED)


def app_url(owner_url: str) -> str:
    """The same database as the web app's role (row-level security applies)."""
    external = os.environ.get("WANGGE_TEST_APP_DATABASE_URL")
    if external:
        return external
    cluster = Cluster(var_dir() / "pg")
    return cluster.url(make_url(owner_url).database, APP_ROLE)


@pytest.fixture(scope="session")
def app_url_of():
    """The :func:`app_url` function, for tests that build their own environment."""
    return app_url


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


@pytest.fixture(scope="session")
def demo_url(scratch_db) -> str:
    """A database holding the default demo township (loaded once per test session)."""
    from datetime import date

    from layers.demo.load import load_demo

    url = scratch_db("wangge_test_demo")
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        load_demo(s, as_of=date(2026, 11, 1))
        s.commit()
    engine.dispose()
    return url


@pytest.fixture
def demo_connection(demo_url: str) -> Iterator[Connection]:
    """The demo database as its owner (no RLS); whatever a test writes is rolled back."""
    with _rolled_back(demo_url) as conn:
        yield conn


@pytest.fixture
def settings_for(tmp_path: Path):
    """Settings for a test app on ``database_url`` (a fixed test key, var/ in tmp)."""

    def make(database_url: str) -> Settings:
        return Settings(
            database_url=database_url,
            app_database_url=app_url(database_url),
            secret_key="t" * 48,
            var=tmp_path,
        )

    return make


@contextmanager
def _rolled_back(url: str) -> Iterator[Connection]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            outer = conn.begin()
            yield conn
            outer.rollback()
    finally:
        engine.dispose()


@pytest.fixture
def app_connection(database_url: str) -> Iterator[Connection]:
    """The empty test database as the web app's role, rolled back after the test."""
    with _rolled_back(app_url(database_url)) as conn:
        yield conn


@pytest.fixture
def demo_app_connection(demo_url: str) -> Iterator[Connection]:
    """The demo database as the web app's role (row-level security applies), rolled back."""
    with _rolled_back(app_url(demo_url)) as conn:
        yield conn


@pytest.fixture
def app(database_url: str, app_connection: Connection, settings_for):
    """The app on the empty test database, as it runs: the app role, RLS on."""
    return create_app(settings_for(database_url), bind=app_connection)


@pytest.fixture
def demo_app(demo_url: str, demo_app_connection: Connection, settings_for):
    """The app on the demo township, as it runs: the app role, RLS on."""
    return create_app(settings_for(demo_url), bind=demo_app_connection)


@pytest.fixture
def signed_in(demo_app, demo_app_connection):
    """``signed_in(username)`` → a test client holding a live session of that demo user.

    The session row is made directly (no password hashing per test); the login
    form itself is tested in test_auth.py.
    """
    from layers.accounts.sessions import create_session, utcnow

    def make(username: str):
        user_id = demo_app_connection.execute(
            text("SELECT id FROM user_account WHERE username = :u"), {"u": username}
        ).scalar_one()
        with Session(bind=demo_app_connection, join_transaction_mode="create_savepoint") as s:
            token, login = create_session(
                s, user_id, ip="127.0.0.1", user_agent="test", now=utcnow()
            )
            s.commit()
        client = demo_app.test_client()
        client.set_cookie("wangge_session", token)
        client.csrf = login.csrf_token
        return client

    return make


@pytest.fixture
def client(app):
    return app.test_client()


# -- the incident loop on the demo township (shared by the loop, rules and Open311 tests) ---

#: The loop tests' start time: a Monday, 09:00 Beijing time, after the demo's as-of date.
LOOP_START = datetime(2026, 11, 2, 9, 0, tzinfo=BEIJING)


@pytest.fixture
def clock(demo_app):
    """A manual clock for ``demo_app``, starting at :data:`LOOP_START`."""
    c = ManualClock(LOOP_START)
    demo_app.extensions["wangge.clock"] = c
    return c


@pytest.fixture
def places(demo_app_connection):
    """Points inside the areas of the demo users (grids and captain areas have no RLS)."""

    def grid_point(username: str):
        return demo_app_connection.execute(
            text(
                """
                SELECT ST_X(p), ST_Y(p) FROM (
                    SELECT ST_PointOnSurface(g3.geom) AS p FROM user_account u
                    JOIN user_grant ug ON ug.user_id = u.id
                    JOIN grid g2 ON g2.id = ug.grid_id
                    JOIN grid g3 ON g3.parent_id = g2.id AND g3.valid_to IS NULL
                    WHERE u.username = :u ORDER BY g3.code LIMIT 1) s
                """
            ),
            {"u": username},
        ).one()

    lane = demo_app_connection.execute(
        text(
            """
            SELECT ST_X(p), ST_Y(p) FROM (
                SELECT ST_PointOnSurface(ST_Intersection(a.geom, g.geom)) AS p
                FROM user_account u JOIN user_grant ug ON ug.user_id = u.id
                JOIN captain_area a ON a.id = ug.captain_area_id
                JOIN grid g ON g.level = 3 AND g.valid_to IS NULL
                    AND ST_Area(ST_Intersection(a.geom, g.geom)) > 0
                WHERE u.username = 'lane_captain'
                ORDER BY ST_Area(ST_Intersection(a.geom, g.geom)) DESC LIMIT 1) s
            """
        )
    ).one()
    return {
        "a": tuple(grid_point("worker_a")),
        "b": tuple(grid_point("worker_b")),
        "lane": tuple(lane),
    }


def _post(client, path, body=None, **kw):
    headers = {"X-CSRF-Token": client.csrf}
    if body is not None:
        return client.post(path, json=body, headers=headers, **kw)
    return client.post(path, headers=headers, **kw)


@pytest.fixture
def post():
    """``post(client, path, body=None, **kw)``: a POST with the client's CSRF token."""
    return _post


@pytest.fixture
def report():
    """``report(client, (lon, lat), category="0101", description=…, **extra)``: file one."""

    def make(client, at, category="0101", description="路边有垃圾堆", **extra):
        body = {"category": category, "lon": at[0], "lat": at[1], "description": description}
        return _post(client, "/api/incidents", body | extra)

    return make


@pytest.fixture
def act():
    """``act(client, incident_id, action, note=None, **params)``: one transition."""

    def make(client, incident_id, action, note=None, **params):
        body = {"action": action, **({"note": note} if note else {}), **params}
        return _post(client, f"/api/incidents/{incident_id}/transitions", body)

    return make
