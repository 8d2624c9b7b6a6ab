"""One SQLAlchemy session per request, handed explicitly to the layer functions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from layers.accounts.access import Principal, Scope, apply_scope
from layers.db import make_engine


def init_app(app: Flask, bind: Engine | Connection | None = None) -> None:
    """Bind a session factory to ``app``.

    Tests pass a connection inside an outer transaction; sessions then commit
    to savepoints, and the test's rollback undoes everything.
    """
    bind = bind or make_engine(app.config["APP_DATABASE_URL"])
    options = {"join_transaction_mode": "create_savepoint"} if isinstance(bind, Connection) else {}
    app.extensions["wangge.sessions"] = sessionmaker(bind=bind, expire_on_commit=False, **options)
    app.teardown_appcontext(_close_session)


def session() -> Session:
    """The current request's session, opened on first use.

    Every transaction it begins first tells PostgreSQL who is asking, so that
    row-level security shows only the signed-in user's areas.
    """
    if "db_session" not in g:
        s = current_app.extensions["wangge.sessions"]()
        event.listen(s, "after_begin", _apply_scope)
        g.db_session = s
    return g.db_session


def _apply_scope(_s: Session, _t: SessionTransaction, connection: Connection) -> None:
    # Until the request's user is known (webgis/auth.py), and for nobody, no settings:
    # the policies then show nothing, which is what an empty scope shows too.
    principal = g.get("principal")
    if g.get("scope_known") and principal is not None:
        apply_scope(connection, principal)


def _close_session(exc: BaseException | None) -> None:
    s: Session | None = g.pop("db_session", None)
    if s is not None:
        if exc is not None:
            s.rollback()
        s.close()


@contextmanager
def reading_incidents_of(p: Principal, villages: Iterable[int] | None) -> Iterator[None]:
    """Let one aggregate read every incident of ``villages`` (``None``: all), then restore.

    Hotspot cells, heat levels and patrol stops are aggregates a grid team or a
    patrol may see, computed from incidents they may not each read: row-level
    security is widened for the computation inside the block only.
    """
    extra = Scope(all=True) if villages is None else Scope(villages=frozenset(villages))
    widened = replace(p, scopes={**p.scopes, "incident": p.scope("incident") | extra})
    apply_scope(session().connection(), widened)
    try:
        yield
    finally:
        apply_scope(session().connection(), p)
