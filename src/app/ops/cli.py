"""``inkwell ops``: commands for operators, runnable where only the app's environment is (``heroku run``)."""

from __future__ import annotations

import click

from app.ops.assets import ALERT_RULES, DASHBOARD, read_asset

__all__ = ("ops",)


@click.group()
def ops() -> None:
    """Commands for operators; each works over `heroku run` (or `dokku run`)."""


@ops.command("alert-rules")
def alert_rules() -> None:
    """Print the Prometheus alert rules (`inkwell ops alert-rules > inkwell-rules.yml`, then list it in rule_files)."""
    click.echo(read_asset(ALERT_RULES), nl=False)


@ops.command()
def dashboard() -> None:
    """Print the Grafana dashboard JSON (`inkwell ops dashboard > inkwell.json`, then import it in Grafana)."""
    click.echo(read_asset(DASHBOARD), nl=False)
