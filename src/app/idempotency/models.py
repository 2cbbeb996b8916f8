"""The ``idempotency_key`` table: one row per key a caller sent, with the answer its request got."""

from __future__ import annotations

from datetime import datetime

from advanced_alchemy.base import UUIDv7Base
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

__all__ = ("IdempotencyKey",)


class IdempotencyKey(UUIDv7Base):
    """``key`` as ``caller`` sent it, until ``expires_at``.

    ``request_digest`` identifies the request (method, path and body) so that the key is never replayed for another.
    While the request runs, the answer columns are NULL; the row is written in the request's own transaction, so it
    exists only once the request's work does.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("caller", "key"),)

    caller: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_digest: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    location: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)
