"""The Flask application factory."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Connection, Engine

from webgis import auth, db, errors, i18n, security
from webgis.maps import use_local_assets
from webgis.settings import PROJECT_ROOT, Settings


def create_app(
    settings: Settings | None = None, *, bind: Engine | Connection | None = None
) -> Flask:
    """Build the app from ``settings`` (read from the environment when omitted).

    ``bind`` lets tests run the app on their own connection.
    """
    settings = settings or Settings.from_env()
    app = Flask(
        __name__,
        static_folder=str(PROJECT_ROOT / "static"),
        static_url_path="/static",
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        DATABASE_URL=settings.database_url,
        APP_DATABASE_URL=settings.app_database_url,
        LANGUAGE=settings.language,
        COOKIE_SECURE=settings.cookie_secure,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    app.json.ensure_ascii = False
    app.extensions["wangge.settings"] = settings
    db.init_app(app, bind)
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    # Folium's asset lists are process-wide; point them at static/vendor once.
    use_local_assets(app.static_url_path + "/vendor")

    from webgis.blueprints import (
        api,
        boundaries,
        dashboard,
        hotspots,
        incidents,
        maps,
        open311,
        pages,
        patrol,
        reports,
        tiles,
    )

    for blueprint in (
        pages.bp,
        api.bp,
        tiles.bp,
        maps.bp,
        boundaries.bp,
        incidents.bp,
        reports.bp,
        open311.bp,
        patrol.bp,
        hotspots.bp,
        dashboard.bp,
    ):
        app.register_blueprint(blueprint)
    return app
