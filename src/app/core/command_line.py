"""What Inkwell's own commands (``inkwell ops``, ``inkwell emails``) share: a database session, and one line instead
of a traceback when the database fails.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import click
from advanced_alchemy.exceptions import RepositoryError
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from app.core.database import build_sqlalchemy_config

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session

    from app.core.settings import Settings

__all__ = ("database_session",)


@contextmanager
def database_session(settings: Settings) -> Iterator[Session]:
    """A session on the configured database for one command; its engine is disposed when the command is done.

    Raises:
        click.ClickException: the database failed, in opening the session or in the command's own statements. Its
            one line names the database (without its password) and gives the driver's own words (server unreachable,
            table missing), not advanced-alchemy's generic wrapper.
    """
    config = build_sqlalchemy_config(settings)
    engine = config.get_engine()
    try:
        with config.get_session() as session:
            yield session
    except (RepositoryError, SQLAlchemyError) as exc:
        error = (exc.__cause__ or exc) if isinstance(exc, RepositoryError) else exc
        reason = str(error.orig if isinstance(error, DBAPIError) else error).partition("\n")[0]
        raise click.ClickException(f"database {engine.url.render_as_string()}: {reason}") from None
    finally:
        engine.dispose()
