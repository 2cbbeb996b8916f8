"""Abuse limits with the ``limits`` library: shared in Redis across web processes when configured.

When Redis is configured but unreachable, limits fall back to each process's memory instead of failing open
(no limit at all) or closed (refusing every login): sign-in keeps working through a Redis outage while
brute force stays bounded, at most (processes x limit).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from litestar.concurrency import sync_to_thread

from app.core.errors import TooManyRequestsError
from app.core.origin import client_ip
from app.core.redis import redis_options

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.handlers import BaseRouteHandler
    from litestar.types import Guard

    from app.core.settings import Settings

__all__ = ("STATE_KEY", "RateLimitExceededError", "RateLimiter", "rate_limited")

logger = logging.getLogger(__name__)

STATE_KEY = "rate_limiter"


class RateLimitExceededError(TooManyRequestsError):
    def __init__(self, retry_after: float) -> None:
        super().__init__("Too many requests; retry later", retry_after)


class RateLimiter:
    """Named limits (``login_ip``, ``login_account``, ...) checked against shared or local storage."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits_enabled
        self.trusted_proxy_hops = settings.trusted_proxy_hops
        self.limits: dict[str, RateLimitItem] = {name: parse(value) for name, value in settings.rate_limits.items()}
        self._local = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._shared: SlidingWindowCounterRateLimiter | None = None
        if settings.redis_url:
            storage = storage_from_string(settings.redis_url, wrap_exceptions=True, **redis_options(settings, 0.25))
            self._shared = SlidingWindowCounterRateLimiter(storage)

    @property
    def blocks(self) -> bool:
        """Whether a hit waits on the network (Redis); a limiter in memory, or switched off, answers at once."""
        return self.enabled and self._shared is not None

    def hit(self, name: str, identifier: str) -> None:
        """Count one request against limit ``name`` for ``identifier``.

        Raises:
            RateLimitExceededError: the limit is used up; ``retry_after`` says for how long.
        """
        if not self.enabled:
            return
        limit = self.limits[name]
        limiter = self._shared or self._local
        try:
            allowed = limiter.hit(limit, name, identifier)
        except StorageError as exc:
            logger.warning("rate-limit storage unavailable, limiting per process: %s", exc)
            limiter = self._local
            allowed = limiter.hit(limit, name, identifier)
        if not allowed:
            reset_at = limiter.get_window_stats(limit, name, identifier).reset_time
            raise RateLimitExceededError(retry_after=reset_at - time.time())


def rate_limited(name: str) -> Guard:
    """A guard counting each request against limit ``name`` per client IP.

    A coroutine: Litestar runs a sync guard in a worker thread, which only a limiter that talks to Redis needs.
    """

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        limiter: RateLimiter = connection.app.state[STATE_KEY]
        identifier = client_ip(connection, limiter.trusted_proxy_hops)
        if limiter.blocks:
            await sync_to_thread(limiter.hit, name, identifier)
        else:
            limiter.hit(name, identifier)

    return guard
