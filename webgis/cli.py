"""The ``wangge`` command: a Flask ``FlaskGroup`` with the project's own commands."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup
from sqlalchemy.orm import Session

from layers.db import make_engine
from webgis.app import create_app
from webgis.settings import Settings, var_dir

cli = FlaskGroup(
    create_app=create_app, help="网格化管理平台 wangge — grid management for townships."
)


def _cluster():
    from webgis.pgcluster import Cluster

    return Cluster(var_dir() / "pg")


def _session() -> Session:
    return Session(make_engine(current_app.config["DATABASE_URL"]))


def _layers_call(fn, *args, **kwargs):
    """Run a layers function in a committed transaction; its refusals become clean exits."""
    from layers.accounts.passwords import PasswordPolicyError
    from layers.errors import Invalid, NotFound

    with _session() as s:
        try:
            result = fn(s, *args, **kwargs)
        except (Invalid, NotFound, PasswordPolicyError) as exc:
            raise click.ClickException(getattr(exc, "message", None) or str(exc)) from exc
        s.commit()
    return result


# -- database ------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """The database: the embedded cluster in var/pg (when DATABASE_URL is unset) and migrations."""


@db.command(with_appcontext=False)
def start() -> None:
    """Create (first time) and start the embedded cluster; print its URL."""
    click.echo(_cluster().ensure_running())


@db.command(with_appcontext=False)
def stop() -> None:
    """Stop the embedded cluster cleanly."""
    click.echo("stopped" if _cluster().stop() else "not running")


@db.command(with_appcontext=False)
def status() -> None:
    """Say whether the embedded cluster runs, and on which port."""
    port = _cluster().running_port()
    click.echo(f"running on 127.0.0.1:{port}" if port else "not running")
    sys.exit(0 if port else 3)


@db.command(with_appcontext=False)
def refresh() -> None:
    """Restart the embedded cluster if its Debian packages were upgraded under it."""
    if _cluster().restart_if_upgraded():
        click.echo("server packages changed: cluster restarted, extensions updated")


@db.command(with_appcontext=False)
def upgrade() -> None:
    """Migrate the database to the newest schema."""
    from layers import migrate

    migrate.upgrade(Settings.from_env().database_url)


@db.command(with_appcontext=False)
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (e.g. base)."""
    from layers import migrate

    migrate.downgrade(Settings.from_env().database_url, revision)


@db.command("app-login", with_appcontext=False)
def app_login() -> None:
    """Give the app's role (wangge_app) the login of WANGGE_APP_DATABASE_URL (external servers).

    The embedded cluster does this itself; on another server the migrations
    create the role without a login, and this sets it from the URL's password.
    """
    from sqlalchemy import make_url, text

    settings = Settings.from_env()
    url = make_url(settings.app_database_url)
    if not url.password:
        raise click.ClickException("WANGGE_APP_DATABASE_URL has no password")
    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        quoted = conn.execute(text("SELECT quote_literal(:p)"), {"p": url.password}).scalar_one()
        conn.execute(text(f'ALTER ROLE "{url.username}" LOGIN PASSWORD {quoted}'))
    engine.dispose()
    click.echo(f"{url.username} may log in")


# -- demo ----------------------------------------------------------------------------------


@cli.group()
def demo() -> None:
    """The synthetic demo township."""


@demo.command("load")
@click.option("--seed", default=20261101, show_default=True, help="Random seed.")
@click.option("--households", default=8000, show_default=True, help="Scale (300–500,000).")
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Last day of the two years of incidents [default: today].",
)
@click.option("--if-missing", is_flag=True, help="Do nothing when the demo town is there.")
@click.option("--replace", is_flag=True, help="Delete all territory data first.")
def demo_load(
    seed: int, households: int, as_of: datetime | None, if_missing: bool, replace: bool
) -> None:
    """Generate the demo township and load it (deterministic for a seed and date)."""
    from layers.demo.load import DemoLoadError, load_demo

    if not 300 <= households <= 500_000:
        raise click.BadParameter("must be between 300 and 500,000", param_hint="--households")
    started = time.perf_counter()
    with _session() as s:
        try:
            summary = load_demo(
                s,
                seed=seed,
                households=households,
                as_of=(as_of or datetime.now()).date(),
                if_missing=if_missing,
                replace=replace,
                progress=_progress,
            )
        except DemoLoadError as exc:
            raise click.ClickException(str(exc)) from exc
        s.commit()
    summary["seconds"] = round(time.perf_counter() - started, 1)
    click.echo(json.dumps(summary, ensure_ascii=False))


