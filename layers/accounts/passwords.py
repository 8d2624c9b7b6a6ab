"""Password policy and hashing.

Hashes are werkzeug's salted scrypt (``scrypt:32768:8:1``): slow by design and
algorithm-tagged, so a later move (e.g. to SM3-based hashing for 密评) can
re-hash on the next login. The policy follows ASVS 2.1: length, not a common
password, not the user name; no composition rules.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 128
_LIST = Path(__file__).with_name("common_passwords.txt")


class PasswordPolicyError(ValueError):
    """The password is refused; the message (Chinese / English) says why."""


@cache
def common_passwords() -> frozenset[str]:
    lines = _LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def check_policy(password: str, username: str = "") -> None:
    """Raise :class:`PasswordPolicyError` unless ``password`` may be used."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(
            f"密码至少 {MIN_LENGTH} 个字符 / the password needs at least {MIN_LENGTH} characters"
        )
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(
            f"密码最多 {MAX_LENGTH} 个字符 / the password may have at most {MAX_LENGTH} characters"
        )
    lowered = password.lower()
    # "password2026!" is as guessable as "password": strip what people append.
    base = re.sub(r"[\d\W_]+$", "", lowered)
    if lowered in common_passwords() or (len(base) >= 4 and base in common_passwords()):
        raise PasswordPolicyError("密码太常见，请换一个 / the password is too common")
    if username and username.lower() in lowered:
        raise PasswordPolicyError(
            "密码不能包含用户名 / the password must not contain the user name"
        )


def hash_password(password: str) -> str:
    """A salted, slow hash of ``password``."""
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (constant time)."""
    return check_password_hash(password_hash, password)
