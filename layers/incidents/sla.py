"""Time limits counted in working time, overdue cases and escalation on timeout.

A category's limit (处置时限) is given in working hours or working days; a
working day is the office day of a township government, 08:30–12:00 and
14:00–17:30 Beijing time (7 hours), Monday to Friday, minus the holidays and
plus the swapped working weekends (调休) kept in the ``work_day`` table.

Nothing here reads the wall clock: callers pass ``now`` (the web app takes it
from an injectable clock, tests from a :class:`ManualClock`), so that escalation
on timeout is tested by moving a clock, not by sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from layers.accounts import audit
from layers.incidents.models import LEVELS, WorkDay

#: China keeps one offset all year (no daylight saving), so a fixed zone is exact.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

#: Statuses in which the handling clock runs; parked (缓办) and handled cases wait on others.
RUNNING = ("reported", "accepted", "dispatched", "in_progress", "rework")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current time (UTC, aware)."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move forward by ``timedelta(**delta)`` and return the new time."""
        self.now += timedelta(**delta)
        return self.now


@dataclass(frozen=True)
class WorkCalendar:
    """Working periods of a day and the exceptions to the Monday–Friday week."""

    periods: tuple[tuple[time, time], ...] = (
        (time(8, 30), time(12, 0)),
        (time(14, 0), time(17, 30)),
    )
    holidays: frozenset[date] = field(default_factory=frozenset)
    #: Weekend days that are working days (调休).
    workdays: frozenset[date] = field(default_factory=frozenset)

    @property
    def minutes_per_day(self) -> float:
        return sum(_minutes(a, b) for a, b in self.periods)

    def is_workday(self, day: date) -> bool:
        return day in self.workdays or (day.weekday() < 5 and day not in self.holidays)

    def _windows(self, start: datetime):
        """Working windows (local, aware) from ``start`` on, the first one clipped."""
        local = start.astimezone(BEIJING)
        day = local.date()
        for _ in range(3700):  # ten years: a calendar without workdays must not loop forever
            if self.is_workday(day):
                for a, b in self.periods:
                    lo = datetime.combine(day, a, BEIJING)
                    hi = datetime.combine(day, b, BEIJING)
                    if hi > local:
                        yield max(lo, local), hi
            day += timedelta(days=1)

    def add(self, start: datetime, minutes: float) -> datetime:
        """The moment ``minutes`` of working time after ``start`` (aware, UTC)."""
        left = timedelta(minutes=minutes)
        if left <= timedelta(0):
            return start.astimezone(UTC)
        for lo, hi in self._windows(start):
            if hi - lo >= left:
                return (lo + left).astimezone(UTC)
            left -= hi - lo
        raise ValueError("the calendar has no working time in the next ten years")

    def between(self, start: datetime, end: datetime) -> float:
        """Working minutes from ``start`` to ``end`` (0 when end is not later)."""
        total = timedelta(0)
        if end <= start:
            return 0.0
        for lo, hi in self._windows(start):
            if lo >= end:
                break
            total += min(hi, end) - lo
        return total.total_seconds() / 60

    def due(self, start: datetime, limit: int, unit: str) -> datetime:
        """The due time of a case opened at ``start`` with a limit of ``limit`` ``unit``.

        Parameters
        ----------
        start : datetime
            When the clock starts (aware).
        limit : int
            The category's time limit.
        unit : {"hour", "day"}
            Working hours or working days (a working day is :attr:`minutes_per_day`).
        """
        if unit == "hour":
            return self.add(start, limit * 60)
        if unit == "day":
            return self.add(start, limit * self.minutes_per_day)
        raise ValueError(f"unknown time unit {unit!r}")

    def timeline(self, start: datetime, end: datetime) -> WorkTimeline:
        """The working windows from ``start`` to ``end``, for arithmetic on many instants.

        Built from the same windows as :meth:`add` and :meth:`between`, so that
        :meth:`WorkTimeline.add` agrees with :meth:`add` to the second on the span
        (the demo generator dates thousands of steps at once with it).

        Parameters
        ----------
        start, end : datetime
            The span (aware); instants outside it are clipped to it.
        """
        lo_hi = []
        for lo, hi in self._windows(start):
            if lo >= end:
                break
            lo_hi.append((lo.timestamp(), hi.timestamp()))
        if not lo_hi:
            raise ValueError("the calendar has no working time in the span")
        bounds = np.asarray(lo_hi, dtype=np.int64)
        return WorkTimeline(bounds[:, 0], bounds[:, 1], np.cumsum(bounds[:, 1] - bounds[:, 0]))


