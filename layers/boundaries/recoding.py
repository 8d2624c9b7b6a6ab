"""Recoding grids that move: under a new parent grid, or into a new village.

A grid code carries its parent's (三级网格: village code + two digits per level,
:func:`layers.boundaries.saving.next_code`), so a grid that changes parent must
change code, and so must its children. The rows are updated in place: the id
stays, and with it every incident, household, duty and grant that points at
the grid. Children are numbered 01, 02, … under their new parent in the order
of their old codes.

A code that a grid carried is never handed out again: each recode is audited
as ``boundary.recode`` with the ``previous_code``, and
:func:`~layers.boundaries.saving.next_code` counts those too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.accounts.access import Principal
from layers.boundaries.saving import audit_change, default_grid_name
from layers.errors import Invalid


@dataclass(frozen=True)
class Recode:
    """One grid that moves: its id, level, old and new code, and its (new) name."""

    id: int
    level: int
    old_code: str
    new_code: str
    name: str


def child_code(parent_code: str, level: int, n: int) -> str:
    """The code of the ``n``-th child (1-based) of ``level`` under ``parent_code``.

    >>> child_code("1309991002010000", 2, 3)
    '1309991002010300'
    >>> child_code("1309991002010300", 3, 2)
    '1309991002010302'
    """
    if not 1 <= n <= 99:
        raise Invalid("编号已用完 / no codes left under this parent", "level")
    if level == 2:
        return parent_code[:12] + f"{n:02d}00"
    return parent_code[:14] + f"{n:02d}"


def plan_recodes(
    session: Session, moves: list[tuple[int, str]], *, village_names: tuple[str, str]
) -> list[Recode]:
    """Work out the new codes of the grids ``moves`` (``(id, new code)``) and their subtrees.

    Nothing is written. ``village_names`` (old, new) renames grids that still
    carry the default name of their old code to the default of the new one;
    a name an officer gave is kept.

    Raises
    ------
    Invalid
        When a new code is or was used by another grid (codes are never reused),
        or a parent would get more than 99 children.
    """
    out: list[Recode] = []
    for grid_id, new_code in moves:
        _walk(session, grid_id, new_code, village_names, out)
    moving = {r.id for r in out}
    taken = session.execute(
        text("SELECT code, id FROM grid WHERE code = ANY(:c)"), {"c": [r.new_code for r in out]}
    ).all()
    clash = sorted(code for code, gid in taken if gid not in moving)
    if clash:
        raise Invalid(
            f"网格编号 {clash[0]} 已被使用 / the grid code {clash[0]} is already taken", "code"
        )
    return out


def _walk(session, grid_id: int, new_code: str, names, out: list[Recode]) -> None:
    row = session.execute(
        text("SELECT code, level, name FROM grid WHERE id = :i"), {"i": grid_id}
    ).one()
    name = row.name
    if name == default_grid_name(names[0], row.code, row.level):
        name = default_grid_name(names[1], new_code, row.level)
    out.append(Recode(grid_id, row.level, row.code, new_code, name))
    children = session.execute(
        text("SELECT id FROM grid WHERE parent_id = :i AND valid_to IS NULL ORDER BY code, id"),
        {"i": grid_id},
    ).scalars()
    for n, child in enumerate(children, start=1):
        _walk(session, child, child_code(new_code, row.level + 1, n), names, out)


def apply_recodes(
    session: Session,
    principal: Principal,
    recodes: list[Recode],
    *,
    parent_of: dict[int, int],
    village_id: int,
    reason: str,
    ip: str | None = None,
) -> None:
    """Store the recodes: code, name, village and (for the moved roots) parent, audited.

    Parameters
    ----------
    parent_of : dict
        New parent grid id of each moved root (the first grid of each subtree
        planned by :func:`plan_recodes`); children keep their parents.
    village_id : int
        The village every recoded grid belongs to afterwards.
    reason : str
        Why (the split that moved them), kept in the audit entry.
    """
    for r in recodes:
        params = {"i": r.id, "c": r.new_code, "n": r.name, "v": village_id}
        if r.id in parent_of:
            session.execute(
                text(
                    "UPDATE grid SET code = :c, name = :n, village_id = :v, parent_id = :p,"
                    " version = version + 1 WHERE id = :i"
                ),
                params | {"p": parent_of[r.id]},
            )
        else:
            session.execute(
                text(
                    "UPDATE grid SET code = :c, name = :n, village_id = :v,"
                    " version = version + 1 WHERE id = :i"
                ),
                params,
            )
        audit_change(
            session,
            principal,
            "boundary.recode",
            "grid",
            r.new_code,
            {"previous_code": r.old_code, "level": r.level, "reason": reason},
            ip,
        )
