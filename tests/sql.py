"""Watching the SQL the app sends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def counted_statements(engine_class: type[Engine] = Engine) -> Iterator[list[str]]:
    """Every statement any engine of ``engine_class`` executes inside the block, in order."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine_class, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine_class, "before_cursor_execute", record)
