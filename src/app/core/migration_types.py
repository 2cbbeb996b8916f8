"""How Alembic compares a reflected column type with the model's, for autogenerate and ``database check``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from advanced_alchemy.types import GUID
from sqlalchemy import NUMERIC

if TYPE_CHECKING:
    from alembic.migration import MigrationContext
    from sqlalchemy.types import TypeEngine

__all__ = ("compare_column_types",)


def compare_column_types(
    context: MigrationContext,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: TypeEngine[Any],
    metadata_type: TypeEngine[Any],
) -> bool | None:
    """Whether the types differ: Alembic's own answer (None), but for a GUID on SQLite, which reflects the declared
    ``GUID(16)`` by its type affinity, as ``NUMERIC(16)``: the same column, not a change to migrate."""
    if context.dialect.name == "sqlite" and isinstance(metadata_type, GUID):
        return not isinstance(inspected_type, NUMERIC)
    return None
