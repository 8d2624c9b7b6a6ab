"""``wangge grid``: captain areas (包片联户) made by the gridding engine."""

from __future__ import annotations

import json

import click

from webgis.cli.root import _layers_call, cli


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
