"""Dependency providers of the emails domain (runtime imports: Litestar reads these signatures)."""

from __future__ import annotations

from litestar.di import NamedDependency, Provide
from sqlalchemy.orm import Session

from app.core.settings import Settings
from app.core.task_queue import TaskQueue
from app.emails.service import OutboxService

__all__ = ("outbox_service_provider",)


def outbox_service_provider(settings: Settings, task_queue: TaskQueue) -> Provide:
    def provide_outbox_service(db_session: NamedDependency[Session]) -> OutboxService:
        return OutboxService(db_session, settings, task_queue)

    return Provide(provide_outbox_service, sync_to_thread=False)
