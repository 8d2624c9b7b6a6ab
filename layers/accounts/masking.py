"""Masking of personal data (PIPL): phones, ID numbers, names.

The masks follow what residents see on Chinese government sites, so a masked
value is still recognisable to its owner: ``138****8000``,
``110105********0123``, ``王**``.
"""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    """``13800138000`` → ``138****8000``; short numbers keep only their last two digits."""
    if not phone:
        return phone
    if len(phone) >= 11:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * max(len(phone) - 2, 0) + phone[-2:]


def mask_id_number(id_number: str | None) -> str | None:
    """``110105199001010123`` → ``110105********0123`` (region kept, birth date hidden)."""
    if not id_number:
        return id_number
    if len(id_number) < 10:
        return "*" * len(id_number)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def mask_name(name: str | None) -> str | None:
    """``王某某0173`` → ``王*******``: the surname stays, as on public notices."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)
