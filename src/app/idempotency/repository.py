"""Reading and writing idempotency keys: each a single statement, built once per dialect."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.core.repository import Repository
from app.idempotency.models import IdempotencyKey

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from sqlalchemy import Row
    from sqlalchemy.sql.dml import ReturningInsert

    DialectInsert = postgresql.Insert | sqlite.Insert

__all__ = ("IdempotencyKeyRepository",)

_ONE_KEY = (IdempotencyKey.caller == bindparam("caller"), IdempotencyKey.key == bindparam("key"))
_CONFLICT_TARGET = [IdempotencyKey.caller, IdempotencyKey.key]
_ANSWER_COLUMNS = ("status_code", "response_body", "location")
_NEW_ROW: dict[str, BindParameter[Any]] = {
    name: bindparam(name) for name in ("caller", "key", "request_digest", *_ANSWER_COLUMNS, "created_at", "expires_at")
}


def _reserve(insert: Callable[[type[IdempotencyKey]], DialectInsert]) -> ReturningInsert[tuple[uuid.UUID]]:
    """A new row for the key, or the expired row of the same key made new; returns the id, or nothing when a live
    row holds the key. PostgreSQL makes a concurrent insert of the same key wait until the first one's transaction
    ends; SQLite, one writer at a time, does the same."""
    statement = insert(IdempotencyKey).values(_NEW_ROW)
    renewed = {name: statement.excluded[name] for name in _NEW_ROW if name not in {"caller", "key"}}
    return statement.on_conflict_do_update(
        index_elements=_CONFLICT_TARGET, set_=renewed, where=IdempotencyKey.expires_at <= bindparam("now")
    ).returning(IdempotencyKey.id)


def _record(insert: Callable[[type[IdempotencyKey]], DialectInsert]) -> DialectInsert:
    """The answer on the key's row, which is written anew if the request's work rolled it back with its own."""
    statement = insert(IdempotencyKey).values(_NEW_ROW)
    return statement.on_conflict_do_update(
        index_elements=_CONFLICT_TARGET,
        set_={name: statement.excluded[name] for name in _ANSWER_COLUMNS},
        where=IdempotencyKey.request_digest == statement.excluded.request_digest,
    )


_RESERVE = {"postgresql": _reserve(postgresql.insert), "sqlite": _reserve(sqlite.insert)}
_RECORD = {"postgresql": _record(postgresql.insert), "sqlite": _record(sqlite.insert)}
_READ = select(
    IdempotencyKey.request_digest,
    IdempotencyKey.status_code,
    IdempotencyKey.response_body,
    IdempotencyKey.location,
    IdempotencyKey.expires_at,
).where(*_ONE_KEY)
# The answer on a reservation only: the row is there, still waiting, only if the work's transaction committed. (An
# UPDATE's own bound names may not be its columns' names.)
_ANSWER_RESERVED = (
    update(IdempotencyKey)
    .where(
        IdempotencyKey.caller == bindparam("of_caller"),
        IdempotencyKey.key == bindparam("of_key"),
        IdempotencyKey.request_digest == bindparam("of_request_digest"),
        IdempotencyKey.status_code.is_(None),
    )
    .values({name: bindparam(f"new_{name}") for name in _ANSWER_COLUMNS})
)
_RELEASE = delete(IdempotencyKey).where(
    *_ONE_KEY, IdempotencyKey.request_digest == bindparam("request_digest"), IdempotencyKey.status_code.is_(None)
)


class IdempotencyKeyRepository(Repository[IdempotencyKey]):
    model_type = IdempotencyKey

    def reserve(self, row: Mapping[str, Any], now: datetime) -> bool:
        """Write ``row`` (a key without its answer) unless a live row holds its key; whether it was written."""
        return self.rows(_RESERVE[self._dialect.name], {**row, "now": now}).first() is not None

    def record(self, row: Mapping[str, Any]) -> None:
        """Store the answer of ``row``'s request on its key."""
        self.rows(_RECORD[self._dialect.name], row)

    def answer_reserved(self, row: Mapping[str, Any]) -> bool:
        """Store the answer of ``row``'s request on its key if a committed reservation waits for it; whether it did."""
        where = {f"of_{name}": row[name] for name in ("caller", "key", "request_digest")}
        return self.rows(_ANSWER_RESERVED, where | {f"new_{name}": row[name] for name in _ANSWER_COLUMNS}).rowcount == 1

    def read(self, caller: str, key: str) -> Row[Any] | None:
        return self.rows(_READ, {"caller": caller, "key": key}).one_or_none()

    def release(self, caller: str, key: str, request_digest: str) -> None:
        """Delete the key if it still waits for the answer of the request ``request_digest`` identifies."""
        self.rows(_RELEASE, {"caller": caller, "key": key, "request_digest": request_digest})
