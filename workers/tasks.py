"""Thin tasks: they take ids (strings), open a session and call the services in ``app``; all are idempotent."""

from __future__ import annotations

import logging
import uuid

from celery import Task, shared_task

from app.core.task_queue import (
    CLEANUP_TOKENS_TASK,
    EMAILS_QUEUE,
    RELAY_OUTBOX_TASK,
    REQUEST_ID_TASK_HEADER,
    SEND_EMAIL_TASK,
)
from app.emails.service import OutboxService, QueuedEmail
from app.maintenance.service import CleanupService, OutboxRelayService
from workers.context import WorkerContext

__all__ = ("cleanup_tokens", "relay_outbox", "send_email")

logger = logging.getLogger(__name__)


# max_retries=None: the outbox row counts attempts across retries and relays, and fails itself at the limit.
@shared_task(bind=True, name=SEND_EMAIL_TASK, max_retries=None)
def send_email(self: Task, outbox_id: str) -> str:
    """Send one outbox row; a transient failure retries with backoff, the last one marks the row failed."""
    context = WorkerContext.of(self.app)
    with context.session() as session:
        outcome = OutboxService(session, context.settings).send(
            uuid.UUID(outbox_id), context.composer, context.transport
        )
    if outcome.status == "retry" and outcome.retry_in is not None:
        logger.warning("email %s: retrying in %.1fs after: %s", outbox_id, outcome.retry_in, outcome.detail)
        raise self.retry(countdown=outcome.retry_in)
    if outcome.status == "failed":
        logger.error("email %s failed for good: %s", outbox_id, outcome.detail)
    else:
        logger.info("email %s %s%s", outbox_id, outcome.status, f" ({outcome.detail})" if outcome.detail else "")
    return outcome.status


@shared_task(bind=True, name=RELAY_OUTBOX_TASK)
def relay_outbox(self: Task) -> int:
    """Enqueue outbox rows still pending past their time: those whose enqueue failed, or whose task was lost."""
    context = WorkerContext.of(self.app)

    def enqueue(email: QueuedEmail) -> None:
        # The request that wrote the row travels on, so the send is logged under it like a direct enqueue.
        headers = {REQUEST_ID_TASK_HEADER: email.request_id} if email.request_id else None
        self.app.send_task(SEND_EMAIL_TASK, args=[str(email.id)], queue=EMAILS_QUEUE, headers=headers)

    with context.session() as session:
        relayed = OutboxRelayService(session, context.settings).run(enqueue)
    if relayed:
        logger.info("relayed %d pending emails", relayed)
    return relayed


@shared_task(bind=True, name=CLEANUP_TOKENS_TASK)
def cleanup_tokens(self: Task) -> dict[str, int]:
    """Delete spent tokens and old sent emails; the counts go to the log and to ``maintenance_run``."""
    context = WorkerContext.of(self.app)
    with context.session() as session:
        deleted = CleanupService(session, context.settings).run()
    logger.info("token cleanup deleted %s", deleted)
    return deleted
