"""``wangge demo``: the synthetic demo township."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime

import click

from webgis.cli.root import _session, cli


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
