"""Logging: one JSON object per line on stdout, each stamped with the request id when there is one."""

from __future__ import annotations

from litestar.logging.config import LoggingConfig

__all__ = ("build_logging_config",)

JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"


def build_logging_config(*, debug: bool) -> LoggingConfig:
    return LoggingConfig(
        root={"level": "DEBUG" if debug else "INFO", "handlers": ["queue_listener"]},
        filters={"request_id": {"()": "app.core.request_context.RequestIdLogFilter"}},
        formatters={
            "standard": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "format": JSON_FIELDS,
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
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
