"""``inkwell run``: migrate the configured database, then serve the API with granian (ASGI) beside a Celery
worker and beat, all on the configured services (or the embedded defaults). ``inkwell ops`` and ``inkwell emails``: see
``app.ops.cli`` and ``app.emails.cli``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from types import FrameType

import click
from advanced_alchemy.alembic.commands import AlembicCommands

from app.core.database import build_sqlalchemy_config
from app.core.settings import DATA_DIR, SettingsError, get_settings
from app.core.task_queue import EMAILS_QUEUE, MAINTENANCE_QUEUE
from app.emails.cli import emails
from app.ops.cli import ops

__all__ = ("main",)


def _migrate() -> None:
    settings = get_settings()
    click.echo(f"inkwell: migrating {settings.database_url.split('@')[-1]}")
    AlembicCommands(sqlalchemy_config=build_sqlalchemy_config(settings)).upgrade("head")


def _granian_command(host: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--respawn-failed-workers",
        "app.main:app",
    ]


def _celery_commands() -> list[list[str]]:
    celery = [sys.executable, "-m", "celery", "-A", "workers"]
    return [
        # Two processes: enough for a development box; production sizes its own `celery -A workers worker`.
        [
            *celery,
            "worker",
            "--queues",
            f"{EMAILS_QUEUE},{MAINTENANCE_QUEUE}",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
        ],
        [*celery, "beat", "--loglevel", "INFO"],
    ]


def _supervise(commands: list[list[str]]) -> int:
    """Run the processes side by side; when one exits or a signal arrives, stop them all."""
    processes = [subprocess.Popen(command) for command in commands]  # noqa: S603  (fixed argv, no shell)
    signalled: set[int] = set()

    def stop(signum: int, _: FrameType | None) -> None:
        # Once each: a second SIGTERM turns Celery's warm shutdown (finish the running tasks) into a cold one.
        for process in processes:
            if process.poll() is None and process.pid not in signalled:
                signalled.add(process.pid)
                process.send_signal(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = os.waitstatus_to_exitcode(os.wait()[1])
    stop(signal.SIGTERM, None)
    for process in processes:
        process.wait()
    return exit_code


@click.group()
def main() -> None:
    """Inkwell's own commands (the Litestar CLI, `litestar --app app.manage:app`, has the rest)."""


main.add_command(ops)
main.add_command(emails)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="API worker processes")
@click.option("--no-celery", is_flag=True, default=False, help="serve the API only (run the workers elsewhere)")
def run(host: str, port: int, workers: int, *, no_celery: bool) -> None:
    """Apply migrations, then serve the API on HOST:PORT beside a Celery worker and beat."""
    try:
        _migrate()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    # The embedded broker, the beat schedule and development emails all live in the data folder.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    settings = get_settings()
    commands = [_granian_command(host, port, workers)]
    if not no_celery:
        commands += _celery_commands()
        click.echo(f"inkwell: Celery worker and beat on {settings.broker_url.split('@')[-1]}")
        if not settings.smtp_url:
            click.echo(f"inkwell: emails are written to {settings.email_file_dir}/ (set SMTP_URL to send them)")
    click.echo(f"inkwell: serving http://{host}:{port} (docs at http://{host}:{port}/schema)")
    sys.exit(_supervise(commands))
