"""Calls to a service that may hang (a database or Redis that is gone, a half-open connection), bounded by a deadline.

A call still running at its deadline is abandoned: the caller gets ``TimeoutError`` at once, and the call finishes in
the background, ended by its own socket timeouts; one that had not started yet is dropped. So a probe reports a dead
service within its deadline instead of stalling the request, the scrape or the command that asked.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Future

__all__ = ("DeadlineRunner",)

T = TypeVar("T")


class DeadlineRunner:
    """Runs calls on threads of its own, so an abandoned call holds none of the caller's, and waits for each at most
    ``seconds``."""

    def __init__(self, seconds: float, *, threads: int, name: str) -> None:
        self.seconds = seconds
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)

    def run(self, call: Callable[[], T]) -> T:
        """What ``call`` returns, waited for on the calling thread.

        Raises:
            TimeoutError: ``call`` did not return within the deadline.
        """
        future = self._executor.submit(call)
        try:
            return future.result(timeout=self.seconds)
        except TimeoutError:
            future.cancel()
            raise

    async def run_async(self, call: Callable[[], T]) -> T:
        """What ``call`` returns, awaited: the event loop serves other requests meanwhile.

        Raises:
            TimeoutError: ``call`` did not return within the deadline.
        """
        future: Future[T] = self._executor.submit(call)
        # Cancelling the wrapper at the deadline cancels ``future`` too, which drops it only if it has not started.
        return await asyncio.wait_for(asyncio.wrap_future(future), self.seconds)
