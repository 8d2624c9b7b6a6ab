"""User accounts, grants of roles on areas, and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from layers.db import Base, created_at_column

USER_ROLES = (
    "town_admin",
    "grid_officer",
    "community_police",
    "village_cadre",
    "grid_worker",
    "patrol_member",
    "street_captain",
    "lane_captain",
    "resident",
)


class UserAccount(Base):
    """A login. The password is stored only as a slow salted hash."""

    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint("username ~ '^[a-z0-9_.-]{3,32}$'", name="username_format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    failed_logins: Mapped[int] = mapped_column(Integer, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()


class UserGrant(Base):
    """A role held by a user on one area: the town, a village (covering its grids), a grid or
    a captain area."""

    __tablename__ = "user_grant"
    __table_args__ = (
        CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in USER_ROLES) + ")", name="role"),
        CheckConstraint(
            "num_nonnulls(town_id, village_id, grid_id, captain_area_id) = 1", name="one_area"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(32))
    town_id: Mapped[int | None] = mapped_column(ForeignKey("town.id"))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"))
    captain_area_id: Mapped[int | None] = mapped_column(
        ForeignKey("captain_area.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = created_at_column()


class UserSession(Base):
    """A server-side login session; the cookie holds a token whose SHA-256 is the key.

    Server-side so that logout, an idle timeout or an administrator can revoke it
    (a signed client cookie cannot be revoked).
    """

    __tablename__ = "user_session"
    __table_args__ = (CheckConstraint("expires_at > created_at", name="expiry"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()
    last_seen_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """An audit record. Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE."""

    __tablename__ = "audit_log"
    # Login throttling counts recent failures per address.
    __table_args__ = (Index("ix_audit_log_ip_at", "ip", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = created_at_column()
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_name: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    ip: Mapped[str | None] = mapped_column(INET)
