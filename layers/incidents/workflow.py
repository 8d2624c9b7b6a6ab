"""The closed loop as a state machine: a pure transition table with role guards, and
:func:`apply_transition`, which checks a request against it and writes the history.

draft → reported → accepted / rejected → dispatched → in_progress (return 回退,
extension 延期, parking 缓办) → handled → verified / rework → closed → feedback_done.
Besides status changes there are actions that keep the status: ``extend``,
``escalate`` (lane → village → town → county, 小事不出村、大事不出镇) and
``supervise`` (督办 by the town). Every action is one ``incident_event`` row with
actor, role, time, note and details, and one audit entry.

Who acts is decided per incident: only the roles a user holds on an area that
covers the incident count, plus ``reporter`` for the user who filed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from layers.accounts import audit
from layers.accounts.access import ROLE_SEES, Principal
from layers.errors import Invalid, NotFound
from layers.incidents.models import Incident, IncidentCategory, IncidentEvent, IncidentPhoto
from layers.incidents.sla import WorkCalendar, next_level

TEAM = frozenset({"community_police", "village_cadre", "grid_worker"})
CAPTAINS = frozenset({"lane_captain", "street_captain"})
OFFICER = frozenset({"grid_officer"})
TOWN = frozenset({"town_admin"})
SUPERVISORS = frozenset({"village_cadre"}) | TOWN
ACCEPTORS = TEAM | OFFICER | TOWN
HANDLERS = TEAM | CAPTAINS | OFFICER | TOWN
#: The pseudo-role of the user who filed the report.
REPORTER = "reporter"

#: Who may lift a case from each level to the next (a handler's own choice).
ESCALATORS: dict[str, frozenset[str]] = {
    "lane": CAPTAINS | TEAM | OFFICER | TOWN,
    "village": TEAM | OFFICER | TOWN,
    "town": TOWN,
    "county": frozenset(),
}

OPEN = frozenset(
    {"reported", "accepted", "dispatched", "in_progress", "parked", "handled", "rework", "verified"}
)
#: Statuses a case can still be escalated from (not once it waits for verification).
ESCALATABLE = frozenset({"reported", "accepted", "dispatched", "in_progress", "parked", "rework"})


@dataclass(frozen=True)
class Transition:
    """One action: from which statuses, to which (None keeps it), and who may take it."""

    action: str
    sources: frozenset[str]
    target: str | None
    roles: frozenset[str]
    name_zh: str
    note_required: bool = False


def _t(action, sources, target, roles, name_zh, note_required=False) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(roles), name_zh, note_required)


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("submit", {"draft"}, "reported", {REPORTER}, "提交上报"),
        _t("accept", {"reported"}, "accepted", ACCEPTORS, "受理立案"),
        _t("reject", {"reported"}, "rejected", ACCEPTORS, "不予受理", True),
        # A duplicate joins the loop of an earlier report (its status follows it).
        _t("merge", {"reported"}, None, ACCEPTORS | {REPORTER}, "合并重复"),
        _t("dispatch", {"accepted"}, "dispatched", SUPERVISORS | OFFICER, "派遣"),
        _t("start", {"dispatched", "rework"}, "in_progress", HANDLERS, "开始处置"),
        _t("return", {"dispatched", "in_progress"}, "accepted", HANDLERS, "回退", True),
        _t("extend", {"in_progress"}, None, SUPERVISORS, "延期", True),
        _t("park", {"dispatched", "in_progress"}, "parked", SUPERVISORS, "缓办挂账", True),
        _t("resume", {"parked"}, "in_progress", SUPERVISORS | TEAM, "恢复处置"),
        _t("handle", {"in_progress"}, "handled", HANDLERS, "处置完毕"),
        _t("verify", {"handled"}, "verified", SUPERVISORS | OFFICER, "核查通过"),
        _t("rework", {"handled"}, "rework", SUPERVISORS | OFFICER, "返工", True),
        _t("close", {"verified"}, "closed", SUPERVISORS, "结案"),
        _t("feedback", {"closed"}, "feedback_done", ACCEPTORS | {REPORTER}, "回访评价"),
        _t("escalate", ESCALATABLE, None, frozenset().union(*ESCALATORS.values()), "升级", True),
        _t("supervise", OPEN, None, TOWN, "督办", True),
    )
}
#: Actions mirrored onto merged duplicates (they share the loop; each reporter rates his own).
MIRRORED = frozenset(TRANSITIONS) - {"merge", "feedback", "submit"}


class TransitionRefused(Exception):
    """Refused: 409 when the action does not apply to the status, 403 when the role may not.

    ``allowed`` lists what this user may do instead.
    """

    def __init__(self, status: int, message: str, allowed: Sequence[str]):
        super().__init__(message)
        self.status = status
        self.message = message
        self.allowed = tuple(allowed)


def permitted(t: Transition, roles: frozenset[str], level: str) -> bool:
    """Whether ``roles`` may take ``t`` at handler ``level`` (escalation depends on it)."""
    if t.action == "escalate":
        return bool(roles & ESCALATORS.get(level, frozenset()))
    return bool(roles & t.roles)


def allowed_actions(status: str, roles: frozenset[str], level: str = "lane") -> list[str]:
    """The actions ``roles`` may take on a case in ``status`` at ``level``, in table order."""
    return [a for a, t in TRANSITIONS.items() if status in t.sources and permitted(t, roles, level)]


def guard(status: str, action: str, roles: frozenset[str], level: str = "lane") -> Transition:
    """The transition for ``action``, or :class:`TransitionRefused` with the allowed ones."""
    allowed = allowed_actions(status, roles, level)
    t = TRANSITIONS.get(action)
    if t is None or status not in t.sources:
        raise TransitionRefused(
            409,
            f"状态“{status}”下不能执行“{action}” / action {action!r} does not apply in {status!r}",
            allowed,
        )
    if not permitted(t, roles, level):
        raise TransitionRefused(
            403, f"您的角色不能执行“{t.name_zh}” / your role may not {action!r}", allowed
        )
    return t


# -- the database side ---------------------------------------------------------------------


def roles_on(
    session: Session, principal: Principal, *, village_id: int, grid_id: int, lon: float, lat: float
) -> set[str]:
    """The roles ``principal`` holds on areas covering a point in ``grid_id``/``village_id``."""
    roles: set[str] = set()
    ancestors = None
    for g in principal.grants:
        if g.area_type == "town":
            covered = True
        elif g.area_type == "village":
            covered = g.area_id == village_id
        elif g.area_type == "grid":
            if ancestors is None:
                ancestors = set(
                    session.scalars(
                        text(
                            "WITH RECURSIVE up AS (SELECT id, parent_id FROM grid WHERE id = :g"
                            " UNION ALL SELECT p.id, p.parent_id FROM grid p"
                            " JOIN up ON p.id = up.parent_id) SELECT id FROM up"
                        ),
                        {"g": grid_id},
                    )
                )
            covered = g.area_id in ancestors
        else:
            covered = bool(
                session.scalar(
                    text(
                        "SELECT EXISTS (SELECT 1 FROM captain_area a WHERE a.level = 'lane'"
                        " AND (a.id = :a OR a.street_area_id = :a OR a.party_group_id = :a)"
                        " AND ST_Intersects(a.geom, ST_SetSRID(ST_MakePoint(:x, :y), 4490)))"
                    ),
                    {"a": g.area_id, "x": lon, "y": lat},
                )
            )
        if covered:
            roles.add(g.role)
    return roles


def roles_at(session: Session, principal: Principal, incident: Incident) -> frozenset[str]:
    """The roles ``principal`` holds on areas covering ``incident`` (+ ``reporter``)."""
    lon, lat = session.execute(
        text("SELECT ST_X(geom), ST_Y(geom) FROM incident WHERE id = :i"), {"i": incident.id}
    ).one()
    roles = roles_on(
        session,
        principal,
        village_id=incident.village_id,
        grid_id=incident.grid_id,
        lon=lon,
        lat=lat,
    )
    if incident.reporter_user_id == principal.user_id:
        roles.add(REPORTER)
    return frozenset(roles)


def load_for_update(session: Session, principal: Principal, incident_id: int):
    """The incident locked for this transaction and the user's roles on it; 404 if unseen."""
    incident = session.scalars(
        select(Incident).where(Incident.id == incident_id).with_for_update()
    ).one_or_none()
    if incident is None:
        raise NotFound(incident_id)
    roles = roles_at(session, principal, incident)
    sees = any("incident" in ROLE_SEES.get(r, ()) for r in roles)
    if not sees and REPORTER not in roles:
        raise NotFound(incident_id)
    return incident, roles


