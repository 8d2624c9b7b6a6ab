"""The Flask application factory."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Connection, Engine

from webgis import db, i18n
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
        LANGUAGE=settings.language,
        JSON_AS_ASCII=False,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    app.extensions["wangge.settings"] = settings
    db.init_app(app, bind)
    i18n.init_app(app)
    # Folium's asset lists are process-wide; point them at static/vendor once.
    use_local_assets(app.static_url_path + "/vendor")

    from webgis.blueprints import pages

    app.register_blueprint(pages.bp)
    return app
