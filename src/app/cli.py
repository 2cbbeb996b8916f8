"""``inkwell run``: migrate the configured database, then serve the API with granian (ASGI)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from types import FrameType

import click
from advanced_alchemy.alembic.commands import AlembicCommands

from app.core.database import build_sqlalchemy_config
from app.core.settings import SettingsError, get_settings

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


def _supervise(commands: list[list[str]]) -> int:
    """Run the processes side by side; when one exits or a signal arrives, stop them all."""
    processes = [subprocess.Popen(command) for command in commands]  # noqa: S603  (fixed argv, no shell)

    def stop(signum: int, _: FrameType | None) -> None:
        for process in processes:
            if process.poll() is None:
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
    """Inkwell's own commands (the Litestar CLI, `litestar --app app.main:app`, has the rest)."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
def run(host: str, port: int, workers: int) -> None:
    """Apply migrations, then serve the API on HOST:PORT."""
    try:
        _migrate()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"inkwell: serving http://{host}:{port} (docs at http://{host}:{port}/schema)")
    sys.exit(_supervise([_granian_command(host, port, workers)]))