def _int_param(params: dict, name: str, lo: int, hi: int) -> int:
    value = params.get(name)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise Invalid(f"{name} 应为 {lo}–{hi} 的整数 / {name} must be an integer {lo}–{hi}", name)
    return value


def _next_seq(session: Session, incident_id: int) -> int:
    return (
        session.scalar(
            select(IncidentEvent.seq)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.seq.desc())
            .limit(1)
        )
        or 0
    ) + 1


def _last_event(session: Session, incident_id: int, action: str) -> IncidentEvent | None:
    return session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident_id, IncidentEvent.action == action)
        .order_by(IncidentEvent.seq.desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class StoredPhoto:
    """A photo already written to the store (see photos.py)."""

    sha256: str
    mime: str
    size: int


def apply_transition(
    session: Session,
    principal: Principal,
    incident_id: int,
    action: str,
    *,
    now: datetime,
    calendar: WorkCalendar,
    note: str | None = None,
    params: dict | None = None,
    photos: Sequence[StoredPhoto] = (),
    expected_version: int | None = None,
    ip: str | None = None,
) -> dict:
    """Take ``action`` on incident ``incident_id`` as ``principal``; the caller commits.

    Raises
    ------
    NotFound
        The incident does not exist or is outside the user's areas.
    TransitionRefused
        409 (not from this status, or a stale ``expected_version``) or 403 (role).
    Invalid
        A required note or parameter is missing or malformed.
    """
    params = params or {}
    note = (note or "").strip()[:2000] or None
    incident, roles = load_for_update(session, principal, incident_id)
    if expected_version is not None and expected_version != incident.version:
        raise TransitionRefused(
            409,
            "事件已被他人更新，请刷新 / the incident changed meanwhile, reload it",
            allowed_actions(incident.status, roles, incident.level),
        )
    t = guard(incident.status, action, roles, incident.level)
    if t.note_required and not note:
        raise Invalid(f"“{t.name_zh}”须填写说明 / {action!r} needs a note", "note")
    before = incident.status
    detail: dict = {}
    target = t.target or before
    category = session.get(IncidentCategory, incident.category_code)

    if action == "merge":
        target, detail = _merge(session, incident, params, now)
    elif action == "extend":
        if _last_event(session, incident.id, "extend") is not None and not roles & TOWN:
            raise TransitionRefused(
                403,
                "第二次延期须由镇审批 / a second extension needs the town's approval",
                allowed_actions(before, roles, incident.level),
            )
        hours = _int_param(params, "hours", 1, 2000)
        incident.due_at = calendar.add(incident.due_at or now, hours * 60)
        detail = {"hours": hours, "due_at": incident.due_at.isoformat()}
    elif action == "resume":
        parked = _last_event(session, incident.id, "park")
        if parked is not None and incident.due_at is not None:
            # The clock stood still while the case was parked (缓办).
            incident.due_at += now - parked.at
    elif action == "escalate":
        up = next_level(incident.level)
        detail = {"from_level": incident.level, "to_level": up, "reason": "handler"}
        incident.level, incident.escalated_at = up, now
        incident.due_at = calendar.due(now, category.time_limit, category.time_unit)
    elif action == "supervise":
        incident.supervised_at = now
    elif action == "verify":
        handled = _last_event(session, incident.id, "handle")
        if handled is not None and handled.actor_user_id == principal.user_id:
            raise TransitionRefused(
                403,
                "核查须由处置人以外的人进行 / the handler may not verify his own work",
                [a for a in allowed_actions(before, roles, incident.level) if a != "verify"],
            )
    elif action == "submit":
        incident.reported_at = now
        incident.due_at = calendar.due(now, category.time_limit, category.time_unit)
    elif action == "close":
        incident.closed_at = now
    elif action == "feedback":
        incident.satisfaction = _int_param(params, "satisfaction", 1, 5)
        detail = {"satisfaction": incident.satisfaction}

    if photos:
        detail["photos"] = [p.sha256 for p in photos]
    incident.status = target
    incident.version += 1
    actor_role = _acting_role(roles, t, incident.level)
    seq = _event(
        session, incident.id, before, target, now, principal, actor_role, note, action, detail
    )
    for p in photos:
        session.execute(
            text(
                "INSERT INTO incident_photo (incident_id, event_seq, sha256, mime, size_bytes)"
                " VALUES (:i, :s, :h, :m, :n) ON CONFLICT ON CONSTRAINT uq_incident_photo_sha256"
                " DO NOTHING"
            ),
            {"i": incident.id, "s": seq, "h": p.sha256, "m": p.mime, "n": p.size},
        )
    if action in MIRRORED and t.target is not None:
        _mirror(session, incident, before, target, now, principal, actor_role, note, action)
    audit.record(
        session,
        f"incident.{action}",
        actor_user_id=principal.user_id,
        actor_name=principal.username,
        object_type="incident",
        object_id=incident.id,
        detail={"from": before, "to": target, **{k: v for k, v in detail.items() if k != "photos"}},
        ip=ip,
    )
    session.flush()
    return {
        "id": incident.id,
        "code": incident.code,
        "status": incident.status,
        "level": incident.level,
        "due_at": incident.due_at.isoformat() if incident.due_at else None,
        "version": incident.version,
        "event": seq,
        "allowed": allowed_actions(incident.status, roles, incident.level),
    }


def _acting_role(roles: frozenset[str], t: Transition, level: str) -> str:
    """The role the action is taken in (the first fitting one, in a stable order)."""
    fitting = ESCALATORS.get(level, frozenset()) if t.action == "escalate" else t.roles
    return sorted(roles & fitting)[0] if roles & fitting else REPORTER


def _event(
    session, incident_id, before, after, now, principal, role, note, action, detail=None
) -> int:
    seq = _next_seq(session, incident_id)
    session.add(
        IncidentEvent(
            incident_id=incident_id,
            seq=seq,
            from_status=before,
            to_status=after,
            at=now,
            actor_user_id=principal.user_id,
            actor_role=role,
            note=note,
            action=action,
            detail=detail or None,
        )
    )
    session.flush()
    return seq


def _merge(session: Session, incident: Incident, params: dict, now: datetime) -> tuple[str, dict]:
    """Check the merge target against the duplicate candidates; return its status."""
    from layers.incidents.duplicates import candidates

    into = _int_param(params, "into", 1, 2**31 - 1)
    lon, lat = session.execute(
        text("SELECT ST_X(geom), ST_Y(geom) FROM incident WHERE id = :i"), {"i": incident.id}
    ).one()
    found = {
        c["id"]: c
        for c in candidates(session, incident.category_code, lon, lat, incident.reported_at)
        if c["id"] != incident.id
    }
    if into not in found:
        raise Invalid(
            "只能合并到50米、72小时内同类未结事件 / can only merge into an open report of the"
            " same category within 50 m and 72 h",
            "into",
        )
    incident.merged_into_id = into
    return found[into]["status"], {"into": into, "into_code": found[into]["code"]}


def _mirror(session, primary, before, after, now, principal, role, note, action) -> None:
    """Carry a status change of ``primary`` over to its merged duplicates."""
    children = session.scalars(
        select(Incident).where(Incident.merged_into_id == primary.id).with_for_update()
    ).all()
    for child in children:
        previous = child.status
        child.status = after
        child.version += 1
        if action == "close":
            child.closed_at = max(now, child.reported_at)
        _event(
            session, child.id, previous, after, now, principal, role, note or primary.code, action
        )


def photo_rows(session: Session, incident_id: int) -> list[IncidentPhoto]:
    """The photos of an incident, in upload order."""
    return list(
        session.scalars(
            select(IncidentPhoto)
            .where(IncidentPhoto.incident_id == incident_id)
            .order_by(IncidentPhoto.id)
        )
    )