@demo.command("logins")
@click.option("--url", default="http://127.0.0.1:5000/", show_default=True)
def demo_logins(url: str) -> None:
    """Print where the app is served and the demo logins (one per role)."""
    from layers.accounts.queries import grants_table
    from layers.demo.load import DEMO_PASSWORD

    with _session() as s:
        rows = grants_table(s)
    click.echo(f"\n  网格化管理平台 wangge: {url}\n")
    click.echo(f"  {'用户名 user':<17}{'角色 role':<19}区域 area")
    for r in rows:
        click.echo(f"  {r.username:<17}{r.role:<19}{r.area_name} ({r.area_code})")
    click.echo(f"\n  密码 password (all demo users): {DEMO_PASSWORD}\n")


def _progress(steps: list[str]):
    """A click progress bar over named steps (stderr, so JSON on stdout stays clean)."""
    return click.progressbar(
        steps, label="载入演示乡镇", file=sys.stderr, item_show_func=lambda s: s or ""
    )


# -- files ---------------------------------------------------------------------------------


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.option(
    "--layer",
    required=True,
    type=click.Choice(["villages", "streets", "lanes", "grids", "households"]),
)
@click.option("--encoding", help="Text encoding of a Shapefile's DBF, e.g. GBK.")
@click.option("--crs", "source_crs", help="Override the file's CRS, e.g. EPSG:4326 or gcj02.")
def import_file(file: Path, layer: str, encoding: str | None, source_crs: str | None) -> None:
    """Import FILE (GeoJSON, GeoPackage, Shapefile, CSV with lon/lat) into LAYER."""
    from layers.transfer import TransferError, import_layer

    with _session() as s:
        try:
            report = import_layer(s, file, layer, encoding=encoding, source_crs=source_crs)
        except TransferError as exc:
            raise click.ClickException(str(exc)) from exc
        s.commit()
    click.echo(json.dumps(report, ensure_ascii=False))


@cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--layer",
    required=True,
    type=click.Choice(
        ["villages", "streets", "lanes", "grids", "households", "captain_areas", "incidents"]
    ),
)
def export_file(file: Path, layer: str) -> None:
    """Export LAYER to FILE; the format follows the extension (.gpkg .geojson .shp .csv)."""
    from layers.transfer import TransferError, export_layer

    with _session() as s:
        try:
            count = export_layer(s, file, layer)
        except TransferError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"layer": layer, "file": str(file), "features": count}))


# -- gridding ------------------------------------------------------------------------------


@cli.group()
def grid() -> None:
    """Captain areas (包片联户) made by the gridding engine."""


@grid.command("run")
@click.option("--village", "villages", multiple=True, help="Village code (repeatable).")
@click.option("--all", "all_villages", is_flag=True, help="Every village.")
@click.option("--min", "lo", default=15, show_default=True, help="Households per lane area, min.")
@click.option("--max", "hi", default=20, show_default=True, help="Households per lane area, max.")
@click.option("--street-min", default=6, show_default=True, help="Lane areas per street area.")
@click.option("--street-max", default=8, show_default=True)
@click.option("--seed", default=0, show_default=True)
def grid_run(villages, all_villages, lo, hi, street_min, street_max, seed) -> None:
    """Partition households into captain areas and store them (pinned areas are kept)."""
    from gridding import Bounds, Scheme
    from layers.captains.gridrun import run_gridding

    if bool(villages) == all_villages:
        raise click.UsageError("give --village CODE (one or more) or --all")
    try:
        scheme = Scheme(lane=Bounds(lo, hi), street=Bounds(street_min, street_max))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    result = _layers_call(run_gridding, list(villages) or None, scheme=scheme, seed=seed)
    infeasible = [r for r in result.village_reports if not r["feasible"]]
    click.echo(
        json.dumps(
            {
                "run_id": result.run_id,
                "villages": len(result.villages),
                **{
                    k: result.summary.get(k)
                    for k in (
                        "households",
                        "lane_areas",
                        "street_areas",
                        "party_groups",
                        "share_in_bounds",
                        "share_contiguous",
                        "mean_polsby_popper",
                        "barrier_share",
                        "changed_captain",
                        "seconds",
                    )
                },
                "infeasible": infeasible,
            },
            ensure_ascii=False,
            default=str,
        )
    )


# -- hotspots and patrol ------------------------------------------------------------------


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


@cli.group()
def hotspots() -> None:
    """Hazard hotspots of the incidents (Getis–Ord Gi* with false discovery rate control)."""


