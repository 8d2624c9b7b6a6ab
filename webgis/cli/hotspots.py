"""``wangge hotspots``: hazard hotspots of the incidents."""

from __future__ import annotations

from datetime import datetime

import click

from webgis.cli.root import _echo_json, _layers_call, cli


@cli.group()
def hotspots() -> None:
    """Hazard hotspots of the incidents (Getis–Ord Gi* with false discovery rate control)."""


@hotspots.command("run")
@click.option(
    "--method",
    type=click.Choice(["gistar", "emerging"]),
    default="gistar",
    show_default=True,
    help="gistar: hot and cold spots of the period; emerging: their trend over time steps.",
)
@click.option("--category", help="Top-level category code, 01–08 (all when omitted).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First day [a year ago].")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day [today].")
@click.option("--cell", "cell_m", default=75.0, show_default=True, help="Cell size in metres.")
@click.option("--alpha", default=0.05, show_default=True, help="False discovery rate, in (0, 1).")
@click.option(
    "--step",
    type=click.Choice(["week", "month", "quarter"]),
    default="month",
    show_default=True,
    help="Time step of an emerging run (quarter suits a few thousand incidents a year).",
)
def hotspots_run(method, category, since, until, cell_m, alpha, step) -> None:
    """Compute and store a hotspot run; print its figures as JSON."""
    from datetime import timedelta

    until = (until or datetime.now()).date()
    since = since.date() if since else until - timedelta(days=365)
    args = {"since": since, "until": until, "category": category, "cell_m": cell_m, "alpha": alpha}
    if method == "emerging":
        from layers.hotspots.trends import run_emerging

        _echo_json(_layers_call(run_emerging, step=step, **args))
    else:
        from layers.hotspots.runs import run_hotspots

        _echo_json(_layers_call(run_hotspots, **args))
