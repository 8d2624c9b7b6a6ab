"""Two years of synthetic incidents and their closed-loop status histories.

Counts follow the source town (about 2,000 a year for 8,000 households), with
seasons where they belong: fireworks around the Spring Festival, flood in
June–September near the river, heating and gas problems in winter, disputes
around the festival and the harvests. Four planted hotspots per town give the
hotspot analysis something true to find.

Every history is planned in full (reported → … → feedback_done, with rejections,
rework loops and parked cases) and then cut at the as-of time, so recent cases
stop at whatever stage they would have reached: open cases come out right
without a separate model. The plan is timed against each class's time limit in
working time (the SLA code of :mod:`layers.incidents.sla`): most cases close
within it, reworked ones run late more often, parked ones stop the clock, and a
case still running past its due time is escalated by the hourly timeout sweep,
as the live system does. Due times, handler levels and escalations are stored as
the live system stores them, so the dashboard's on-time rate means the same on
the demo as on real reports.

Modules: ``catalogue`` (statuses, roles, categories, time limits), ``loop``
(paths through the closed loop and their pacing), ``actors`` (who reports,
who acts, what they note), ``placement`` (where and when reports happen),
``histories`` (planned histories cut at the as-of time, with the timeout
sweep), ``generator`` (:func:`make_incidents`, the assembly).
"""

from layers.demo.incidents.catalogue import ACTOR_ROLES, CATEGORIES, STATUSES, TIME_LIMITS
from layers.demo.incidents.generator import (
    HOTSPOT_EXCESS,
    RATE_PER_HOUSEHOLD_YEAR,
    Hotspot,
    IncidentTables,
    make_incidents,
)

__all__ = [
    "ACTOR_ROLES",
    "CATEGORIES",
    "HOTSPOT_EXCESS",
    "RATE_PER_HOUSEHOLD_YEAR",
    "STATUSES",
    "TIME_LIMITS",
    "Hotspot",
    "IncidentTables",
    "make_incidents",
]
