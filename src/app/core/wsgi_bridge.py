"""Serving the ASGI app to a WSGI server, each request staying on the server thread that accepted it.

A request's way, all on one thread::

    WSGI server thread
      -> WSGIApplication(environ, start_response)
      -> the thread's own event loop (_ThreadEventLoop, made on the thread's first request)
      -> the Litestar app, reading the body from wsgi.input and collecting the response (_RequestExchange)
      -> sync_to_thread, which InlineExecutor (installed by ``app.wsgi``) runs at once, on the calling thread
      -> the sync handler
    and back: the collected status and headers to start_response, the body returned whole (the API streams none).

The thread already belongs to this one request, so handing the request to a shared loop thread and on to a handler
thread (a2wsgi's design) would only add thread switches. Concurrency is therefore the WSGI server's thread count.
The app's lifespan (its start-up and shutdown hooks) runs once per process, on a thread of its own
(LifespanThread).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from a2wsgi.asgi import StatusStringMapping, build_scope
from litestar import Litestar

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ("InlineExecutor", "LifespanThread", "WSGIApplication")

P = ParamSpec("P")
T = TypeVar("T")

REQUEST_CHUNK_BYTES = 65_536


class InlineExecutor(ThreadPoolExecutor):
    """Runs each submitted call at once, on the submitting thread: ``sync_to_thread`` then stays on the WSGI thread."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001  (re-raised where the caller awaits the future)
            future.set_exception(exc)
        return future


class LifespanThread:
    """The app's lifespan on a thread and event loop of its own: started here (the constructor returns once the
    start-up hooks have run, and raises if they failed), ended by :meth:`close`. Entered and exited in one task, as
    anyio requires."""

    def __init__(self, asgi_app: Litestar) -> None:
        self.asgi_app = asgi_app
        self.loop = asyncio.new_event_loop()
        self._start_finished = threading.Event()
        self._stop_requested: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="wsgi-lifespan", daemon=True)
        self._thread.start()
        self._task = asyncio.run_coroutine_threadsafe(self._run_lifespan(), self.loop)
        self._start_finished.wait()
        if self._failure is not None:
            raise RuntimeError("application start-up failed") from self._failure

    async def _run_lifespan(self) -> None:
        self._stop_requested = asyncio.Event()
        try:
            async with self.asgi_app.lifespan():
                self._start_finished.set()
                await self._stop_requested.wait()
        except BaseException as exc:
            self._failure = exc
            self._start_finished.set()
            raise

    def close(self) -> None:
        """End the lifespan (shutdown hooks, engine disposal), then its loop."""
        if self._stop_requested is not None and not self._task.done():
            self.loop.call_soon_threadsafe(self._stop_requested.set)
            self._task.result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


class _RequestExchange:
    """One request's ASGI ``receive`` and ``send``: the body read from ``wsgi.input``, the response collected."""

    __slots__ = ("_input", "_remaining", "_request_done", "body", "headers", "status")

    def __init__(self, environ: WSGIEnvironment) -> None:
        self._input = environ["wsgi.input"]
        self._remaining = int(environ.get("CONTENT_LENGTH") or 0)
        self._request_done = False
        self.status = 500
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []

    async def receive(self) -> dict[str, Any]:
        if self._request_done:
            return {"type": "http.disconnect"}
        chunk = self._input.read(min(REQUEST_CHUNK_BYTES, self._remaining)) if self._remaining > 0 else b""
        self._remaining = self._remaining - len(chunk) if chunk else 0
        self._request_done = self._remaining == 0
        return {"type": "http.request", "body": chunk, "more_body": not self._request_done}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in message["headers"]]
        elif message["type"] == "http.response.body":
            self.body.append(message.get("body", b""))


class _ThreadEventLoop:
    """A server thread's own event loop, closed when the server retires the thread and its thread-local state goes."""

    __slots__ = ("loop",)

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        self.loop.close()


class WSGIApplication:
    """The WSGI callable: each server thread drives the ASGI app on its own loop, created on its first request."""

    def __init__(self, asgi_app: Litestar) -> None:
        self.asgi_app = asgi_app
        self._thread_state = threading.local()

    def _loop_of_this_thread(self) -> asyncio.AbstractEventLoop:
        owned: _ThreadEventLoop | None = getattr(self._thread_state, "event_loop", None)
        if owned is None:
            owned = self._thread_state.event_loop = _ThreadEventLoop()
        return owned.loop

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        exchange = _RequestExchange(environ)
        self._loop_of_this_thread().run_until_complete(
            self.asgi_app(build_scope(environ), exchange.receive, exchange.send)  # type: ignore[arg-type]
        )
        start_response(StatusStringMapping[exchange.status], exchange.headers)
        return exchange.body
