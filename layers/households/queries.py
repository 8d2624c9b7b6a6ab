"""Reading households and persons within a user's areas, masked unless unmasked on purpose."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from layers.accounts import audit
from layers.accounts.access import Principal, Scope, scope_clause
from layers.accounts.masking import mask_id_number, mask_name, mask_phone
from layers.captains.models import RoleAssignment
from layers.errors import Invalid, NotFound
from layers.households.models import Household, Person

MAX_FEATURES = 5000
MIN_REASON = 4


class NotCleared(PermissionError):
    """The user's role may not unmask personal data in this area."""


def person_clause(scope: Scope):
    """Persons visible with a household scope: their household, village or duty area."""
    if scope.all:
        return scope_clause(scope, Person)
    parts = [
        Person.household_id.in_(select(Household.id).where(scope_clause(scope, Household))),
    ]
    if scope.villages:
        parts.append(Person.village_id.in_(scope.villages))
    if scope.grids or scope.areas:
        parts.append(
            Person.id.in_(
                select(RoleAssignment.person_id).where(
                    or_(
                        RoleAssignment.grid_id.in_(scope.grids),
                        RoleAssignment.captain_area_id.in_(scope.areas),
                    )
                )
            )
        )
    return or_(*parts)


def household_features(
    session: Session, principal: Principal | None, bbox: tuple[float, float, float, float] | None
) -> dict:
    """Visible households as GeoJSON, with the head's name and phone masked (at most 5,000)."""
    scope = principal.scope("household") if principal else Scope()
    if scope.empty:
        return {"type": "FeatureCollection", "features": [], "truncated": False}
    conditions = [scope_clause(scope, Household)]
    if bbox:
        conditions.append(Household.geom.op("&&")(func.ST_MakeEnvelope(*bbox, 4490)))
    head = (
        select(Person.household_id, func.min(Person.id).label("pid"))
        .group_by(Person.household_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Household.id,
            Household.address,
            Household.people,
            Person.name,
            Person.phone,
            func.ST_X(Household.geom),
            func.ST_Y(Household.geom),
        )
        .outerjoin(head, head.c.household_id == Household.id)
        .outerjoin(Person, Person.id == head.c.pid)
        .where(and_(*conditions))
        .order_by(Household.id)
        .limit(MAX_FEATURES + 1)
    ).all()
    features = [
        {
            "type": "Feature",
            "id": r.id,
            "geometry": {"type": "Point", "coordinates": [round(r[5], 7), round(r[6], 7)]},
            "properties": {
                "id": r.id,
                "address": r.address,
                "people": r.people,
                "head": mask_name(r.name),
                "phone": mask_phone(r.phone),
            },
        }
        for r in rows[:MAX_FEATURES]
    ]
    return {
        "type": "FeatureCollection",
        "features": features,
        "truncated": len(rows) > MAX_FEATURES,
    }


def get_person(session: Session, principal: Principal | None, person_id: int) -> Person:
    """The person, if visible to ``principal``; else :class:`NotFound` (no hint it exists)."""
    scope = principal.scope("household") if principal else Scope()
    if scope.empty:
        raise NotFound(person_id)
    person = session.scalars(
        select(Person).where(Person.id == person_id, person_clause(scope))
    ).one_or_none()
    if person is None:
        raise NotFound(person_id)
    return person


def person_view(person: Person, *, unmasked: bool = False) -> dict:
    """What a page or API shows of a person: masked unless ``unmasked``."""
    return {
        "id": person.id,
        "name": person.name if unmasked else mask_name(person.name),
        "phone": person.phone if unmasked else mask_phone(person.phone),
        "id_number": person.id_number if unmasked else mask_id_number(person.id_number),
        "gender": person.gender,
        "masked": not unmasked,
    }


def unmask_person(
    session: Session, principal: Principal, person_id: int, reason: str, *, ip: str | None
) -> dict:
    """The person in full, for a cleared role, with the reason written to the audit log.

    Raises
    ------
    NotFound
        The person is not visible to the user at all.
    NotCleared
        Visible, but the user's role may not unmask here.
    Invalid
        No real reason given.
    """
    person = get_person(session, principal, person_id)
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise Invalid(
            f"请填写查看原因（至少 {MIN_REASON} 个字）/ give a reason (at least {MIN_REASON}"
            " characters)",
            "reason",
        )
    cleared = principal.unmask
    if (
        cleared.empty
        or session.scalar(
            select(func.count()).where(Person.id == person_id, person_clause(cleared))
        )
        == 0
    ):
        raise NotCleared(person_id)
    audit.record(
        session,
        "person.unmask",
        actor_user_id=principal.user_id,
        actor_name=principal.username,
        object_type="person",
        object_id=person_id,
        detail={"reason": reason[:500]},
        ip=ip,
    )
    return person_view(person, unmasked=True)
