"""Dependency checks for ``GET /health/ready``: each bounded by a short timeout, none raising."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec
from sqlalchemy import text

from app.core.deadline import DeadlineRunner
from app.core.redis import redis_client

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine

    from app.core.settings import Settings

__all__ = ("CHECK_TIMEOUT_SECONDS", "DependencyState", "check_broker", "check_database")

CHECK_TIMEOUT_SECONDS = 2.0
# Two checks a probe, and room for the next probe while a check abandoned at its deadline still holds its thread.
_CHECKS = DeadlineRunner(CHECK_TIMEOUT_SECONDS, threads=4, name="readiness-check")


class DependencyState(msgspec.Struct, kw_only=True):
    status: Literal["ok", "unavailable"]
    detail: str | None = None


async def _state_after(check: Callable[[], str | None]) -> DependencyState:
    try:
        detail = await _CHECKS.run_async(check)
    except TimeoutError:
        return DependencyState(status="unavailable", detail=f"no answer within {CHECK_TIMEOUT_SECONDS:g} s")
    except Exception as exc:  # noqa: BLE001  (a readiness probe reports every failure instead of raising)
        return DependencyState(status="unavailable", detail=type(exc).__name__)
    return DependencyState(status="ok", detail=detail)


async def check_database(engine: Engine) -> DependencyState:
    def ping() -> str:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return engine.dialect.name

    return await _state_after(ping)


async def check_broker(settings: Settings) -> DependencyState:
    """Redis when configured; the embedded development broker needs no service and is always ready."""
    if settings.redis_url is None:
        return DependencyState(status="ok", detail="embedded")

    def ping() -> str:
        client = redis_client(settings, timeout=1)
        try:
            client.ping()
        finally:
            client.close()
        return "redis"

    return await _state_after(ping)