@dataclass(frozen=True, eq=False)
class WorkTimeline:
    """Working windows over a span as arrays: working time for many instants at once.

    Instants are integer UTC epoch seconds (numpy arrays or scalars); made by
    :meth:`WorkCalendar.timeline`.
    """

    starts: np.ndarray
    ends: np.ndarray
    #: Working seconds from the first window's start to each window's end.
    cum_end: np.ndarray

    def position(self, t) -> np.ndarray:
        """Working seconds from the span's start up to each instant ``t``."""
        t = np.asarray(t, dtype=np.int64)
        j = np.searchsorted(self.starts, t, side="right") - 1
        jj = np.maximum(j, 0)
        length = self.ends[jj] - self.starts[jj]
        before = self.cum_end[jj] - length
        return np.where(j < 0, 0, before + np.minimum(t - self.starts[jj], length))

    def at(self, position) -> np.ndarray:
        """The earliest instant at which ``position`` working seconds have passed.

        A position on a window's end gives that end (as :meth:`WorkCalendar.add`
        does); positions past the span give its last instant.
        """
        p = np.asarray(position, dtype=np.int64)
        j = np.minimum(np.searchsorted(self.cum_end, p, side="left"), len(self.cum_end) - 1)
        return np.minimum(self.ends[j] - (self.cum_end[j] - p), self.ends[-1])

    def add(self, t, minutes) -> np.ndarray:
        """``t`` plus ``minutes`` of working time, element-wise (as :meth:`WorkCalendar.add`)."""
        t = np.asarray(t, dtype=np.int64)
        seconds = np.round(np.asarray(minutes, dtype=float) * 60).astype(np.int64)
        return np.where(seconds > 0, self.at(self.position(t) + seconds), t)

    def between(self, a, b) -> np.ndarray:
        """Working minutes from ``a`` to ``b`` (0 when ``b`` is not later)."""
        return np.maximum(self.position(b) - self.position(a), 0) / 60


def _minutes(a: time, b: time) -> float:
    return (b.hour * 60 + b.minute) - (a.hour * 60 + a.minute)


def load_calendar(session: Session) -> WorkCalendar:
    """The working calendar with the exceptions kept in ``work_day``."""
    rows = session.execute(select(WorkDay.day, WorkDay.is_workday)).all()
    return WorkCalendar(
        holidays=frozenset(d for d, work in rows if not work),
        workdays=frozenset(d for d, work in rows if work),
    )


def next_level(level: str) -> str | None:
    """The level above ``level`` (lane → village → town → county), or None at the top."""
    i = LEVELS.index(level)
    return LEVELS[i + 1] if i + 1 < len(LEVELS) else None


def escalate_overdue(session: Session, now: datetime, calendar: WorkCalendar) -> list[int]:
    """Move every overdue running case one level up, with a fresh time limit there.

    The reason ``timeout`` is kept in the history (an ``escalate`` event without
    a human actor) and in the audit log. A case already at county level stays
    overdue and flagged. Merged duplicates follow their primary and are skipped.

    Returns
    -------
    list of int
        The ids of the escalated incidents.
    """
    rows = session.execute(
        text(
            """
            SELECT i.id, i.status, i.level, c.time_limit, c.time_unit
            FROM incident i JOIN incident_category c ON c.code = i.category_code
            WHERE i.status = ANY(:running) AND i.due_at < :now AND i.level <> 'county'
              AND i.merged_into_id IS NULL
            ORDER BY i.id
            FOR UPDATE OF i
            """
        ),
        {"running": list(RUNNING), "now": now},
    ).all()
    done = []
    for r in rows:
        up = next_level(r.level)
        due = calendar.due(now, r.time_limit, r.time_unit)
        session.execute(
            text(
                "UPDATE incident SET level = :up, escalated_at = :now, due_at = :due,"
                " version = version + 1 WHERE id = :id"
            ),
            {"up": up, "now": now, "due": due, "id": r.id},
        )
        session.execute(
            text(
                """
                INSERT INTO incident_event
                    (incident_id, seq, from_status, to_status, at, actor_role, note, action, detail)
                SELECT :id, coalesce(max(seq), 0) + 1, :s, :s, :now, 'system',
                       '超时自动升级 / escalated on timeout', 'escalate', CAST(:d AS jsonb)
                FROM incident_event WHERE incident_id = :id
                """
            ),
            {
                "id": r.id,
                "s": r.status,
                "now": now,
                "d": f'{{"from_level": "{r.level}", "to_level": "{up}", "reason": "timeout"}}',
            },
        )
        audit.record(
            session,
            "incident.escalate",
            actor_name="system",
            object_type="incident",
            object_id=r.id,
            detail={"from_level": r.level, "to_level": up, "reason": "timeout"},
        )
        done.append(r.id)
    return done


def is_overdue(due_at: datetime | None, status: str, now: datetime) -> bool:
    """Whether a running case (not parked, not awaiting verification) has passed its due time."""
    return bool(status in RUNNING and due_at is not None and due_at < now)
