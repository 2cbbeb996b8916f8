"""``inkwell emails failed`` and ``inkwell emails retry``: failed emails seen and sent again from a terminal
(``heroku run inkwell emails failed``), through the same service as ``/api/v1/ops/emails``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from uuid import UUID

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

import app.models  # noqa: F401  (maps every table, so the flush resolves foreign keys such as email_outbox.user_id)
from app.core.command_line import database_session
from app.core.errors import ConflictError, NotFoundError
from app.core.pagination import PageRequest
from app.core.settings import get_settings
from app.core.startup import build_or_exit
from app.core.task_metrics import TaskMetricsRecorder, count_published_tasks
from app.core.task_queue import CeleryTaskQueue
from app.emails.models import EmailStatus
from app.emails.schemas import to_outbox_email
from app.emails.service import OutboxService

__all__ = ("emails",)

ID_WIDTH = 36  # a UUID's canonical form


def _parse_since(_: click.Context, __: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or time, e.g. 2026-11-30T12:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


since_option = click.option(
    "--since",
    callback=_parse_since,
    metavar="ISO",
    help="only emails that failed at or after this time (ISO 8601; UTC unless it has an offset)",
)


@contextmanager
def _outbox() -> Iterator[OutboxService]:
    """The outbox service on the configured database, publishing to the configured broker after each commit."""
    settings = build_or_exit(get_settings)
    # Stamped and counted like the web's publishes, so the queue wait and the sent counters include retries.
    task_metrics = TaskMetricsRecorder.from_settings(settings)
    count_published_tasks(task_metrics)
    try:
        with database_session(settings) as session:
            yield OutboxService(session, settings, CeleryTaskQueue(settings))
    finally:
        task_metrics.close()


def _when(moment: datetime) -> str:
    """Date over time, in UTC: ten columns wide."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d\n%H:%M:%SZ")


@click.group()
def emails() -> None:
    """See failed emails and put them back in the queue."""


@emails.command()
@since_option
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="newest rows shown")
def failed(since: datetime | None, limit: int) -> None:
    """List failed emails, newest first, recipients masked."""
    with _outbox() as outbox:
        page = outbox.list_page(PageRequest(page=1, size=limit), EmailStatus.FAILED, updated_since=since)
        rows = [to_outbox_email(row) for row in page.items]
    if not rows:
        click.echo("no failed emails")
        return
    # Fits an 80-column terminal: what identifies an email is stacked in two columns, the error under the id it
    # belongs to (wrapped at the id's width; the id itself never wraps, it is copied into `inkwell emails retry`).
    # Status and sent_at are the same for every row here; created_at is in the API.
    table = Table(title=f"{len(rows)} of {page.total} failed emails, newest first", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id / last error", min_width=ID_WIDTH, max_width=ID_WIDTH, overflow="fold")
    table.add_column("email", no_wrap=True)
    table.add_column("attempts", justify="right")
    table.add_column("failed at")
    for row in rows:
        identity = Text(str(row.id))
        if row.last_error:
            identity.append(f"\n{row.last_error}", style="dim")
        table.add_row(
            identity, f"{row.template}\n{row.recipient}", str(row.attempts), _when(row.updated_at), end_section=True
        )
    Console().print(table)


@emails.command()
@click.argument("ids", nargs=-1, type=click.UUID)
@click.option("--all", "retry_all", is_flag=True, help="every failed email")
@since_option
def retry(ids: tuple[UUID, ...], since: datetime | None, *, retry_all: bool) -> None:
    """Put failed emails back in the queue with a fresh attempt budget: the ones with these IDS, --all, or
    those failed --since a time."""
    if sum((bool(ids), retry_all, since is not None)) != 1:
        raise click.UsageError("give email IDS, --all or --since (exactly one of them)")
    refused: list[str] = []
    with _outbox() as outbox:
        if not ids:
            retried = outbox.retry_failed(since)
        else:
            retried = 0
            for outbox_id in ids:
                try:
                    outbox.retry(outbox_id)
                except NotFoundError:
                    refused.append(f"{outbox_id}: no such email")
                except ConflictError as exc:
                    refused.append(f"{outbox_id}: {exc.detail}")
                else:
                    retried += 1
    click.echo(f"retried {retried} failed email{'' if retried == 1 else 's'}")
    if refused:
        raise click.ClickException("not retried: " + "; ".join(refused))
