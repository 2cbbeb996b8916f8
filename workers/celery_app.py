"""The workers' Celery app."""

from __future__ import annotations

from celery import Celery

import workers.log_context  # JSON logs and request ids, through Celery's signals
import workers.tasks  # noqa: F401  (registers the shared tasks on every app created below)
from app.core.settings import Settings, get_settings
from app.core.telemetry import Telemetry
from workers.config import build_config
from workers.context import WorkerContext
from workers.task_metrics import MeteredTask, install_task_metrics
from workers.telemetry import install_telemetry

__all__ = ("create_celery_app",)


def create_celery_app(settings: Settings | None = None, telemetry: Telemetry | None = None) -> Celery:
    """The workers' app for ``settings`` (default: the environment, as the API reads it).

    ``telemetry`` sends traces and error reports (default: those the settings turn on, if any).
    """
    settings = settings or get_settings()
    telemetry = telemetry or Telemetry.from_settings(settings, "worker")
    app = Celery("inkwell", set_as_current=False, task_cls=MeteredTask)
    app.conf.update(build_config(settings))
    WorkerContext.attach(app, settings, telemetry)
    install_task_metrics(app)
    install_telemetry(app, telemetry)
    return app
