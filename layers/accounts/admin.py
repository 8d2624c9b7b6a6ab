"""Managing accounts and grants (the ``wangge user`` commands); every change is audited."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts import audit
from layers.accounts.models import USER_ROLES
from layers.accounts.passwords import check_policy, hash_password
from layers.accounts.sessions import revoke_all, utcnow
from layers.errors import Invalid, NotFound

AREA_TABLES = (
    ("town", "town_id", "SELECT id FROM town WHERE code = :c"),
    ("village", "village_id", "SELECT id FROM village WHERE code = :c"),
    ("grid", "grid_id", "SELECT id FROM grid WHERE code = :c AND valid_to IS NULL"),
    ("captain_area", "captain_area_id", "SELECT id FROM captain_area WHERE code = :c"),
)


def resolve_area(session: Session, code: str) -> tuple[str, int]:
    """The grant column and id of the area with ``code`` (town, village, grid, captain area)."""
    for _kind, column, sql in AREA_TABLES:
        found = session.execute(text(sql), {"c": code}).scalar()
        if found is not None:
            return column, found
    raise NotFound(f"没有代码为 {code} 的区域 / no area has the code {code}")


def _user_id(session: Session, username: str) -> int:
    found = session.execute(
        text("SELECT id FROM user_account WHERE username = :u"), {"u": username}
    ).scalar()
    if found is None:
        raise NotFound(f"没有用户 {username} / no user {username}")
    return found


def _check_role(role: str) -> None:
    if role not in USER_ROLES:
        raise Invalid(f"未知角色 {role}；可用：{', '.join(USER_ROLES)} / unknown role", "role")


def add_user(
    session: Session,
    username: str,
    password: str,
    *,
    role: str,
    area: str,
    display_name: str | None = None,
    actor: str = "cli",
) -> int:
    """Create ``username`` with one grant; the password must pass the policy."""
    username = username.strip().lower()
    _check_role(role)
    if session.execute(
        text("SELECT 1 FROM user_account WHERE username = :u"), {"u": username}
    ).scalar():
        raise Invalid(f"用户 {username} 已存在 / user {username} exists", "username")
    check_policy(password, username)
    column, area_id = resolve_area(session, area)
    user_id = session.execute(
        text(
            "INSERT INTO user_account (username, display_name, password_hash)"
            " VALUES (:u, :d, :h) RETURNING id"
        ),
        {"u": username, "d": display_name or username, "h": hash_password(password)},
    ).scalar_one()
    session.execute(
        text(f"INSERT INTO user_grant (user_id, role, {column}) VALUES (:u, :r, :a)"),
        {"u": user_id, "r": role, "a": area_id},
    )
    audit.record(
        session,
        "user.add",
        actor_name=actor,
        object_type="user",
        object_id=username,
        detail={"role": role, "area": area},
    )
    return user_id


def grant(session: Session, username: str, *, role: str, area: str, actor: str = "cli") -> None:
    """Give ``username`` ``role`` on ``area``; the user's sessions are ended (new rights)."""
    _check_role(role)
    user_id = _user_id(session, username)
    column, area_id = resolve_area(session, area)
    exists = session.execute(
        text(f"SELECT 1 FROM user_grant WHERE user_id = :u AND role = :r AND {column} = :a"),
        {"u": user_id, "r": role, "a": area_id},
    ).scalar()
    if exists:
        return
    session.execute(
        text(f"INSERT INTO user_grant (user_id, role, {column}) VALUES (:u, :r, :a)"),
        {"u": user_id, "r": role, "a": area_id},
    )
    _rights_changed(session, user_id, "user.grant", username, role, area, actor)


def revoke(session: Session, username: str, *, role: str, area: str, actor: str = "cli") -> None:
    """Take ``role`` on ``area`` from ``username``; the user's sessions are ended."""
    user_id = _user_id(session, username)
    column, area_id = resolve_area(session, area)
    deleted = session.execute(
        text(f"DELETE FROM user_grant WHERE user_id = :u AND role = :r AND {column} = :a"),
        {"u": user_id, "r": role, "a": area_id},
    ).rowcount
    if not deleted:
        raise NotFound(f"{username} 没有该授权 / {username} holds no such grant")
    _rights_changed(session, user_id, "user.revoke", username, role, area, actor)


def _rights_changed(session, user_id, action, username, role, area, actor) -> None:
    # Sessions carry the rights they were opened with: end them, so the change applies now.
    revoke_all(session, user_id, now=utcnow())
    audit.record(
        session,
        action,
        actor_name=actor,
        object_type="user",
        object_id=username,
        detail={"role": role, "area": area},
    )