@hotspots.command("run")
@click.option("--category", help="Top-level category code, 01–08 (all when omitted).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First day [a year ago].")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day [today].")
@click.option("--cell", "cell_m", default=75.0, show_default=True, help="Cell size in metres.")
@click.option("--alpha", default=0.05, show_default=True, help="False discovery rate.")
def hotspots_run(category, since, until, cell_m, alpha) -> None:
    """Compute and store a hotspot run; print its figures and hotspots as JSON."""
    from datetime import timedelta

    from layers.hotspots.runs import run_hotspots

    until = (until or datetime.now()).date()
    since = since.date() if since else until - timedelta(days=365)
    _echo_json(
        _layers_call(
            run_hotspots, since=since, until=until, category=category, cell_m=cell_m, alpha=alpha
        )
    )


@cli.group()
def patrol() -> None:
    """Patrol routes and week plans: plan them, export them as GPX, check walked tracks."""


@patrol.command("plan")
@click.option("--area", required=True, help="Village code.")
@click.option("--mode", type=click.Choice(["cover", "budget"]), default="cover", show_default=True)
@click.option("--minutes", default=60.0, show_default=True, help="Time budget (budget mode).")
@click.option("--stop", "stop_min", default=12.0, show_default=True, help="Minutes per stop.")
@click.option("--seed", default=0, show_default=True, help="Varies the order (e.g. the day).")
@click.option("--lanes", help="Cover only these lane ids, comma-separated (others only connect).")
@click.option("--grid", help="Cover only the lanes inside this grid (code), from a point in it.")
def patrol_plan(area, mode, minutes, stop_min, seed, lanes, grid) -> None:
    """Plan and store a route for a village; print it as JSON.

    With --lanes or --grid (cover mode) the route walks just those lanes and
    uses the others only to get between them (rural postman).
    """
    from layers.patrol.service import plan_route

    lane_ids = None
    if lanes is not None:
        try:
            lane_ids = [int(x) for x in lanes.split(",") if x.strip()]
        except ValueError as exc:
            raise click.BadParameter(
                f"街巷编号应为逗号分隔的整数，收到 {lanes!r}"
                f" / lanes must be comma-separated integers, got {lanes!r}",
                param_hint="--lanes",
            ) from exc
    _echo_json(
        _layers_call(
            plan_route,
            area,
            mode=mode,
            minutes=minutes,
            stop_min=stop_min,
            seed=seed,
            lanes=lane_ids,
            grid=grid,
        )
    )


def _iso_date(_ctx, _param, value: str | None):
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"日期应为 YYYY-MM-DD，收到 {value!r} / the date must be YYYY-MM-DD, got {value!r}"
        ) from exc


@patrol.command("week")
@click.option("--area", required=True, help="Village code.")
@click.option(
    "--start", required=True, callback=_iso_date, help="First day of the week, YYYY-MM-DD."
)
@click.option("--minutes", default=60.0, show_default=True, help="Minutes per patrol (10–240).")
@click.option("--stop", "stop_min", default=12.0, show_default=True, help="Minutes per stop.")
@click.option("--seed", default=0, show_default=True, help="Varies routes and times per week.")
@click.option("--team", help="Patrol team name [the village's name + 巡逻队].")
def patrol_week(area, start, minutes, stop_min, seed, team) -> None:
    """Plan and store a week of twice-daily patrols (7 days × morning and afternoon); print it
    as JSON."""
    from layers.patrol.service import plan_week

    _echo_json(
        _layers_call(
            plan_week, area, start, minutes=minutes, stop_min=stop_min, seed=seed, team=team
        )
    )


@patrol.command("check")
@click.argument("route_id", type=int)
@click.argument("track", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def patrol_check(route_id: int, track: Path) -> None:
    """Check a walked GPX TRACK against route ROUTE_ID; print the check as JSON."""
    from layers.patrol.gpx import MAX_GPX_BYTES
    from layers.patrol.service import check_walk

    if track.stat().st_size > MAX_GPX_BYTES:
        raise click.ClickException("GPX 文件超过 10 MB / the GPX file is over 10 MB")
    _echo_json(_layers_call(check_walk, route_id, track.read_bytes()))


@patrol.command("gpx")
@click.argument("route_id", type=int)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def patrol_gpx(route_id: int, out: Path) -> None:
    """Write route ROUTE_ID as GPX to OUT (for phones)."""
    from layers.patrol.service import route_gpx

    out.write_text(_layers_call(route_gpx, route_id), encoding="utf-8")
    click.echo(str(out))


# -- users ---------------------------------------------------------------------------------


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


# -- the incident loop: Open311 keys and the timeout sweep (issue 6) ------------------------


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


def main() -> None:
    cli(prog_name="wangge")
