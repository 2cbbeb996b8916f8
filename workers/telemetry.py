"""The workers' traces and error reports (``app.core.telemetry``): a span per task run, continuing the trace of
the request that published it, and a report for each task that raised unexpectedly."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celery.signals import task_failure, worker_process_shutdown

from app.core.task_queue import REQUEST_ID_TASK_HEADER

if TYPE_CHECKING:
    from celery import Celery, Task

    from app.core.telemetry import Telemetry

__all__ = ("install_telemetry",)


def install_telemetry(app: Celery, telemetry: Telemetry) -> None:
    """Trace what ``app``'s processes publish and run; report its tasks' unexpected failures; flush both before a
    pool process exits (it skips ``atexit``)."""
    if telemetry.tracing is None and telemetry.error_reports is None:
        return
    telemetry.instrument_celery()

    def report_failure(*, sender: Task, exception: BaseException, **_: Any) -> None:
        # Celery's signals are global; several apps live in one process in the tests.
        if sender.app is not app:
            return
        tags = {"task": sender.name}
        request_id = getattr(sender.request, REQUEST_ID_TASK_HEADER, None)
        if request_id:
            tags["request_id"] = request_id
        telemetry.report_unexpected(exception, tags)

    def flush(**_: Any) -> None:
        telemetry.flush()

    uid = f"inkwell-telemetry-{id(app)}"
    if telemetry.error_reports is not None:
        task_failure.connect(report_failure, weak=False, dispatch_uid=uid)
    worker_process_shutdown.connect(flush, weak=False, dispatch_uid=uid)
