"""Writing the append-only audit log (who, when, what, from where)."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session


def record(
    session: Session,
    action: str,
    *,
    actor_user_id: int | None = None,
    actor_name: str = "",
    object_type: str | None = None,
    object_id: str | int | None = None,
    detail: dict | None = None,
    ip: str | None = None,
) -> None:
    """Append one audit entry in the session's transaction.

    ``detail`` must not hold secrets or unmasked personal data: the log is
    read by auditors, not only by the people cleared for the data.
    """
    session.execute(
        text(
            "INSERT INTO audit_log (actor_user_id, actor_name, action, object_type, object_id,"
            " detail, ip) VALUES (:u, :n, :a, :t, :o, CAST(:d AS jsonb), :ip)"
        ),
        {
            "u": actor_user_id,
            "n": actor_name,
            "a": action,
            "t": object_type,
            "o": None if object_id is None else str(object_id),
            "d": json.dumps(detail or {}, ensure_ascii=False),
            "ip": ip,
        },
    )
