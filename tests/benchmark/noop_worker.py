"""The workers' Celery app plus a task that does nothing, for ``tests.benchmark.tasks``:
``celery -A tests.benchmark.noop_worker worker``.
"""

from __future__ import annotations

from workers.celery_app import create_celery_app

__all__ = ("NOOP_TASK", "app")

NOOP_TASK = "benchmark.noop"

app = create_celery_app()


@app.task(name=NOOP_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
def noop() -> None:
    """Nothing: what a task costs the worker beyond its own work."""
