"""``wangge user``: accounts and their role grants on areas."""

from __future__ import annotations

import click

from webgis.cli.root import _layers_call, _session, cli


@cli.group()
def user() -> None:
    """Accounts and their role grants on areas (town, village, grid, captain area codes)."""


ROLE = click.option("--role", required=True, help="town_admin, grid_officer, community_police, …")
AREA = click.option("--area", required=True, help="Area code: town, village, grid or captain area.")


@user.command("add")
@click.argument("name")
@ROLE
@AREA
@click.option("--display-name", help="Name shown in the app.")
@click.password_option(help="Asked for when not given (typed twice).")
def user_add(name: str, role: str, area: str, display_name: str | None, password: str) -> None:
    """Create user NAME with ROLE on AREA."""
    from layers.accounts.admin import add_user

    _layers_call(add_user, name, password, role=role, area=area, display_name=display_name)
    click.echo(f"added {name}: {role} @ {area}")


@user.command("grant")
@click.argument("name")
@ROLE
@AREA
def user_grant(name: str, role: str, area: str) -> None:
    """Give user NAME another ROLE on AREA (ends the user's sessions)."""
    from layers.accounts.admin import grant

    _layers_call(grant, name, role=role, area=area)
    click.echo(f"granted {name}: {role} @ {area}")


@user.command("revoke")
@click.argument("name")
@ROLE
@AREA
def user_revoke(name: str, role: str, area: str) -> None:
    """Take ROLE on AREA from user NAME (ends the user's sessions)."""
    from layers.accounts.admin import revoke

    _layers_call(revoke, name, role=role, area=area)
    click.echo(f"revoked {name}: {role} @ {area}")


@user.command("list")
def user_list() -> None:
    """Every active user with its grants."""
    from layers.accounts.queries import grants_table

    with _session() as s:
        for r in grants_table(s):
            click.echo(f"{r.username:<17}{r.role:<19}{r.area_code:<20}{r.area_name}")
