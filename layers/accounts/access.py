"""Who may see what: a user's grants expanded into scopes, enforced twice.

A grant is a role on an area (town, village, grid, captain area). Each role
may see some *kinds* of sensitive data — households (with their persons),
incidents, patrol tracks — in its areas. The expanded :class:`Scope` per kind
is applied in two independent places:

* in the application: :func:`scope_clause` turns it into a WHERE clause that
  every query and guarded getter adds (an object outside it is a 404);
* in PostgreSQL: :func:`apply_scope` sets it as transaction-local settings that
  the row-level security policies read (migrations/versions/0002).

A mistake in one layer is caught by the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import ColumnElement, Connection, and_, exists, false, func, or_, select, text, true
from sqlalchemy.orm import Session

from layers.boundaries.models import Grid
from layers.captains.models import CaptainArea, CaptainAreaMember

KINDS = ("household", "incident", "track")

#: The kinds of sensitive data each role sees in its areas.
ROLE_SEES: dict[str, frozenset[str]] = {
    "town_admin": frozenset(KINDS),
    "grid_officer": frozenset(KINDS),
    "community_police": frozenset(KINDS),
    "village_cadre": frozenset(KINDS),
    "grid_worker": frozenset(KINDS),
    "patrol_member": frozenset({"track"}),
    "street_captain": frozenset({"household", "incident"}),
    "lane_captain": frozenset({"household", "incident"}),
    "resident": frozenset(),
}

#: Roles that may unmask a person's phone and ID number in their areas (with a reason).
CLEARED_ROLES = frozenset(
    {"town_admin", "grid_officer", "community_police", "village_cadre", "grid_worker"}
)

#: Roles that may draw and edit boundaries and households in their areas.
EDITOR_ROLES = frozenset({"town_admin", "grid_officer"})


@dataclass(frozen=True)
class Scope:
    """Areas in which one kind of data is visible; empty means nothing."""

    all: bool = False
    villages: frozenset[int] = frozenset()
    grids: frozenset[int] = frozenset()
    #: Lane-captain areas (street areas and party groups are expanded to theirs).
    areas: frozenset[int] = frozenset()

    def __or__(self, other: Scope) -> Scope:
        return Scope(
            self.all or other.all,
            self.villages | other.villages,
            self.grids | other.grids,
            self.areas | other.areas,
        )

    @property
    def empty(self) -> bool:
        return not (self.all or self.villages or self.grids or self.areas)


@dataclass(frozen=True)
class Grant:
    role: str
    area_type: str  # town | village | grid | captain_area
    area_id: int
    area_code: str
    area_name: str


@dataclass(frozen=True)
class Principal:
    """The signed-in user with expanded scopes; ``None`` stands for nobody."""

    user_id: int
    username: str
    display_name: str
    grants: tuple[Grant, ...]
    scopes: dict[str, Scope] = field(default_factory=dict)
    #: Where this user may unmask personal data.
    unmask: Scope = Scope()
    #: Where this user may edit boundaries and households.
    edit: Scope = Scope()

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(g.role for g in self.grants)

    def scope(self, kind: str) -> Scope:
        return self.scopes.get(kind, Scope())

    @cached_property
    def settings(self) -> dict[str, list[str]]:
        """The row-level security settings for this user (see :func:`apply_scope`).

        Computed once: a cached principal serves many requests (map tiles).
        """
        return _settings(self)


def load_principal(session: Session, user_id: int) -> Principal | None:
    """The user ``user_id`` with grants expanded, or ``None`` if unknown or inactive."""
    user = session.execute(
        text("SELECT username, display_name FROM user_account WHERE id = :u AND is_active"),
        {"u": user_id},
    ).one_or_none()
    if user is None:
        return None
    rows = session.execute(
        text(
            """
            SELECT g.role,
                   CASE WHEN g.town_id IS NOT NULL THEN 'town'
                        WHEN g.village_id IS NOT NULL THEN 'village'
                        WHEN g.grid_id IS NOT NULL THEN 'grid' ELSE 'captain_area' END,
                   coalesce(g.town_id, g.village_id, g.grid_id, g.captain_area_id),
                   coalesce(t.code, v.code, gr.code, ca.code),
                   coalesce(t.name, v.name, gr.name, ca.name)
            FROM user_grant g
            LEFT JOIN town t ON t.id = g.town_id
            LEFT JOIN village v ON v.id = g.village_id
            LEFT JOIN grid gr ON gr.id = g.grid_id
            LEFT JOIN captain_area ca ON ca.id = g.captain_area_id
            WHERE g.user_id = :u ORDER BY g.id
            """
        ),
        {"u": user_id},
    ).all()
    grants = tuple(Grant(*r) for r in rows)
    area_scope = {g: _expand(session, g) for g in grants}
    scopes = {
        kind: _union(area_scope[g] for g in grants if kind in ROLE_SEES.get(g.role, ()))
        for kind in KINDS
    }
    return Principal(
        user_id=user_id,
        username=user.username,
        display_name=user.display_name,
        grants=grants,
        scopes=scopes,
        unmask=_union(area_scope[g] for g in grants if g.role in CLEARED_ROLES),
        edit=_union(area_scope[g] for g in grants if g.role in EDITOR_ROLES),
    )


def _union(scopes) -> Scope:
    out = Scope()
    for s in scopes:
        out = out | s
    return out


def _expand(session: Session, grant: Grant) -> Scope:
    """The areas a grant covers: a grid covers its descendants, a street area its lanes."""
    if grant.area_type == "town":
        return Scope(all=True)
    if grant.area_type == "village":
        return Scope(villages=frozenset({grant.area_id}))
    if grant.area_type == "grid":
        tree = select(Grid.id).where(Grid.id == grant.area_id).cte(recursive=True)
        tree = tree.union_all(select(Grid.id).where(Grid.parent_id == tree.c.id))
        return Scope(grids=frozenset(session.scalars(select(tree.c.id))))
    lanes = session.scalars(
        select(CaptainArea.id).where(
            or_(
                CaptainArea.id == grant.area_id,
                CaptainArea.street_area_id == grant.area_id,
                CaptainArea.party_group_id == grant.area_id,
            ),
            CaptainArea.level == "lane",
        )
    )
    return Scope(areas=frozenset(lanes))


#: Sets every (name, value) pair as a transaction-local setting in one statement. Both
#: arrays are bound parameters, so the statement text is the same for every user.
SET_SETTINGS = (
    "SELECT count(set_config(n, v, true))"
    " FROM unnest(CAST(:setting_names AS text[]), CAST(:setting_values AS text[])) AS s(n, v)"
)


def scope_settings(principal: Principal | None) -> dict[str, list[str]]:
    """The row-level security settings of ``principal``, as parameters of :data:`SET_SETTINGS`."""
    if principal is not None:
        return principal.settings
    return _settings(None)


def _settings(principal: Principal | None) -> dict[str, list[str]]:
    values: dict[str, str] = {}
    for kind in KINDS:
        s = principal.scope(kind) if principal else Scope()
        values[f"wangge.{kind}_all"] = "on" if s.all else "off"
        for what in ("villages", "grids", "areas"):
            ids = sorted(getattr(s, what))
            values[f"wangge.{kind}_{what}"] = "{" + ",".join(map(str, ids)) + "}"
    values["wangge.user_id"] = str(principal.user_id) if principal else ""
    return {"setting_names": list(values), "setting_values": list(values.values())}


def apply_scope(connection: Connection, principal: Principal | None) -> None:
    """Set the row-level security context for the current transaction (local settings)."""
    connection.execute(text(SET_SETTINGS), scope_settings(principal))


def scope_clause(scope: Scope, table, *, geom=None) -> ColumnElement[bool]:
    """The application-side filter for ``table`` (needs village_id, grid_id; households id).

    ``geom`` is the geometry column used for captain areas when the table has no
    membership (incidents): a row counts when it lies in one of the areas.
    """
    if scope.all:
        return true()
    parts = []
    if scope.villages:
        parts.append(table.village_id.in_(scope.villages))
    if scope.grids and hasattr(table, "grid_id"):
        parts.append(table.grid_id.in_(scope.grids))
    if scope.areas:
        if geom is None:
            parts.append(
                table.id.in_(
                    select(CaptainAreaMember.household_id).where(
                        CaptainAreaMember.area_id.in_(scope.areas)
                    )
                )
            )
        else:
            parts.append(
                exists().where(
                    and_(
                        CaptainArea.id.in_(scope.areas), func.ST_Intersects(CaptainArea.geom, geom)
                    )
                )
            )
    return or_(*parts) if parts else false()
