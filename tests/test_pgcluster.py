"""The embedded cluster: created, started, stopped and restarted by the project itself."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg2
import pytest

from webgis.pgcluster import Cluster


@pytest.fixture
def cluster():
    # Not under pytest's tmp_path: every pytest process that starts resets
    # /tmp/pytest-of-<user> to mode 0700, which locks out a cluster running as
    # postgres while another pytest (a second checkout, a helper) starts.
    root = Path(tempfile.mkdtemp(prefix="wangge-pgtest-"))
    c = Cluster(root / "pg")
    yield c
    c.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_create_start_stop_restart_keeps_data(cluster):
    url = cluster.ensure_running()
    assert url.startswith("postgresql://wangge:")
    assert "@127.0.0.1:" in url
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT postgis_lib_version(), current_setting('listen_addresses')")
        version, listen = cur.fetchone()
        assert version.startswith("3.")
        assert listen == "127.0.0.1"
        cur.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
    if os.geteuid() == 0:
        assert cluster.data.stat().st_uid != 0  # the server runs as postgres, not root
    assert oct(cluster.state_file.stat().st_mode & 0o777) == "0o600"

    assert cluster.stop() is True
    assert cluster.running_port() is None
    assert cluster.stop() is False  # stopping a stopped cluster is not an error

    url = cluster.ensure_running()
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT x FROM kept")
        assert cur.fetchone() == (42,)


def test_fresh_database_has_extensions_and_is_owned_by_owner_role(cluster):
    cluster.ensure_running()
    url = cluster.ensure_database("scratch", fresh=True)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT extname FROM pg_extension ORDER BY 1")
        assert {"pgrouting", "postgis"} <= {r[0] for r in cur.fetchall()}
        cur.execute(
            "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'scratch'"
        )
        assert cur.fetchone() == ("wangge",)
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (False,)


def test_restart_if_upgraded_only_when_packages_changed(cluster):
    cluster.ensure_running()
    assert cluster.restart_if_upgraded() is False
    state = cluster._state()
    state["packages"] = {"postgresql-15-postgis-3": "0.0-older"}
    cluster._save_state(state)
    assert cluster.restart_if_upgraded() is True
    assert cluster.running_port() is not None
    assert cluster._state()["packages"] != {"postgresql-15-postgis-3": "0.0-older"}
