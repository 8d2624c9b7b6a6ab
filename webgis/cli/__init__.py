"""The ``wangge`` command: a Flask ``FlaskGroup`` with the project's own commands.

The root group and the helpers its commands share are in ``root``; each
command group is a module that registers it on the root group when imported:
``db`` (the embedded cluster and migrations), ``demo`` (the demo township),
``files`` (``import`` and ``export``), ``gridding`` (``grid``), ``hotspots``,
``patrol``, ``users`` (``user``) and ``incidents`` (``apikey`` and
``incident``). They are imported here in the order the commands were
registered in, so the console script ``webgis.cli:main`` sees them all.
"""

# The command groups register themselves on ``cli`` when imported; the order below is the
# order they were registered in before the split, so ``cli.commands`` keeps its order.
# isort: off
from webgis.cli.root import cli, main
from webgis.cli.db import app_login, db, downgrade, refresh, start, status, stop, upgrade
from webgis.cli.demo import demo, demo_load, demo_logins
from webgis.cli.files import export_file, import_file
from webgis.cli.gridding import grid, grid_run
from webgis.cli.hotspots import hotspots, hotspots_run
from webgis.cli.patrol import patrol, patrol_check, patrol_gpx, patrol_plan, patrol_week
from webgis.cli.users import AREA, ROLE, user, user_add, user_grant, user_list, user_revoke
from webgis.cli.incidents import apikey, apikey_create, incident, incident_sweep
# isort: on

__all__ = [
    "AREA",
    "ROLE",
    "apikey",
    "apikey_create",
    "app_login",
    "cli",
    "db",
    "demo",
    "demo_load",
    "demo_logins",
    "downgrade",
    "export_file",
    "grid",
    "grid_run",
    "hotspots",
    "hotspots_run",
    "import_file",
    "incident",
    "incident_sweep",
    "main",
    "patrol",
    "patrol_check",
    "patrol_gpx",
    "patrol_plan",
    "patrol_week",
    "refresh",
    "start",
    "status",
    "stop",
    "upgrade",
    "user",
    "user_add",
    "user_grant",
    "user_list",
    "user_revoke",
]
