"""``wangge hotspots``: hazard hotspots of the incidents."""

from __future__ import annotations

from datetime import datetime

import click

from webgis.cli.root import _echo_json, _layers_call, cli


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
