"""What tasks share within one worker process: settings, engine, email composer and transport."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import app.models  # noqa: F401  (maps every table, so foreign keys such as email_outbox.user_id resolve)
from app.core.database import build_engine, build_sqlalchemy_config
from app.core.task_metrics import TaskMetricsRecorder
from app.core.telemetry import Telemetry
from app.emails.rendering import EmailComposer
from app.emails.transports import EmailTransport, build_transport

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from app.core.settings import Settings

__all__ = ("WorkerContext",)

APP_ATTRIBUTE = "inkwell_context"


class WorkerContext:
    """The resources of one worker process, each built on first use: inside the pool process that runs the
    tasks, so no database connection is ever inherited across the prefork pool's fork.
    """

    def __init__(self, settings: Settings, telemetry: Telemetry | None = None) -> None:
        self.settings = settings
        self.telemetry = telemetry or Telemetry()

    @classmethod
    def attach(cls, app: Any, settings: Settings, telemetry: Telemetry | None = None) -> None:
        """Give the Celery ``app`` a context built from ``settings``, traced by ``telemetry``."""
        setattr(app, APP_ATTRIBUTE, cls(settings, telemetry))

    @classmethod
    def of(cls, app: Any) -> WorkerContext:
        """The context of the Celery app a task runs in."""
        return cast("WorkerContext", getattr(app, APP_ATTRIBUTE))

    @cached_property
    def engine(self) -> Engine:
        engine = build_engine(self.settings)
        self.telemetry.instrument_engine(engine)
        return engine

    @cached_property
    def _sessions(self) -> Callable[[], Session]:
        return build_sqlalchemy_config(self.settings, self.engine).create_session_maker()

    @cached_property
    def composer(self) -> EmailComposer:
        return EmailComposer(self.settings)

    @cached_property
    def task_metrics(self) -> TaskMetricsRecorder:
        return TaskMetricsRecorder.from_settings(self.settings)

    @cached_property
    def transport(self) -> EmailTransport:
        return build_transport(self.settings)

    def session(self) -> Session:
        return self._sessions()
