"""Patrol routes and tracks on the stored village data: plan, export as GPX, check a walk.

The algorithms live in the modules beside this one (postman, budget, weekplan,
gpx, compliance); this package reads a village's lanes and incidents from
PostGIS, runs them, and stores routes, week plans and walked tracks with their
check. Reading them back within a user's areas is in :mod:`layers.patrol.queries`.

Modules: ``village`` (the village, its lane network and the lanes assigned to a
route), ``hotspots`` (where a budget route stops), ``routes`` (:func:`plan_route`,
:func:`route_gpx`), ``walks`` (:func:`check_walk`), ``week_plans``
(:func:`plan_week` and its input check).
"""

from layers.patrol.service.hotspots import HOTSPOT_WINDOW_DAYS
from layers.patrol.service.routes import plan_route, route_gpx
from layers.patrol.service.village import village_network
from layers.patrol.service.walks import check_walk
from layers.patrol.service.week_plans import (
    LOCAL,
    STOP_MINUTES,
    WEEK_MINUTES,
    check_week_input,
    plan_week,
)

__all__ = [
    "HOTSPOT_WINDOW_DAYS",
    "LOCAL",
    "STOP_MINUTES",
    "WEEK_MINUTES",
    "check_walk",
    "check_week_input",
    "plan_route",
    "plan_week",
    "route_gpx",
    "village_network",
]
