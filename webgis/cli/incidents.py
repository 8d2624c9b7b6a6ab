"""``wangge apikey`` and ``wangge incident``: the incident loop.

Open311 keys and the timeout sweep (issue 6).
"""

from __future__ import annotations

import click

from webgis.cli.root import _layers_call, _session, cli


@cli.group()
def apikey() -> None:
    """Open311 API keys."""


@apikey.command("create")
@click.argument("name")
@click.option("--area", help="Town, village or grid code whose full records the key may read.")
def apikey_create(name: str, area: str | None) -> None:
    """Create key NAME; the key is printed once, as the last line."""
    from layers.incidents.apikeys import create_api_key

    token = _layers_call(create_api_key, name, area)
    click.echo(f"created API key {name}" + (f" for area {area}" if area else ""))
    click.echo(token)


@cli.group()
def incident() -> None:
    """The incident loop."""


@incident.command("sweep")
def incident_sweep() -> None:
    """Escalate overdue cases one level (run it from a timer, e.g. every 10 minutes)."""
    from layers.incidents.sla import escalate_overdue, load_calendar, system_clock

    with _session() as s:
        ids = escalate_overdue(s, system_clock(), load_calendar(s))
        s.commit()
    click.echo(f"escalated {len(ids)}")
