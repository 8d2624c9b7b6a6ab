"""The category catalogue: two levels of codes, each with a time limit, a default handler
level and a police flag; the town administrator edits it (every change audited)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from layers.accounts import audit
from layers.accounts.access import Principal
from layers.errors import Invalid, NotFound
from layers.incidents.models import IncidentCategory

EDITABLE = (
    "name_zh",
    "name_en",
    "time_limit",
    "time_unit",
    "handler_level",
    "police",
    "sensitive",
    "active",
)


def as_dict(c: IncidentCategory) -> dict:
    return {
        "code": c.code,
        "parent": c.parent_code,
        "name_zh": c.name_zh,
        "name_en": c.name_en,
        "time_limit": c.time_limit,
        "time_unit": c.time_unit,
        "handler_level": c.handler_level,
        "police": c.police,
        "sensitive": c.sensitive,
        "active": c.active,
    }


def catalogue(session: Session, *, active_only: bool = True) -> list[dict]:
    """The classes with their sub-classes nested under ``children``, by code."""
    rows = session.scalars(select(IncidentCategory).order_by(IncidentCategory.code)).all()
    tops: dict[str, dict] = {}
    for c in rows:
        if active_only and not c.active:
            continue
        if c.parent_code is None:
            tops[c.code] = as_dict(c) | {"children": []}
        elif c.parent_code in tops:
            tops[c.parent_code]["children"].append(as_dict(c))
    return list(tops.values())


def _check(values: Mapping) -> dict:
    out = {}
    for name in EDITABLE:
        if name not in values:
            continue
        v = values[name]
        ok = {
            "name_zh": isinstance(v, str) and 0 < len(v.strip()) <= 40,
            "name_en": isinstance(v, str) and 0 < len(v.strip()) <= 80,
            "time_limit": isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 365,
            "time_unit": v in ("hour", "day"),
            "handler_level": v in ("lane", "village", "town"),
        }.get(name, isinstance(v, bool))
        if not ok:
            raise Invalid(f"{name} 的值不合规 / invalid {name}", name)
        out[name] = v.strip() if isinstance(v, str) and name.startswith("name") else v
    return out


def _admin(principal: Principal) -> None:
    if "town_admin" not in principal.roles:
        raise PermissionError(
            "只有镇管理员可以修改类别 / only the town administrator edits categories"
        )


def update_category(
    session: Session, principal: Principal, code: str, values: Mapping, *, ip: str | None = None
) -> dict:
    """Change the editable fields of ``code``; a class passes ``sensitive`` on to its children."""
    _admin(principal)
    c = session.get(IncidentCategory, code)
    if c is None:
        raise NotFound(code)
    changes = _check(values)
    for name, v in changes.items():
        setattr(c, name, v)
    if "sensitive" in changes and c.parent_code is None:
        for child in session.scalars(
            select(IncidentCategory).where(IncidentCategory.parent_code == code)
        ):
            child.sensitive = changes["sensitive"]
    audit.record(
        session,
        "category.update",
        actor_user_id=principal.user_id,
        actor_name=principal.username,
        object_type="incident_category",
        object_id=code,
        detail=changes,
        ip=ip,
    )
    session.flush()
    return as_dict(c)


def add_category(
    session: Session, principal: Principal, values: Mapping, *, ip: str | None = None
) -> dict:
    """Add a sub-class ``PPNN`` under class ``PP`` (it inherits the class's sensitivity)."""
    _admin(principal)
    code = values.get("code")
    if not isinstance(code, str) or len(code) != 4 or not code.isdigit():
        raise Invalid("子类代码应为 4 位数字 / a sub-class code has 4 digits", "code")
    parent = session.get(IncidentCategory, code[:2])
    if parent is None:
        raise Invalid(f"没有大类 {code[:2]} / no class {code[:2]}", "code")
    if session.get(IncidentCategory, code) is not None:
        raise Invalid(f"类别 {code} 已存在 / category {code} exists", "code")
    fields = _check(values)
    for required in ("name_zh", "name_en", "time_limit", "time_unit"):
        if required not in fields:
            raise Invalid(f"缺少 {required} / {required} is missing", required)
    c = IncidentCategory(
        code=code,
        parent_code=parent.code,
        sensitive=parent.sensitive,
        police=parent.police,
        handler_level=parent.handler_level,
        active=True,
    )
    for name, v in fields.items():
        setattr(c, name, v)
    session.add(c)
    audit.record(
        session,
        "category.add",
        actor_user_id=principal.user_id,
        actor_name=principal.username,
        object_type="incident_category",
        object_id=code,
        detail=fields,
        ip=ip,
    )
    session.flush()
    return as_dict(c)
