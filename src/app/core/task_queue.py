"""How the API hands work to the Celery workers: by task name, after commit, never blocking on a dead broker.

The API does not import ``workers``: it publishes by name, so the two sides share only these constants.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from celery import Celery

from app.core.redis import broker_ssl_options
from app.core.request_context import current_request_id

if TYPE_CHECKING:
    import uuid

    from app.core.settings import Settings

__all__ = (
    "CLEANUP_TOKENS_TASK",
    "EMAILS_QUEUE",
    "MAINTENANCE_QUEUE",
    "QUEUES",
    "RELAY_OUTBOX_TASK",
    "REQUEST_ID_TASK_HEADER",
    "SEND_EMAIL_TASK",
    "CeleryTaskQueue",
    "TaskQueue",
    "build_api_celery",
)

logger = logging.getLogger(__name__)

EMAILS_QUEUE = "emails"
MAINTENANCE_QUEUE = "maintenance"
QUEUES = (EMAILS_QUEUE, MAINTENANCE_QUEUE)
SEND_EMAIL_TASK = "workers.tasks.send_email"
RELAY_OUTBOX_TASK = "workers.tasks.relay_outbox"
CLEANUP_TOKENS_TASK = "workers.tasks.cleanup_tokens"
# A message header carrying the id of the HTTP request that caused the task, so the worker's log lines carry it too.
REQUEST_ID_TASK_HEADER = "request_id"


# runtime_checkable: Litestar validates injected dependencies against their annotation.
@runtime_checkable
class TaskQueue(Protocol):
    """Where committed outbox rows are announced to the workers."""

    def enqueue_email(self, outbox_id: uuid.UUID, request_id: str | None = None) -> bool:
        """Ask a worker to send one outbox row; return False (never raise) if the broker refused.

        ``request_id`` is the request that wrote the row (default: the one being served), for the worker's logs.
        """
        ...


def _fail_fast_options(settings: Settings, timeout: float) -> dict[str, float]:
    # max_retries=0: one connection attempt, then give up (kombu's default keeps retrying for seconds).
    options: dict[str, float] = {"max_retries": 0}
    if settings.redis_url is not None:  # the embedded SQLAlchemy transport would pass these to create_engine
        options |= {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    return options


def build_api_celery(settings: Settings, timeout: float) -> Celery:
    """A Celery app for the API's side of the broker (publishing, remote control) that gives up after ``timeout``.

    Nothing connects here: the first publish or broadcast opens the connection.
    """
    celery = Celery("inkwell-api", broker=settings.broker_url, set_as_current=False)
    celery.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # Celery's default retries a failed publish for seconds; the request must not wait for that.
        task_publish_retry=False,
        broker_connection_timeout=timeout,
        broker_transport_options=_fail_fast_options(settings, timeout),
        broker_use_ssl=broker_ssl_options(settings),
        # A task-sent event per publish, so Flower and `celery events` show tasks from the moment they are queued.
        # Events go to a fanout exchange, which the embedded development broker lacks.
        task_send_sent_event=settings.redis_url is not None,
    )
    return celery


class CeleryTaskQueue:
    """Publishes ``send_email`` tasks with one fast attempt: the outbox relay resends whatever this misses."""

    __slots__ = ("_celery",)

    def __init__(self, settings: Settings) -> None:
        self._celery = build_api_celery(settings, settings.broker_publish_timeout_seconds)

    def enqueue_email(self, outbox_id: uuid.UUID, request_id: str | None = None) -> bool:
        request_id = request_id or current_request_id()
        try:
            self._celery.send_task(
                SEND_EMAIL_TASK,
                args=[str(outbox_id)],
                queue=EMAILS_QUEUE,
                ignore_result=True,
                headers={REQUEST_ID_TASK_HEADER: request_id} if request_id else None,
            )
        except Exception as exc:  # noqa: BLE001  (any broker failure: the row stays pending for the relay)
            logger.warning("could not enqueue email %s, the outbox relay will send it: %s", outbox_id, exc)
            return False
        return True
