"""``wangge db``: the database: the embedded cluster in var/pg and migrations."""

from __future__ import annotations

import sys

import click

from layers.db import make_engine
from webgis.cli.root import cli
from webgis.settings import Settings, var_dir


def _cluster():
    from webgis.pgcluster import Cluster

    return Cluster(var_dir() / "pg")


@cli.group()
def db() -> None:
    """The database: the embedded cluster in var/pg (when DATABASE_URL is unset) and migrations."""


@db.command(with_appcontext=False)
def start() -> None:
    """Create (first time) and start the embedded cluster; print its URL."""
    click.echo(_cluster().ensure_running())


@db.command(with_appcontext=False)
def stop() -> None:
    """Stop the embedded cluster cleanly."""
    click.echo("stopped" if _cluster().stop() else "not running")


@db.command(with_appcontext=False)
def status() -> None:
    """Say whether the embedded cluster runs, and on which port."""
    port = _cluster().running_port()
    click.echo(f"running on 127.0.0.1:{port}" if port else "not running")
    sys.exit(0 if port else 3)


@db.command(with_appcontext=False)
def refresh() -> None:
    """Restart the embedded cluster if its Debian packages were upgraded under it."""
    if _cluster().restart_if_upgraded():
        click.echo("server packages changed: cluster restarted, extensions updated")


@db.command(with_appcontext=False)
def upgrade() -> None:
    """Migrate the database to the newest schema."""
    from layers import migrate

    migrate.upgrade(Settings.from_env().database_url)


@db.command(with_appcontext=False)
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (e.g. base)."""
    from layers import migrate

    migrate.downgrade(Settings.from_env().database_url, revision)


@db.command("app-login", with_appcontext=False)
def app_login() -> None:
    """Give the app's role (wangge_app) the login of WANGGE_APP_DATABASE_URL (external servers).

    The embedded cluster does this itself; on another server the migrations
    create the role without a login, and this sets it from the URL's password.
    """
    from sqlalchemy import make_url, text

    settings = Settings.from_env()
    url = make_url(settings.app_database_url)
    if not url.password:
        raise click.ClickException("WANGGE_APP_DATABASE_URL has no password")
    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        quoted = conn.execute(text("SELECT quote_literal(:p)"), {"p": url.password}).scalar_one()
        conn.execute(text(f'ALTER ROLE "{url.username}" LOGIN PASSWORD {quoted}'))
    engine.dispose()
    click.echo(f"{url.username} may log in")
