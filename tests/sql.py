"""Watching the SQL the app sends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def executed_statements(engine_class: type[Engine] = Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement, with its parameters, that any engine of ``engine_class`` executes inside the block."""
    executed: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        executed.append((statement, parameters))

    event.listen(engine_class, "before_cursor_execute", record)
    try:
        yield executed
    finally:
        event.remove(engine_class, "before_cursor_execute", record)


@contextmanager
def counted_statements(engine_class: type[Engine] = Engine) -> Iterator[list[str]]:
    """Every statement any engine of ``engine_class`` executes inside the block, in order (filled at exit)."""
    statements: list[str] = []
    with executed_statements(engine_class) as executed:
        yield statements
    statements.extend(statement for statement, _ in executed)
