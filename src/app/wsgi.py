"""The WSGI entry point: ``granian --interface wsgi app.wsgi:application`` (or any WSGI server).

a2wsgi runs the ASGI app on an event loop in a background thread but has no lifespan support, so this module
runs the app's lifespan (engine, sessions, start-up hooks) on that same loop itself and ends it at exit.
ASGI remains the faster entry; this one exists for platforms that only speak WSGI.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from a2wsgi import ASGIMiddleware
from litestar import Litestar

from app.main import app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ("WSGIBridge", "application", "start_response_first")


class WSGIBridge:
    """Owns the loop thread and the lifespan task; the lifespan is entered and exited in one task, as anyio requires."""

    def __init__(self, asgi_app: Litestar) -> None:
        self.asgi_app = asgi_app
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="wsgi-asgi-loop", daemon=True)
        self._thread.start()
        self._lifespan = asyncio.run_coroutine_threadsafe(self._run_lifespan(), self.loop)
        self._started.wait()
        if self._failure is not None:
            raise RuntimeError("application start-up failed") from self._failure

    async def _run_lifespan(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with self.asgi_app.lifespan():
                self._started.set()
                await self._stop.wait()
        except BaseException as exc:
            self._failure = exc
            self._started.set()
            raise

    def close(self) -> None:
        """End the lifespan (shutdown hooks, engine disposal), then the loop."""
        if self._stop is not None and not self._lifespan.done():
            self.loop.call_soon_threadsafe(self._stop.set)
            self._lifespan.result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)

    def wsgi_app(self) -> WSGIApplication:
        return start_response_first(ASGIMiddleware(self.asgi_app, loop=self.loop))  # type: ignore[arg-type]


def start_response_first(wsgi_app: WSGIApplication) -> WSGIApplication:
    """Call ``start_response`` before returning, by pulling the first body chunk.

    a2wsgi calls ``start_response`` lazily, on the first iteration of its body; granian reads the status and headers
    as soon as the callable returns, so without this every response went out as ``200`` with no headers.
    """

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = iter(wsgi_app(environ, start_response))
        try:
            first = next(body)
        except StopIteration:
            return []
        return itertools.chain((first,), body)

    return application


_bridge = WSGIBridge(app)
atexit.register(_bridge.close)
application = _bridge.wsgi_app()
