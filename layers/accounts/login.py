"""Checking a login: throttling per address, lockout per account, audit either way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts import audit
from layers.accounts.passwords import verify_password

#: Consecutive failures that lock an account, and for how long.
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
#: Failures from one address within the window that make it wait (password spraying).
IP_LIMIT = 20
IP_WINDOW = timedelta(minutes=10)


class LoginRefused(Exception):
    """The login is refused; ``message`` is for the user, ``status`` for HTTP."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class LoginOk:
    user_id: int
    username: str


WRONG = "用户名或密码错误 / wrong user name or password"


def authenticate(
    session: Session, username: str, password: str, *, ip: str | None, now: datetime
) -> LoginOk:
    """Check ``username``/``password``; raise :class:`LoginRefused` with a clear message.

    The caller commits in both cases: failures and lockouts are counted and
    audited even though the login is refused.
    """
    recent = (
        session.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'login.failed' AND ip = :ip"
                " AND at > :since"
            ),
            {"ip": ip, "since": now - IP_WINDOW},
        ).scalar_one()
        if ip
        else 0
    )
    if recent >= IP_LIMIT:
        audit.record(session, "login.throttled", actor_name=username[:64], ip=ip)
        raise LoginRefused(
            "尝试次数过多，请 10 分钟后再试 / too many attempts, wait 10 minutes", 429
        )
    user = session.execute(
        text(
            "SELECT id, username, password_hash, failed_logins, locked_until FROM user_account"
            " WHERE username = :u AND is_active"
        ),
        {"u": username.strip().lower()},
    ).one_or_none()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        audit.record(
            session, "login.locked", actor_user_id=user.id, actor_name=user.username, ip=ip
        )
        raise LoginRefused(
            f"账号已被锁定，请 {minutes} 分钟后再试或联系镇管理员"
            f" / the account is locked: try again in {minutes} minutes"
            " or ask the town administrator",
            423,
        )
    if user is None or not verify_password(user.password_hash, password):
        audit.record(
            session,
            "login.failed",
            actor_user_id=user.id if user else None,
            actor_name=username[:64],
            ip=ip,
        )
        if user is not None:
            failures = user.failed_logins + 1
            locked = now + LOCK_FOR if failures >= LOCK_AFTER else None
            session.execute(
                text(
                    "UPDATE user_account SET failed_logins = :f, locked_until = :l WHERE id = :id"
                ),
                {"f": 0 if locked else failures, "l": locked, "id": user.id},
            )
            if locked:
                audit.record(
                    session,
                    "account.locked",
                    actor_user_id=user.id,
                    actor_name=user.username,
                    ip=ip,
                )
                raise LoginRefused(
                    f"密码连续错误 {LOCK_AFTER} 次，账号已锁定 {LOCK_FOR.seconds // 60} 分钟"
                    f" / {LOCK_AFTER} wrong passwords: the account is locked for"
                    f" {LOCK_FOR.seconds // 60} minutes",
                    423,
                )
        raise LoginRefused(WRONG)
    session.execute(
        text("UPDATE user_account SET failed_logins = 0, locked_until = NULL WHERE id = :id"),
        {"id": user.id},
    )
    audit.record(session, "login.ok", actor_user_id=user.id, actor_name=user.username, ip=ip)
    return LoginOk(user.id, user.username)
