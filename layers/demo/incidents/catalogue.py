"""The demo's incident vocabulary: statuses, actor roles, categories and their time limits."""

from __future__ import annotations

import numpy as np

#: The closed loop's status codes (one shared vocabulary with layers.incidents).
STATUSES: tuple[str, ...] = (
    "draft",
    "reported",
    "accepted",
    "rejected",
    "dispatched",
    "in_progress",
    "handled",
    "verified",
    "rework",
    "closed",
    "feedback_done",
    "parked",
)
ACTOR_ROLES: tuple[str, ...] = (
    "system",
    "resident",
    "lane_captain",
    "grid_worker",
    "village_cadre",
    "community_police",
    "town_admin",
)
CATEGORIES: dict[str, str] = {
    "01": "环境卫生",
    "02": "水电煤厕改",
    "03": "禁燃禁放",
    "04": "矛盾纠纷",
    "05": "安全隐患",
    "06": "治安",
    "07": "防汛",
    "08": "民生诉求",
}
_CODES = tuple(CATEGORIES)
#: Share of each category among ordinary incidents.
_SHARE = np.array([0.22, 0.13, 0.05, 0.15, 0.13, 0.10, 0.04, 0.18])
#: Time limits of the classes as the catalogue ships them (migration 0004): code ->
#: (limit, unit, handler level). :func:`layers.demo.load.load_demo` passes the
#: database's own catalogue instead, so that an edited catalogue shapes the demo too.
TIME_LIMITS: dict[str, tuple[int, str, str]] = {
    "01": (1, "day", "village"),
    "02": (3, "day", "village"),
    "03": (2, "hour", "village"),
    "04": (5, "day", "village"),
    "05": (1, "day", "village"),
    "06": (2, "hour", "village"),
    "07": (4, "hour", "village"),
    "08": (5, "day", "village"),
}
