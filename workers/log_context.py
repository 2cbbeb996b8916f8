"""The workers' logs: JSON lines on stdout like the web's, each carrying the id of the request behind its task.

The API stamps every task it publishes with the id of the request being served (a message header); while a task
runs, that id is the current request id, so ``email <id> sent`` is logged under the registration that wrote it.
"""

from __future__ import annotations

import logging
from contextvars import Token
from typing import Any

from celery import Task
from celery.signals import setup_logging, task_postrun, task_prerun

from app.core.logging import configure_json_logging
from app.core.request_context import bind_request_id, unbind_request_id
from app.core.task_queue import REQUEST_ID_TASK_HEADER

__all__ = ()

# One entry per running task: prefork runs one task per process, the threaded test worker one per thread.
_bound: dict[str, Token[str | None]] = {}


def _json_logs(*, loglevel: int | None = None, **_: Any) -> None:
    configure_json_logging(loglevel or logging.INFO)


def _bind_request_id(*, task_id: str, task: Task, **_: Any) -> None:
    _bound[task_id] = bind_request_id(getattr(task.request, REQUEST_ID_TASK_HEADER, None))


def _unbind_request_id(*, task_id: str, **_: Any) -> None:
    token = _bound.pop(task_id, None)
    if token is not None:
        unbind_request_id(token)


# A receiver of setup_logging also stops Celery from installing its own plain-text handlers.
setup_logging.connect(_json_logs, weak=False)
task_prerun.connect(_bind_request_id, weak=False)
task_postrun.connect(_unbind_request_id, weak=False)
