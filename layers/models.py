"""Import every model so that ``Base.metadata`` is complete (Alembic, tests)."""

from layers.accounts.models import AuditEntry, UserAccount, UserGrant, UserSession
from layers.boundaries.models import Barrier, Grid, Lane, Street, Town, Village, Water
from layers.captains.models import CaptainArea, CaptainAreaMember, GriddingRun, RoleAssignment
from layers.db import Base
from layers.hotspots.models import HotspotCell, HotspotRun
from layers.households.models import Household, Person
from layers.incidents.models import Incident, IncidentCategory, IncidentEvent, IncidentStatus
from layers.patrol.models import PatrolRoute, PatrolTrack, PatrolWeekPlan

__all__ = [
    "AuditEntry",
    "Barrier",
    "Base",
    "CaptainArea",
    "CaptainAreaMember",
    "Grid",
    "GriddingRun",
    "HotspotCell",
    "HotspotRun",
    "Household",
    "Incident",
    "IncidentCategory",
    "IncidentEvent",
    "IncidentStatus",
    "Lane",
    "PatrolRoute",
    "PatrolTrack",
    "PatrolWeekPlan",
    "Person",
    "RoleAssignment",
    "Street",
    "Town",
    "UserAccount",
    "UserGrant",
    "UserSession",
    "Village",
    "Water",
]
