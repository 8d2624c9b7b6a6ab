"""One SQLAlchemy session per request, handed explicitly to the layer functions."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from layers.db import make_engine


def init_app(app: Flask, bind: Engine | Connection | None = None) -> None:
    """Bind a session factory to ``app``.

    Tests pass a connection inside an outer transaction; sessions then commit
    to savepoints, and the test's rollback undoes everything.
    """
    bind = bind or make_engine(app.config["DATABASE_URL"])
    join = "create_savepoint" if isinstance(bind, Connection) else "conservative_savepoint"
    app.extensions["wangge.sessions"] = sessionmaker(
        bind=bind, expire_on_commit=False, join_transaction_mode=join
    )
    app.teardown_appcontext(_close_session)


def session() -> Session:
    """The current request's session, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["wangge.sessions"]()
    return g.db_session


def _close_session(exc: BaseException | None) -> None:
    s: Session | None = g.pop("db_session", None)
    if s is not None:
        if exc is not None:
            s.rollback()
        s.close()
