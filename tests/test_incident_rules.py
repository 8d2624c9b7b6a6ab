"""Pure rules of the loop: working-time arithmetic and the role table; duplicates merged."""

# ruff: noqa: F811  (the loop tests' fixtures are imported by name and requested as arguments)
from __future__ import annotations

from datetime import date, datetime

import pytest

from layers.incidents.sla import BEIJING, WorkCalendar, is_overdue
from layers.incidents.workflow import (
    REPORTER,
    TRANSITIONS,
    TransitionRefused,
    allowed_actions,
    guard,
)
from tests.test_incident_loop import act, clock, places, report  # noqa: F401 (fixtures)


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


def test_working_hours_skip_lunch_nights_and_weekends():
    cal = WorkCalendar()
    assert cal.add(bj(2026, 11, 2, 9, 0), 4 * 60) == bj(2026, 11, 2, 15, 0)
    # Friday 16:30 + 2 h: one hour on Friday, one on Monday morning.
    assert cal.add(bj(2026, 11, 6, 16, 30), 120) == bj(2026, 11, 9, 9, 30)
    # Reported on Saturday night: the clock starts on Monday 08:30.
    assert cal.add(bj(2026, 11, 7, 22, 0), 60) == bj(2026, 11, 9, 9, 30)
    assert cal.due(bj(2026, 11, 2, 8, 30), 1, "day") == bj(2026, 11, 2, 17, 30)
    assert cal.between(bj(2026, 11, 6, 16, 30), bj(2026, 11, 9, 9, 30)) == 120


def test_holidays_and_swapped_workdays_count():
    cal = WorkCalendar(
        holidays=frozenset({date(2026, 11, 9)}), workdays=frozenset({date(2026, 11, 8)})
    )
    # Friday 17:00 + 1 h: half an hour on Friday, then Sunday (a swapped workday) 08:30.
    assert cal.add(bj(2026, 11, 6, 17, 0), 60) == bj(2026, 11, 8, 9, 0)
    # Sunday evening + 1 h: Monday is a holiday, so Tuesday.
    assert cal.add(bj(2026, 11, 8, 20, 0), 60) == bj(2026, 11, 10, 9, 30)


def test_a_calendar_without_workdays_fails_loudly():
    cal = WorkCalendar(periods=())
    with pytest.raises(ValueError, match="no working time"):
        cal.add(bj(2026, 11, 2, 9, 0), 60)


def test_parked_and_handled_cases_are_not_overdue():
    now, past = bj(2026, 11, 3, 9, 0), bj(2026, 11, 2, 9, 0)
    assert is_overdue(past, "in_progress", now)
    assert not is_overdue(past, "parked", now)
    assert not is_overdue(past, "handled", now)
    assert not is_overdue(None, "reported", now)


ROLES = (
    "town_admin",
    "grid_officer",
    "community_police",
    "village_cadre",
    "grid_worker",
    "street_captain",
    "lane_captain",
    "patrol_member",
    "resident",
    REPORTER,
)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_every_action_is_allowed_or_refused_per_role(role, action):
    t = TRANSITIONS[action]
    status = sorted(t.sources)[0]
    roles = frozenset({role})
    if action == "escalate":
        expected = role in {
            "town_admin",
            "grid_officer",
            "community_police",
            "village_cadre",
            "grid_worker",
            "street_captain",
            "lane_captain",
        }
    else:
        expected = role in t.roles
    if expected:
        assert guard(status, action, roles).action == action
        assert action in allowed_actions(status, roles)
    else:
        with pytest.raises(TransitionRefused) as refused:
            guard(status, action, roles)
        assert refused.value.status == 403
        assert action not in refused.value.allowed
    # From a status it does not leave, the action is a conflict for everybody.
    other = next(s for s in ("draft", "closed", "feedback_done", "rejected") if s not in t.sources)
    with pytest.raises(TransitionRefused) as conflict:
        guard(other, action, roles)
    assert conflict.value.status == 409


def test_residents_and_patrols_only_file_submit_merge_and_rate():
    for role in ("resident", "patrol_member"):
        for status in ("reported", "accepted", "in_progress", "handled", "closed"):
            assert allowed_actions(status, frozenset({role})) == []
    assert allowed_actions("closed", frozenset({REPORTER})) == ["feedback"]


def test_a_duplicate_is_offered_merged_and_shares_the_loop(signed_in, places, clock):
    resident, patrol = signed_in("resident"), signed_in("patrol")
    worker, cadre = signed_in("worker_a"), signed_in("cadre_a")
    first = report(resident, places["a"]).get_json()
    near = (places["a"][0] + 0.0001, places["a"][1])  # about 9 m east
    second = report(patrol, near, description="同一堆垃圾").get_json()
    assert [d["id"] for d in second["duplicates"]] == [first["id"]]
    # Another category, or 100 m away, is no duplicate.
    other = report(patrol, near, category="0102").get_json()
    assert other["duplicates"] == []
    assert act(patrol, second["id"], "merge", into=other["id"]).status_code == 400
    merged = act(patrol, second["id"], "merge", into=first["id"])
    assert merged.status_code == 200, merged.get_json()
    for client, action in (
        (worker, "accept"),
        (cadre, "dispatch"),
        (worker, "start"),
        (worker, "handle"),
        (cadre, "verify"),
        (cadre, "close"),
    ):
        clock.advance(minutes=20)
        assert act(client, first["id"], action).status_code == 200
    mine = patrol.get(f"/api/incidents/mine/{second['id']}").get_json()
    assert mine["status"] == "closed"
    assert mine["merged"]
    assert mine["may_rate"]
    assert [h["action"] for h in mine["history"]][-2:] == ["verify", "close"]
    assert (
        act(patrol, second["id"], "feedback", satisfaction=3).get_json()["status"]
        == "feedback_done"
    )
    assert (
        act(resident, first["id"], "feedback", satisfaction=5).get_json()["status"]
        == "feedback_done"
    )
    clock.advance(hours=80)
    late = report(resident, places["a"]).get_json()
    assert late["duplicates"] == []
