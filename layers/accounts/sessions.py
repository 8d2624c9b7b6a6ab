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


def _hash(token: str) -> str:
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
            "h": _hash(token),
            "u": user_id,
            "c": csrf,
            "now": now,
            "exp": now + ABSOLUTE,
            "ip": ip,
            "ua": (user_agent or "")[:500],
        },
    )
    return token, LoginSession(user_id, csrf, _hash(token))


def load_session(session: Session, token: str | None, *, now: datetime) -> LoginSession | None:
    """The live session for ``token``; ``None`` if unknown, revoked, idle too long or too old."""
    if not token or len(token) > 100:
        return None
    row = session.execute(
        text(
            "SELECT s.user_id, s.csrf_token, s.last_seen_at, s.expires_at, s.revoked_at"
            " FROM user_session s JOIN user_account u ON u.id = s.user_id"
            " WHERE s.token_hash = :h AND u.is_active"
        ),
        {"h": _hash(token)},
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= IDLE:
        return None
    touched = now - row.last_seen_at >= TOUCH_EVERY
    if touched:
        session.execute(
            text("UPDATE user_session SET last_seen_at = :now WHERE token_hash = :h"),
            {"now": now, "h": _hash(token)},
        )
    return LoginSession(row.user_id, row.csrf_token, _hash(token), touched)


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
