"""``inkwell ops``: the operator's commands, for a shell on the platform (``heroku run inkwell ops status``): the
ops report, and the shipped alert rules and dashboard.

Only ``app.cli`` imports this module: web workers never load click's or rich's terminal code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click
import msgspec
from rich.console import Console
from rich.table import Table
from rich.text import Text

from app.core.command_line import database_session
from app.core.settings import Settings, SettingsError, get_settings
from app.ops.assets import ALERT_RULES, DASHBOARD, read_asset
from app.ops.broker import BrokerProbe
from app.ops.schemas import BrokerReport, CleanupReport, JobReport, OutboxReport, QueuesReport, WorkersReport
from app.ops.service import OpsService, schedule_intervals

__all__ = ("ops", "problems", "render")

# part, status, details: one line of the table.
Row = tuple[str, str, str]
# The statuses that need no one's attention: on the embedded development broker some parts cannot be read at all.
HEALTHY = frozenset({"ok", "not_available"})
STATUS_STYLES = {"ok": "green", "not_available": "dim"}


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _broker_rows(broker: BrokerReport, _: datetime) -> list[Row]:
    if broker.queues is None or broker.unacked is None:
        return [("broker", broker.status, broker.detail or "")]
    rows: list[Row] = [("broker", broker.status, f"{broker.unacked} unacked")]
    rows += [(f"queue {queue}", "", f"{waiting} waiting") for queue, waiting in broker.queues.items()]
    return rows


def _workers_rows(workers: WorkersReport, _: datetime) -> list[Row]:
    return [("workers", workers.status, ", ".join(workers.online) or workers.detail or "")]


def _outbox_rows(outbox: OutboxReport, _: datetime) -> list[Row]:
    age = outbox.oldest_pending_age_seconds
    oldest = "" if age is None else f", the oldest for {_duration(age)}"
    return [("outbox", "", f"{outbox.pending} pending{oldest}; {outbox.sent} sent; {outbox.failed} failed")]


def _token_cleanup_rows(cleanup: CleanupReport | None, checked_at: datetime) -> list[Row]:
    if cleanup is None:
        return [("token cleanup", "", "never ran")]
    ago = _duration(max(0.0, (checked_at - cleanup.finished_at).total_seconds()))
    deleted = ", ".join(f"{count} {table}" for table, count in cleanup.deleted.items())
    return [("token cleanup", "", f"finished {ago} ago, deleted {deleted or 'nothing'}")]


def _generic_rows(name: str, section: Any) -> list[Row]:
    """A section without a renderer of its own: its status, and its other fields as ``name value``."""
    fields = msgspec.to_builtins(section)
    if not isinstance(fields, dict):
        return [(name, "", str(fields))]
    status = fields.pop("status", "")
    details = "; ".join(f"{key} {value}" for key, value in fields.items() if value is not None)
    return [(name, str(status), details)]


def _jobs_rows(jobs: dict[str, JobReport], _: datetime) -> list[Row]:
    rows: list[Row] = []
    for job, report in jobs.items():
        every = f"every {_duration(report.interval_seconds)}"
        if report.age_seconds is None:
            rows.append((f"job {job}", "", f"not yet run, {every}"))
        else:
            ran = f"ran {_duration(report.age_seconds)} ago"
            rows.append((f"job {job}", "stale" if report.stale else "ok", f"{ran}, {every}"))
    return rows


SECTIONS: dict[str, Callable[[Any, datetime], list[Row]]] = {
    "broker": _broker_rows,
    "workers": _workers_rows,
    "outbox": _outbox_rows,
    "token_cleanup": _token_cleanup_rows,
    "jobs": _jobs_rows,
}


def render(report: QueuesReport) -> Table:
    """The report as one table, a few rows per section, in the report's own order."""
    table = Table(title=f"Inkwell ops status at {report.checked_at:%Y-%m-%d %H:%M:%S %Z}", title_justify="left")
    for column in ("part", "status", "details"):
        table.add_column(column)
    for field in msgspec.structs.fields(report):
        section = getattr(report, field.name)
        if isinstance(section, datetime):
            continue
        renderer = SECTIONS.get(field.name)
        if renderer is None:
            rows = _generic_rows(field.name.replace("_", " "), section)
        else:
            rows = renderer(section, report.checked_at)
        for part, status, details in rows:
            table.add_row(part, Text(status, style=STATUS_STYLES.get(status, "bold red")), details)
    return table


def problems(value: object, path: str = "") -> list[str]:
    """Every part of the report, at any depth, whose ``status`` needs attention or that is ``stale``, as
    ``part: status``.
    """
    children: Any
    if isinstance(value, msgspec.Struct):
        status = "stale" if getattr(value, "stale", False) else getattr(value, "status", None)
        found = [f"{path}: {status}"] if status is not None and status not in HEALTHY else []
        children = ((field.name, getattr(value, field.name)) for field in msgspec.structs.fields(value))
    elif isinstance(value, dict):
        found, children = [], value.items()
    elif isinstance(value, list | tuple):
        found, children = [], enumerate(value)
    else:
        return []
    for key, child in children:
        found += problems(child, f"{path}.{key}" if path else str(key))
    return found


def read_report(settings: Settings) -> QueuesReport:
    """What ``GET /api/v1/ops/queues`` answers, read here (the broker parts bounded as they are for the API)."""
    with database_session(settings) as session:
        return OpsService(session, BrokerProbe(settings), schedule_intervals(settings)).report()


@click.group()
def ops() -> None:
    """Watch the queues, workers and outbox."""


@ops.command()
@click.option("--json", "as_json", is_flag=True, default=False, help="the report as JSON (as GET /api/v1/ops/queues)")
def status(*, as_json: bool) -> None:
    """The queues, workers, outbox and housekeeping. Exit status 1 when a part is down or unreadable."""
    try:
        report = read_report(get_settings())
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(report), indent=2))
    else:
        Console().print(render(report))
    found = problems(report)
    if found:
        click.echo(f"inkwell: needs attention: {', '.join(found)}", err=True)
    sys.exit(1 if found else 0)


@ops.command("alert-rules")
def alert_rules() -> None:
    """Print the Prometheus alert rules (`inkwell ops alert-rules > inkwell-rules.yml`, then list it in rule_files)."""
    click.echo(read_asset(ALERT_RULES), nl=False)


@ops.command()
def dashboard() -> None:
    """Print the Grafana dashboard JSON (`inkwell ops dashboard > inkwell.json`, then import it in Grafana)."""
    click.echo(read_asset(DASHBOARD), nl=False)
