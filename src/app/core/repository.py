"""The base of every repository: advanced-alchemy's, plus running a statement of the domain's own on its session.

A domain's reads are statements built once (module constants with bound parameters) that select exactly the columns
their response needs. :meth:`Repository.rows` runs them on the session's connection: the session's ORM execution
layer (compile state, loader setup) does nothing for a statement of plain columns but cost CPU on every request.
Writes of whole entities go through advanced-alchemy's methods (``add``, ``update``, ``delete``...) as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from advanced_alchemy.base import ModelProtocol
from advanced_alchemy.exceptions import wrap_sqlalchemy_exception
from advanced_alchemy.repository import SQLAlchemySyncRepository
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy import CursorResult, Executable

__all__ = ("Repository", "connection_lost")

ModelT = TypeVar("ModelT", bound=ModelProtocol)


def connection_lost(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an error it wraps (a repository error wraps the driver's), is the connection dying under a
    statement: the backend terminated, a failover. The pool has discarded that connection, so the session's next
    transaction runs on a new one."""
    while exc is not None:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        exc = exc.__cause__
    return False


class Repository(SQLAlchemySyncRepository[ModelT]):
    """advanced-alchemy's sync repository for ``model_type``, with :meth:`rows` for the domain's own statements."""

    def lock(self, *where: ColumnElement[bool]) -> None:
        """Hold the rows ``where`` selects against other writers until the transaction ends, so what is read next
        stays what is written: ``FOR UPDATE`` on PostgreSQL; on SQLite, where a write locks the whole database, a
        write that changes nothing (every column an update would stamp set to itself)."""
        model: Any = self.model_type
        if self._dialect.name == "postgresql":
            self.rows(select(model.id).where(*where).with_for_update())
            return
        unchanged = {column.name: column for column in model.__table__.columns if column.onupdate is not None}
        self.rows(update(model).where(*where).values(id=model.id, **unchanged))

    def rows(self, statement: Executable, parameters: Mapping[str, Any] | None = None) -> CursorResult[Any]:
        """Execute ``statement`` with ``parameters`` in the session's transaction (or autocommit, for a read),
        after flushing what the session holds, as its own ``execute`` would."""
        # Driver errors become repository errors here as they do in advanced-alchemy's own methods.
        with wrap_sqlalchemy_exception(
            error_messages=self.error_messages, dialect_name=self._dialect.name, wrap_exceptions=self.wrap_exceptions
        ):
            self.session.flush()
            return self.session.connection().execute(statement, parameters or {})
