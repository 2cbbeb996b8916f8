"""How the API hands work to the Celery workers: by task name, after commit, never blocking on a dead broker.

The API does not import ``workers``: it publishes by name, so the two sides share only these constants.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from celery import Celery

if TYPE_CHECKING:
    import uuid

    from app.core.settings import Settings

__all__ = (
    "CLEANUP_TOKENS_TASK",
    "EMAILS_QUEUE",
    "MAINTENANCE_QUEUE",
    "RELAY_OUTBOX_TASK",
    "SEND_EMAIL_TASK",
    "CeleryTaskQueue",
    "TaskQueue",
)

logger = logging.getLogger(__name__)

EMAILS_QUEUE = "emails"
MAINTENANCE_QUEUE = "maintenance"
SEND_EMAIL_TASK = "workers.tasks.send_email"
RELAY_OUTBOX_TASK = "workers.tasks.relay_outbox"
CLEANUP_TOKENS_TASK = "workers.tasks.cleanup_tokens"


# runtime_checkable: Litestar validates injected dependencies against their annotation.
@runtime_checkable
class TaskQueue(Protocol):
    """Where committed outbox rows are announced to the workers."""

    def enqueue_email(self, outbox_id: uuid.UUID) -> bool:
        """Ask a worker to send one outbox row; return False (never raise) if the broker refused."""
        ...


def _fail_fast_options(settings: Settings, timeout: float) -> dict[str, float]:
    # max_retries=0: one connection attempt, then give up (kombu's default keeps retrying for seconds).
    options: dict[str, float] = {"max_retries": 0}
    if settings.redis_url is not None:  # the embedded SQLAlchemy transport would pass these to create_engine
        options |= {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    return options


class CeleryTaskQueue:
    """Publishes ``send_email`` tasks with one fast attempt: the outbox relay resends whatever this misses."""

    __slots__ = ("_celery",)

    def __init__(self, settings: Settings) -> None:
        # Nothing connects here: the first publish opens the connection.
        timeout = settings.broker_publish_timeout_seconds
        self._celery = Celery("inkwell-api", broker=settings.broker_url, set_as_current=False)
        self._celery.conf.update(
            task_serializer="json",
            accept_content=["json"],
            task_ignore_result=True,
            # Celery's default retries a failed publish for seconds; the request must not wait for that.
            task_publish_retry=False,
            broker_connection_timeout=timeout,
            broker_transport_options=_fail_fast_options(settings, timeout),
        )

    def enqueue_email(self, outbox_id: uuid.UUID) -> bool:
        try:
            self._celery.send_task(SEND_EMAIL_TASK, args=[str(outbox_id)], queue=EMAILS_QUEUE, ignore_result=True)
        except Exception as exc:  # noqa: BLE001  (any broker failure: the row stays pending for the relay)
            logger.warning("could not enqueue email %s, the outbox relay will send it: %s", outbox_id, exc)
            return False
        return True
