"""Writing the append-only audit log (who, when, what, from where)."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session


def insert_sql(object_id: str = ":audit_object_id") -> str:
    """The audit INSERT as ``INSERT … SELECT`` (parameters from :func:`params`).

    ``object_id`` is an SQL expression, so that a statement inserting the object
    can write its audit entry too (``insert_sql("i.id::text") + " FROM i"``).
    """
    return (
        "INSERT INTO audit_log (actor_user_id, actor_name, action, object_type, object_id,"
        " detail, ip) SELECT :audit_user_id, :audit_actor, :audit_action, :audit_object_type,"
        f" {object_id}, CAST(:audit_detail AS jsonb), :audit_ip"
    )


def params(
    action: str,
    *,
    actor_user_id: int | None = None,
    actor_name: str = "",
    object_type: str | None = None,
    object_id: str | int | None = None,
    detail: dict | None = None,
    ip: str | None = None,
) -> dict:
    """The parameters of :func:`insert_sql` for one entry."""
    return {
        "audit_user_id": actor_user_id,
        "audit_actor": actor_name,
        "audit_action": action,
        "audit_object_type": object_type,
        "audit_object_id": None if object_id is None else str(object_id),
        "audit_detail": json.dumps(detail or {}, ensure_ascii=False),
        "audit_ip": ip,
    }


def record(session: Session, action: str, **entry) -> None:
    """Append one audit entry in the session's transaction.

    ``entry`` takes the keyword arguments of :func:`params`. ``detail`` must not
    hold secrets or unmasked personal data: the log is read by auditors, not
    only by the people cleared for the data.
    """
    session.execute(text(insert_sql()), params(action, **entry))
