"""Paths through the closed loop, how often each is planned, and how fast it is walked.

The status sequences (with rejections, rework loops and parked cases), the
share of working time spent before each step, the pace against the time limit,
and the timeout sweep's period, as :mod:`layers.demo.incidents.histories` uses them.
"""

from __future__ import annotations

import numpy as np

from layers.demo.incidents.catalogue import STATUSES

# Paths through the loop, as status sequences, and how often each is planned.
_S = {s: i for i, s in enumerate(STATUSES)}
_FULL = (
    "reported",
    "accepted",
    "dispatched",
    "in_progress",
    "handled",
    "verified",
    "closed",
    "feedback_done",
)
_LOOP = ("handled", "rework", "in_progress")
_TEMPLATES: tuple[tuple[str, ...], ...] = (
    _FULL,
    ("draft", *_FULL),
    _FULL[:-1],
    (*_FULL[:5], *_LOOP[1:], *_FULL[4:]),
    (*_FULL[:5], *_LOOP[1:], *_LOOP, *_FULL[4:]),
    ("reported", "rejected"),
    ("reported", "accepted", "dispatched", "parked"),
    ("reported", "accepted", "dispatched", "in_progress", "parked"),
    ("reported", "accepted", "dispatched", "parked", "in_progress", *_FULL[4:]),
)
_TEMPLATE_P = np.array([0.63, 0.08, 0.09, 0.07, 0.015, 0.05, 0.02, 0.015, 0.03])
_REWORK_T = {3, 4}
#: Share of the working time from report to closure spent before entering each status
#: (relative weights, noised per case); a rejection comes after this share of the limit.
_STEP_WEIGHT = {
    "accepted": 0.10,
    "rejected": 0.15,
    "dispatched": 0.08,
    "in_progress": 0.10,
    "parked": 0.20,
    "handled": 0.40,
    "rework": 0.06,
    "verified": 0.12,
    "closed": 0.08,
}
#: Pace: median share of the time limit a case takes from report to closure, per
#: template. With the spread below about 7 % of straight cases run late, a third of
#: those reworked once and more than half of those reworked twice.
_PACE = np.array([0.45, 0.45, 0.45, 0.8, 1.1, 0.45, 0.45, 0.45, 0.5])
_PACE_SIGMA = 0.55
#: Median calendar days a parked case waits before it is resumed.
_PARKED_DAYS = 20.0
#: Median hours from closure to the reporter's rating.
_FEEDBACK_H = 110.0
#: Urgent classes (limits in hours): the duty officer often acts at once, even at night.
_AT_ONCE_P = 0.6
#: The timeout sweep (``wangge incident sweep``) runs every hour on the hour.
_SWEEP_S = 3600
_RUNNING = frozenset({"reported", "accepted", "dispatched", "in_progress", "rework"})
_ACTIONS = {
    "accepted": "accept",
    "rejected": "reject",
    "dispatched": "dispatch",
    "parked": "park",
    "handled": "handle",
    "verified": "verify",
    "rework": "rework",
    "closed": "close",
    "feedback_done": "feedback",
}
_ESCALATION_NOTE = "超时自动升级 / escalated on timeout"
