"""Logging: one JSON object per line on stdout, each stamped with the request id when there is one."""

from __future__ import annotations

import logging
import sys

from litestar.logging.config import LoggingConfig
from pythonjsonlogger.json import JsonFormatter

from app.core.request_context import RequestIdLogFilter

__all__ = ("build_logging_config", "configure_json_logging")

JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"
RENAMED_FIELDS = {"asctime": "time", "levelname": "level", "name": "logger"}
HANDLER_NAME = "inkwell-json"


def build_logging_config(*, debug: bool) -> LoggingConfig:
    """The web processes' logging, installed by Litestar."""
    return LoggingConfig(
        root={"level": "DEBUG" if debug else "INFO", "handlers": ["queue_listener"]},
        filters={"request_id": {"()": "app.core.request_context.RequestIdLogFilter"}},
        formatters={
            "standard": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "format": JSON_FIELDS,
                "rename_fields": RENAMED_FIELDS,
                "timestamp": False,
            }
        },
        handlers={
            "console": {
                "class": "logging.StreamHandler",
                "level": "DEBUG",
                "formatter": "standard",
                "filters": ["request_id"],
                "stream": "ext://sys.stdout",
            },
            "queue_listener": {
                "class": "litestar.logging.standard.QueueListenerHandler",
                "level": "DEBUG",
                "formatter": "standard",
                "filters": ["request_id"],
            },
        },
        log_exceptions="debug" if debug else "never",
        loggers={
            "sqlalchemy.engine": {"level": "WARNING", "propagate": True},
            "httpx": {"level": "WARNING", "propagate": True},
        },
    )


def configure_json_logging(level: int | str) -> None:
    """The same JSON lines for processes Litestar does not start (the Celery worker and beat): one handler on the
    root logger writing to the process's real stdout. Idempotent, so a second call only changes the level.
    """
    root = logging.getLogger()
    root.setLevel(level)
    if any(handler.name == HANDLER_NAME for handler in root.handlers):
        return
    # sys.__stdout__, not sys.stdout: Celery later swaps sys.stdout for a proxy that logs what is printed, which
    # would loop back into this handler.
    handler = logging.StreamHandler(sys.__stdout__)
    handler.name = HANDLER_NAME
    handler.setFormatter(JsonFormatter(JSON_FIELDS, rename_fields=RENAMED_FIELDS, timestamp=False))
    handler.addFilter(RequestIdLogFilter())
    root.addHandler(handler)
