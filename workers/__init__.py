"""Inkwell's Celery workers: ``celery -A workers worker -Q emails,maintenance`` and ``celery -A workers beat``.

The app is built on first access of ``workers.app`` (which is what ``celery -A workers`` does), not on import, so
importing ``workers.tasks`` or ``workers.celery_app`` (tests, tools) reads no environment.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from app.core.settings import DATA_DIR

if TYPE_CHECKING:
    from celery import Celery

__all__ = ("app",)


@cache
def _app() -> Celery:
    from workers.celery_app import create_celery_app  # noqa: PLC0415  (deferred: see the module docstring)

    # Beat's schedule file and the embedded broker live in the data folder.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return create_celery_app()


def __getattr__(name: str) -> Celery:
    if name == "app":
        return _app()
    raise AttributeError(name)
