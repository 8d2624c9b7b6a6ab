"""One validated settings object, read from the environment once, at app creation."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


def var_dir() -> Path:
    """Where the project keeps its runtime state (cluster, secret key, uploads)."""
    return Path(os.environ.get("WANGGE_VAR", PROJECT_ROOT / "var"))


def _secret_key(var: Path) -> str:
    """WANGGE_SECRET_KEY, or a random key made once and kept in var/ (never a default)."""
    if key := os.environ.get("WANGGE_SECRET_KEY"):
        if len(key) < 32:
            raise SettingsError("WANGGE_SECRET_KEY must be at least 32 characters")
        return key
    path = var / "secret_key"
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def embedded_database_url(database: str = "wangge", *, app_role: bool = False) -> str:
    """Start the project's own cluster in var/pg if needed and return its URL.

    ``app_role`` gives the URL of the web app's own role (row-level security
    applies to it) instead of the owner's.
    """
    from webgis.pgcluster import APP_ROLE, Cluster

    cluster = Cluster(var_dir() / "pg")
    cluster.ensure_running()
    return cluster.url(database, APP_ROLE) if app_role else cluster.url(database)


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from outside, checked at start-up."""

    database_url: str
    secret_key: str
    #: The web app's connection: a role that owns nothing, so that row-level
    #: security applies. ``database_url`` (the owner) is for migrations and the CLI.
    app_database_url: str
    var: Path
    language: str = "zh-CN"
    #: Session cookies only over HTTPS (browsers also accept them on http://localhost).
    cookie_secure: bool = True
    tianditu_key: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """Build settings from the environment.

        ``DATABASE_URL`` selects an external server (its owner role) and
        ``WANGGE_APP_DATABASE_URL`` the web app's role there; unset, the
        embedded cluster in ``var/pg`` is started and both come from it. The
        secret key comes from ``WANGGE_SECRET_KEY`` or a key generated once
        into ``var/secret_key``.
        """
        var = var_dir()
        url = os.environ.get("DATABASE_URL")
        if url:
            app_url = os.environ.get("WANGGE_APP_DATABASE_URL")
            if not app_url:
                raise SettingsError(
                    "DATABASE_URL is set: set WANGGE_APP_DATABASE_URL too, for the app's own"
                    " role (wangge_app, made by the migrations; give it LOGIN and a password)"
                )
        else:
            url, app_url = embedded_database_url(), embedded_database_url(app_role=True)
        for name, value in (("DATABASE_URL", url), ("WANGGE_APP_DATABASE_URL", app_url)):
            if not value.startswith(("postgresql://", "postgresql+psycopg2://")):
                raise SettingsError(f"{name} must be a postgresql:// URL")
        language = os.environ.get("WANGGE_LANGUAGE", "zh-CN")
        if language not in ("zh-CN", "en"):
            raise SettingsError("WANGGE_LANGUAGE must be zh-CN or en")
        return cls(
            database_url=url,
            app_database_url=app_url,
            secret_key=_secret_key(var),
            var=var,
            language=language,
            cookie_secure=os.environ.get("WANGGE_COOKIE_SECURE", "1") != "0",
            tianditu_key=os.environ.get("WANGGE_TIANDITU_KEY") or None,
        )
