"""Dependency providers of the idempotency domain (runtime imports: Litestar reads these signatures)."""

from __future__ import annotations

from litestar.di import NamedDependency, Provide
from sqlalchemy.orm import Session

from app.core.settings import Settings
from app.idempotency.service import IdempotencyService

__all__ = ("idempotency_service_provider",)


def idempotency_service_provider(settings: Settings) -> Provide:
    """The request's ``IdempotencyService``, on the session its work uses, so the key is written in its transaction."""

    def provide_idempotency_service(db_session: NamedDependency[Session]) -> IdempotencyService:
        return IdempotencyService(db_session, settings)

    return Provide(provide_idempotency_service, sync_to_thread=False)
