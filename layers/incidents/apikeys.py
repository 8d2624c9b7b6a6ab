"""Open311 API keys: made by the CLI, stored as SHA-256 only, optionally granted an area."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts import audit
from layers.errors import Invalid


@dataclass(frozen=True)
class ApiKeyInfo:
    """A live key: its id, name and area grant (``(kind, id)``, or None for no area)."""

    id: int
    name: str
    area: tuple[str, int] | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_key(session: Session, name: str, area_code: str | None = None) -> str:
    """Create key ``name`` (granted ``area_code``: a town, village or grid code); return it.

    The key is shown once; only its hash is kept.
    """
    name = name.strip()
    if not name or len(name) > 80:
        raise Invalid("密钥名称应为 1–80 字 / a key name has 1–80 characters", "name")
    if session.scalar(text("SELECT 1 FROM api_key WHERE name = :n"), {"n": name}):
        raise Invalid(f"密钥 {name} 已存在 / key {name} exists", "name")
    area = {"town_id": None, "village_id": None, "grid_id": None}
    if area_code:
        for table in ("town", "village", "grid"):
            extra = " AND valid_to IS NULL" if table == "grid" else ""
            found = session.scalar(
                text(f"SELECT id FROM {table} WHERE code = :c{extra}"), {"c": area_code}
            )
            if found is not None:
                area[f"{table}_id"] = found
                break
        else:
            raise Invalid(f"没有区域 {area_code} / no area {area_code}", "area")
    token = "wg_" + secrets.token_urlsafe(32)
    key_id = session.scalar(
        text(
            "INSERT INTO api_key (name, key_hash, town_id, village_id, grid_id)"
            " VALUES (:n, :h, :town_id, :village_id, :grid_id) RETURNING id"
        ),
        {"n": name, "h": _hash(token)} | area,
    )
    audit.record(
        session,
        "apikey.create",
        actor_name="cli",
        object_type="api_key",
        object_id=key_id,
        detail={"name": name, "area": area_code},
    )
    return token


def find_api_key(session: Session, token: str | None) -> ApiKeyInfo | None:
    """The live key ``token``, or None (unknown, revoked or absent)."""
    if not token or len(token) > 200:
        return None
    row = session.execute(
        text(
            "SELECT id, name, town_id, village_id, grid_id FROM api_key"
            " WHERE key_hash = :h AND revoked_at IS NULL"
        ),
        {"h": _hash(token)},
    ).one_or_none()
    if row is None:
        return None
    area = next(
        (
            (k, v)
            for k, v in (("town", row.town_id), ("village", row.village_id), ("grid", row.grid_id))
            if v is not None
        ),
        None,
    )
    return ApiKeyInfo(row.id, row.name, area)
