"""Logging: one JSON object per line, each stamped with the request id when there is one.

In web processes the request path only enqueues a record; a background thread formats and writes it. The access
log makes that matter: a line per request, which formatted in place cost about as much CPU as serving ``/health``.
"""

from __future__ import annotations

import atexit
import logging
import queue
import sys
import threading
from typing import IO, Any

import msgspec
from litestar.logging.config import LoggingConfig

from app.core.request_context import RequestIdLogFilter

__all__ = ("BackgroundLogHandler", "JsonLineFormatter", "build_logging_config", "configure_json_logging")

HANDLER_NAME = "inkwell-json"
# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is written as a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonLineFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id", ...extra fields, "exc_info"?}`` on one line."""

    def __init__(self) -> None:
        super().__init__()
        # Values a JSON encoder does not know (a UUID in ``extra``, say) are written as their text.
        self._encoder = msgspec.json.Encoder(enc_hook=str)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return self._encoder.encode(entry).decode()


class BackgroundLogHandler(logging.Handler):
    """Queues records for a thread that formats and writes them to ``stream`` (default: standard output).

    The thread wakes every ``FLUSH_INTERVAL_SECONDS`` and writes what accumulated in one write, rather than being
    woken for each record: a wake-up per line (the standard ``QueueListener``) cost the request path about as much
    as the line itself. Filters still run in the caller, where the request id is known. Records are kept in this
    process, so nothing needs formatting or pickling before it is queued.
    """

    FLUSH_INTERVAL_SECONDS = 0.05

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__()
        self._stream = stream or sys.stdout
        self._records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self._formatter = JsonLineFormatter()
        self._stopping = threading.Event()
        self._writing = threading.Lock()
        self._writer = threading.Thread(target=self._write_until_closed, name="inkwell-log-writer", daemon=True)
        self._writer.start()
        atexit.register(self.close)

    def emit(self, record: logging.LogRecord) -> None:
        self._records.put(record)

    def flush(self) -> None:
        """Write what is queued now, from the calling thread (at shutdown: a worker process may exit without
        running ``atexit``)."""
        self._write_queued()

    def close(self) -> None:
        """Write what is queued and stop the thread (at exit, or when logging is configured again)."""
        if not self._stopping.is_set():
            self._stopping.set()
            self._writer.join(timeout=5)
        super().close()

    def _write_until_closed(self) -> None:
        while not self._stopping.wait(self.FLUSH_INTERVAL_SECONDS):
            self._write_queued()
        self._write_queued()

    def _write_queued(self) -> None:
        with self._writing:
            self._write_lines()

    def _write_lines(self) -> None:
        lines = []
        while True:
            try:
                record = self._records.get_nowait()
            except queue.Empty:
                break
            try:
                lines.append(self._formatter.format(record))
            except Exception:  # noqa: BLE001  (a record that cannot be formatted must not stop the writer)
                self.handleError(record)
        if lines:
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()


def build_logging_config(*, debug: bool) -> LoggingConfig:
    """The web processes' logging, installed by Litestar."""
    return LoggingConfig(
        root={"level": "DEBUG" if debug else "INFO", "handlers": ["background"]},
        filters={"request_id": {"()": "app.core.request_context.RequestIdLogFilter"}},
        handlers={
            "background": {
                "()": "app.core.logging.BackgroundLogHandler",
                "level": "DEBUG",
                "filters": ["request_id"],
            },
            # Litestar adds its own queue_listener handler (a second writer thread) unless one of that id exists.
            "queue_listener": {"class": "logging.NullHandler"},
        },
        log_exceptions="debug" if debug else "never",
        loggers={
            # Litestar's default sends it to its queue_listener handler.
            "litestar": {"level": "INFO", "handlers": ["background"], "propagate": False},
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
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(RequestIdLogFilter())
    root.addHandler(handler)
