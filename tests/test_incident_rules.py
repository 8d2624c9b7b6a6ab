"""Pure rules of the loop: working-time arithmetic and the role table; duplicates merged."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from layers.incidents.sla import BEIJING, WorkCalendar, is_overdue
from layers.incidents.workflow import (
    REPORTER,
    TRANSITIONS,
    TransitionRefused,
    allowed_actions,
    guard,
)


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


def test_a_timeline_agrees_with_the_calendar_to_the_second():
    cal = WorkCalendar(
        holidays=frozenset({date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 5)}),
        workdays=frozenset({date(2026, 9, 27), date(2026, 10, 10)}),
    )
    span = (bj(2026, 9, 1, 0, 0), bj(2027, 3, 1, 0, 0))
    line = cal.timeline(*span)
    rng = np.random.default_rng(5)
    lo, hi = int(bj(2026, 9, 2, 0, 0).timestamp()), int(bj(2026, 12, 31, 0, 0).timestamp())
    # Random instants, plus ones on window edges, at lunch, at night and on holidays.
    edges = [bj(2026, 9, 30, 17, 30), bj(2026, 10, 1, 10, 0), bj(2026, 10, 9, 12, 0),
             bj(2026, 10, 10, 8, 30), bj(2026, 11, 2, 12, 30), bj(2026, 11, 7, 23, 59)]  # fmt: skip
    starts = np.r_[rng.integers(lo, hi, 400), [int(e.timestamp()) for e in edges]]
    minutes = np.r_[rng.integers(0, 6 * 420, 400), [0, 1, 210, 420, 30, 2100]]
    got = line.add(starts, minutes)
    for t, m, g in zip(starts, minutes, got, strict=True):
        expected = cal.add(datetime.fromtimestamp(int(t), UTC), int(m))
        assert int(expected.timestamp()) == g
    ends = starts + rng.integers(0, 12 * 86400, len(starts))
    spans = line.between(starts, ends)
    for a, b, w in zip(starts, ends, spans, strict=True):
        ta, tb = (datetime.fromtimestamp(int(v), UTC) for v in (a, b))
        assert cal.between(ta, tb) == pytest.approx(w, abs=1e-9)


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


def test_a_burst_of_reports_of_one_event_offers_the_five_nearest(signed_in, places, clock, report):
    """Many people report one flood: each new report is offered the five nearest open ones."""
    resident = signed_in("resident")
    lon, lat = places["a"]
    # East of the point, 0-35 m away in steps of ~4.4 m, filed farthest first.
    ids = {}
    for k in reversed(range(9)):
        ids[k] = report(resident, (lon + k * 0.00005, lat), category="0701").get_json()["id"]
        clock.advance(minutes=1)
    newest = report(resident, (lon - 0.00001, lat), category="0701").get_json()
    offered = newest["duplicates"]
    assert [d["id"] for d in offered] == [ids[k] for k in range(5)]
    distances = [d["distance_m"] for d in offered]
    assert distances == sorted(distances)
    assert distances[0] < 1.5 < distances[1]


def test_a_duplicate_is_offered_merged_and_shares_the_loop(signed_in, places, clock, report, act):
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
