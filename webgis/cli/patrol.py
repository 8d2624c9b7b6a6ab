"""``wangge patrol``: patrol routes and week plans (plan, GPX, walked-track checks)."""

from __future__ import annotations

from pathlib import Path

import click

from webgis.cli.root import _echo_json, _layers_call, cli


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
