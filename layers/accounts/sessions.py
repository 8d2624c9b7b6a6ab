"""Server-side login sessions: created on login, touched on use, revocable.

The cookie carries a random token; the database keeps only its SHA-256, so a
leaked table does not hand out sessions. Idle timeout 30 minutes, absolute
lifetime 12 hours (ASVS 3.3.2, level 2).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts.access import SET_SETTINGS

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
#: Touching last_seen_at on every request would write on every tile; once a minute is enough.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class LoginSession:
    user_id: int
    csrf_token: str
    token_hash: str
    #: Whether this lookup moved last_seen_at (the caller must commit it).
    touched: bool = False


def hash_token(token: str) -> str:
    """What the database keeps of a session's cookie token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(
    session: Session, user_id: int, *, ip: str | None, user_agent: str | None, now: datetime
) -> tuple[str, LoginSession]:
    """Start a session for ``user_id``; return the cookie token and the session."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.execute(
        text(
            "INSERT INTO user_session (token_hash, user_id, csrf_token, created_at, last_seen_at,"
            " expires_at, ip, user_agent) VALUES (:h, :u, :c, :now, :now, :exp, :ip, :ua)"
        ),
        {
            "h": hash_token(token),
            "u": user_id,
            "c": csrf,
            "now": now,
            "exp": now + ABSOLUTE,
            "ip": ip,
            "ua": (user_agent or "")[:500],
        },
    )
    return token, LoginSession(user_id, csrf, hash_token(token))


def load_session(
    session: Session,
    token: str | None,
    *,
    now: datetime,
    settings: dict[str, list[str]] | None = None,
) -> LoginSession | None:
    """The live session for ``token``; ``None`` if unknown, revoked, idle too long or too old.

    ``settings`` (see :func:`layers.accounts.access.scope_settings`) are applied to
    the transaction by the same statement, and only when the session is live: a
    request of a user whose principal is cached needs one round trip, not two.
    """
    if not token or len(token) > 100:
        return None
    token_hash = hash_token(token)
    apply = f", ({SET_SETTINGS})" if settings else ""
    row = session.execute(
        text(
            "SELECT s.user_id, s.csrf_token, s.last_seen_at" + apply + " FROM user_session s"
            " JOIN user_account u ON u.id = s.user_id"
            " WHERE s.token_hash = :h AND u.is_active AND s.revoked_at IS NULL"
            " AND s.expires_at > :now AND s.last_seen_at > :idle_since"
        ),
        {"h": token_hash, "now": now, "idle_since": now - IDLE, **(settings or {})},
    ).one_or_none()
    if row is None:
        return None
    touched = now - row.last_seen_at >= TOUCH_EVERY
    if touched:
        session.execute(
            text("UPDATE user_session SET last_seen_at = :now WHERE token_hash = :h"),
            {"now": now, "h": token_hash},
        )
    return LoginSession(row.user_id, row.csrf_token, token_hash, touched)


def revoke(session: Session, token_hash: str, *, now: datetime) -> None:
    """End one session (logout)."""
    session.execute(
        text(
            "UPDATE user_session SET revoked_at = :now WHERE token_hash = :h AND revoked_at IS NULL"
        ),
        {"now": now, "h": token_hash},
    )


def revoke_all(session: Session, user_id: int, *, now: datetime) -> int:
    """End every session of ``user_id`` (password or grant change, lockout by an admin)."""
    result = session.execute(
        text("UPDATE user_session SET revoked_at = :now WHERE user_id = :u AND revoked_at IS NULL"),
        {"now": now, "u": user_id},
    )
    return result.rowcount


def utcnow() -> datetime:
    return datetime.now(UTC)
