"""Logging to stdout, as twelve-factor platforms expect."""

from __future__ import annotations

from litestar.logging.config import LoggingConfig

__all__ = ("build_logging_config",)


def build_logging_config(*, debug: bool) -> LoggingConfig:
    return LoggingConfig(
        root={"level": "DEBUG" if debug else "INFO", "handlers": ["queue_listener"]},
        formatters={"standard": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        log_exceptions="debug" if debug else "never",
        loggers={"sqlalchemy.engine": {"level": "WARNING", "propagate": True}},
    )
