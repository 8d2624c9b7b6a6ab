"""The root ``wangge`` group and what its command groups share.

The commands are registered on :data:`cli` by the modules of this package, on
import (see :mod:`webgis.cli`); the helpers here open a session on the app's
database and turn the refusals of a layers call into clean exits.
"""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import FlaskGroup
from sqlalchemy.orm import Session

from layers.db import make_engine
from webgis.app import create_app

cli = FlaskGroup(
    create_app=create_app, help="网格化管理平台 wangge — grid management for townships."
)


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


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


def main() -> None:
    cli(prog_name="wangge")
