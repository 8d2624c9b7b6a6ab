"""The project's own PostgreSQL 15 + PostGIS cluster, used when DATABASE_URL is unset.

The cluster lives in ``var/pg/``: ``data/`` (owned by the ``postgres`` user when
we run as root, because PostgreSQL refuses to run as root), ``log/`` and
``cluster.json`` (port, generated passwords, package versions; mode 0600).
It listens on 127.0.0.1 only, on a port that was free when it was first
started, with SCRAM passwords; there is no unix socket, because socket paths
longer than 107 bytes (deep checkouts) break, and a TCP URL is the same for
every client.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

PG_BINDIR = Path(os.environ.get("WANGGE_PG_BINDIR", "/usr/lib/postgresql/15/bin"))
DEBIAN_PACKAGES = ("postgresql-15", "postgresql-15-postgis-3", "postgresql-15-pgrouting")
EXTENSIONS = ("postgis", "pgrouting")
OWNER_ROLE = "wangge"
#: The web app's role: owns nothing, so row-level security applies to it.
APP_ROLE = "wangge_app"


class ClusterError(RuntimeError):
    """The embedded cluster could not be set up or started; the message says why."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        # Like the server itself: a port left in TIME_WAIT by our last run is reusable.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def installed_package_versions() -> dict[str, str]:
    """Versions of the Debian server packages, to notice an upgrade under a running cluster."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Version}\\n", *DEBIAN_PACKAGES],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


@dataclass
class Cluster:
    """A PostgreSQL cluster under ``root`` (normally ``var/pg``)."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def state_file(self) -> Path:
        return self.root / "cluster.json"

    @property
    def log_file(self) -> Path:
        return self.root / "log" / "postgres.log"

    # -- running the server binaries as the right user ------------------------------------

    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(PG_BINDIR / args[0]), *args[1:]]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise ClusterError(f"{args[0]} failed: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def _let_postgres_reach(self, path: Path) -> None:
        """Give the postgres user search (x) permission on the ancestors of ``path``.

        A checkout under a private directory (``mktemp -d`` is 0700) is otherwise
        unreachable for the server process. Only the traverse bit is added; nothing
        becomes listable or readable.
        """
        for parent in reversed(path.resolve().parents):
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)

    # -- state -----------------------------------------------------------------------------

    def _state(self) -> dict:
        if self.state_file.exists():
            return json.loads(self.state_file.read_text())
        return {}

    def _save_state(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.state_file)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        # Two `make` targets may start the cluster at once (demo and test).
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- lifecycle -------------------------------------------------------------------------

    def _init(self, state: dict) -> None:
        if not (PG_BINDIR / "initdb").exists():
            raise ClusterError(
                f"PostgreSQL 15 is not installed ({PG_BINDIR} missing); run `make deps` first"
            )
        if self.data.exists():
            shutil.rmtree(self.data)  # a half-made cluster from an interrupted init
        self.data.mkdir(parents=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        state.setdefault("superuser_password", secrets.token_urlsafe(24))
        state.setdefault("owner_password", secrets.token_urlsafe(24))
        state.setdefault("app_password", secrets.token_urlsafe(24))
        pwfile = self.root / "log" / ".pw"
        pwfile.write_text(state["superuser_password"] + "\n")
        if self._as_root:
            self._let_postgres_reach(self.root)
            shutil.chown(self.data, "postgres", "postgres")
            shutil.chown(self.log_file.parent, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        pwfile.chmod(0o600)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--pwfile",
                str(pwfile),
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with open(self.data / "postgresql.auto.conf", "a") as conf:
            # Loopback TCP only; no unix socket (see module docstring).
            conf.write(
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "fsync = on\n"
                "shared_buffers = '256MB'\n"
                "max_connections = 200\n"
            )

    def running_port(self) -> int | None:
        """The port of the running server, or None when it is not running."""
        pidfile = self.data / "postmaster.pid"
        if not pidfile.exists():
            return None
        if self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode != 0:
            return None
        lines = pidfile.read_text().splitlines()
        return int(lines[3]) if len(lines) > 3 else None

    def _start(self, state: dict) -> None:
        port = state.get("port")
        if not port or not _port_is_free(port):
            port = _free_port()
        state["port"] = port
        self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data),
            "-l",
            str(self.log_file),
            "-o",
            f"-p {port}",
        )
        state["packages"] = installed_package_versions()

    def ensure_running(self) -> str:
        """Create the cluster if needed, start it if stopped; return the owner's URL."""
        with self._lock():
            state = self._state()
            if not (self.data / "PG_VERSION").exists():
                self._init(state)
                self._save_state(state)
            if self.running_port() is None:
                self._start(state)
                self._save_state(state)
                self._bootstrap(state)
            elif not state.get("bootstrapped"):
                self._bootstrap(state)
            return self.url("wangge")

    def _bootstrap(self, state: dict) -> None:
        self.ensure_database("wangge", state)
        state["bootstrapped"] = True
        self._save_state(state)

    def stop(self) -> bool:
        """Stop the server if it runs (fast shutdown: clients are disconnected cleanly)."""
        with self._lock():
            if self.running_port() is None:
                return False
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))
            return True

    def restart_if_upgraded(self) -> bool:
        """Restart a running cluster whose server packages changed since it started.

        An upgraded PostGIS or pgRouting library under a running server is loaded
        by new backends only, and a mismatch with the old ones makes errors that
        are hard to read; a restart makes every backend use the new files.
        """
        with self._lock():
            state = self._state()
            if self.running_port() is None:
                return False
            if state.get("packages") == installed_package_versions():
                return False
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))
            self._start(state)
            self._save_state(state)
        for db in self._databases():
            with self._connect(db) as conn, conn.cursor() as cur:
                for ext in EXTENSIONS:
                    cur.execute("SELECT 1 FROM pg_extension WHERE extname = %s", (ext,))
                    if cur.fetchone():
                        cur.execute(
                            sql.SQL("ALTER EXTENSION {} UPDATE").format(sql.Identifier(ext))
                        )
        return True

    # -- databases -------------------------------------------------------------------------

    def url(self, database: str, user: str = OWNER_ROLE) -> str:
        """A libpq URL for ``database`` as ``user`` (the owner role by default)."""
        state = self._state()
        password = {
            OWNER_ROLE: state["owner_password"],
            APP_ROLE: state.get("app_password"),
        }.get(user, state["superuser_password"])
        return f"postgresql://{user}:{password}@127.0.0.1:{state['port']}/{database}"

    def _connect(self, database: str = "postgres"):
        state = self._state()
        conn = psycopg2.connect(
            host="127.0.0.1",
            port=state["port"],
            user="postgres",
            password=state["superuser_password"],
            dbname=database,
            connect_timeout=10,
        )
        conn.autocommit = True
        return conn

    def _databases(self) -> list[str]:
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database WHERE NOT datistemplate")
            return [r[0] for r in cur.fetchall()]

    def drop_databases(self, names: list[str]) -> None:
        """Drop the databases ``names`` (test scratch databases), closing their connections."""
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                for name in names:
                    cur.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )
        finally:
            conn.close()

    def ensure_database(self, name: str, state: dict | None = None, *, fresh: bool = False) -> str:
        """Make database ``name`` owned by the owner role, with PostGIS and pgRouting.

        Extensions are created here, as superuser, because PostGIS is not a
        trusted extension; migrations then run as the (non-superuser) owner.
        With ``fresh=True`` an existing database is dropped first (tests).
        """
        state = state or self._state()
        if "app_password" not in state:  # a cluster made before the app role existed
            state["app_password"] = secrets.token_urlsafe(24)
            self._save_state(state)
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (OWNER_ROLE,))
                if not cur.fetchone():
                    cur.execute(
                        sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD %s").format(
                            sql.Identifier(OWNER_ROLE)
                        ),
                        (state["owner_password"],),
                    )
                # Migrations grant the app role its rights; the login is made here.
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                cur.execute(
                    sql.SQL(verb + " ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(APP_ROLE)),
                    (state["app_password"],),
                )
                if fresh:
                    cur.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if not cur.fetchone():
                    cur.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(name), sql.Identifier(OWNER_ROLE)
                        )
                    )
        finally:
            conn.close()
        conn = self._connect(name)
        try:
            with conn.cursor() as cur:
                for ext in EXTENSIONS:
                    cur.execute(
                        sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext))
                    )
        finally:
            conn.close()
        return self.url(name)
