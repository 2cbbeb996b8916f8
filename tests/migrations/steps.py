"""Stepping through the Alembic revisions one at a time: what each step sent, and the schema before and after it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from advanced_alchemy.alembic.commands import AlembicCommands
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.types import TypeEngine

from app.core.database import build_sqlalchemy_config
from app.core.settings import Settings
from tests.sql import executed_statements

__all__ = ("Revisions", "Schema", "Step", "read_schema")

VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class Schema:
    """What the database holds: enough to tell two schemas apart, and to know what a statement would lock."""

    tables: frozenset[str]
    # Per table, every column, key, index and constraint as the inspector reports them, in a stable order.
    definitions: tuple[tuple[str, str], ...]
    index_tables: dict[str, str]
    column_types: dict[tuple[str, str], str]
    # (table, column) pairs that a validated CHECK (column IS NOT NULL) covers: SET NOT NULL then skips its scan.
    not_null_checked: frozenset[tuple[str, str]]


def _plain(value: object) -> object:
    """``value`` with its mappings ordered and its SQL expressions (partial indexes' conditions) as text."""
    if isinstance(value, dict):
        return sorted((str(key), _plain(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, ClauseElement | TypeEngine):
        return str(value)
    return value


def _described(items: Sequence[Mapping[str, Any]]) -> str:
    return repr(sorted(repr(_plain(dict(item))) for item in items))


def read_schema(engine: Engine) -> Schema:
    inspector = inspect(engine)
    tables = frozenset(inspector.get_table_names()) - {VERSION_TABLE}
    definitions: list[tuple[str, str]] = []
    index_tables: dict[str, str] = {}
    column_types: dict[tuple[str, str], str] = {}
    not_null_checked: set[tuple[str, str]] = set()
    for table in sorted(tables):
        columns = inspector.get_columns(table)
        indexes = inspector.get_indexes(table)
        checks = inspector.get_check_constraints(table)
        definition = {
            "columns": _described(columns),
            "primary key": repr(inspector.get_pk_constraint(table)),
            "foreign keys": _described(inspector.get_foreign_keys(table)),
            "indexes": _described(indexes),
            "unique": _described(inspector.get_unique_constraints(table)),
            "checks": _described(checks),
        }
        definitions.append((table, repr(sorted(definition.items()))))
        index_tables |= {str(index["name"]): table for index in indexes}
        column_types |= {(table, column["name"]): str(column["type"]) for column in columns}
        not_null_checked |= {
            (table, column["name"])
            for column in columns
            for check in checks
            if not check.get("dialect_options", {}).get("not_valid")
            and check["sqltext"].strip("() ").lower() == f"{column['name']} is not null"
        }
    return Schema(tables, tuple(definitions), index_tables, column_types, frozenset(not_null_checked))


@dataclass(frozen=True)
class Step:
    """One revision applied or undone."""

    revision: str
    direction: Literal["upgrade", "downgrade"]
    statements: tuple[str, ...]
    before: Schema
    after: Schema

    @property
    def kept_tables(self) -> frozenset[str]:
        """The tables that exist on both sides of the step: the ones that code may be using while it runs."""
        return self.before.tables & self.after.tables

    def __str__(self) -> str:
        return f"{self.direction} of {self.revision}"


class Revisions:
    """The revisions of a migrations directory (default: Inkwell's own), applied to ``engine`` one at a time."""

    def __init__(self, settings: Settings, engine: Engine, script_location: Path | None = None) -> None:
        config = build_sqlalchemy_config(settings, engine)
        if script_location is not None:
            config.alembic_config = dataclasses.replace(config.alembic_config, script_location=str(script_location))
        self.engine = engine
        self.commands = AlembicCommands(sqlalchemy_config=config)
        self.script = ScriptDirectory.from_config(self.commands.config)
        # Oldest first; one line of history (two heads would have to be merged before a release anyway).
        self.order = [script.revision for script in reversed(list(self.script.walk_revisions()))]

    def parent(self, revision: str) -> str:
        script = self.script.get_revision(revision)
        assert script is not None, revision
        down = script.down_revision
        if down is not None and not isinstance(down, str):
            raise TypeError(f"{revision} merges {down}: step through each line of history on its own")
        return down or "base"

    def after(self, revision: str) -> list[str]:
        """The revisions that follow ``revision``, oldest first."""
        return self.order[self.order.index(revision) + 1 :]

    def upgrade(self, revision: str) -> Step:
        """Apply ``revision`` (the database stands at its parent)."""
        return self._step(revision, "upgrade", lambda: self.commands.upgrade(revision))

    def downgrade(self, revision: str) -> Step:
        """Undo ``revision`` (the database stands at it)."""
        return self._step(revision, "downgrade", lambda: self.commands.downgrade(self.parent(revision)))

    def _step(self, revision: str, direction: Literal["upgrade", "downgrade"], run: Callable[[], None]) -> Step:
        before = read_schema(self.engine)
        with executed_statements() as executed:
            run()
        return Step(
            revision, direction, tuple(statement for statement, _ in executed), before, read_schema(self.engine)
        )
