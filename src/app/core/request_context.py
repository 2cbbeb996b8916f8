"""Request ids: accepted from ``X-Request-ID`` or generated, returned on the response, and kept in a context
variable so every log line of the request (and every task it enqueues) carries it. Also the access log."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = (
    "REQUEST_ID_HEADER",
    "RequestIdLogFilter",
    "bind_request_id",
    "current_request_id",
    "request_context_middleware",
    "unbind_request_id",
)

REQUEST_ID_HEADER = "x-request-id"
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Generated ids: a random per-process prefix and a counter; unique across processes and far cheaper than uuid4.
_ID_PREFIX = secrets.token_hex(8)
_id_sequence = itertools.count(1)
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
access_logger = logging.getLogger("inkwell.access")


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return _request_id.get()


def bind_request_id(request_id: str | None) -> Token[str | None]:
    """Make ``request_id`` current outside an HTTP request (a worker running a task the request enqueued)."""
    return _request_id.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    """Restore the request id that was current before :func:`bind_request_id` returned ``token``."""
    _request_id.reset(token)


class RequestIdLogFilter(logging.Filter):
    """Stamps each log record with the current request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


def _incoming_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            # A client-chosen id is kept only if it is short and plain, so it cannot forge log lines.
            if _ACCEPTABLE_ID.match(candidate):
                return candidate
            break
    return f"{_ID_PREFIX}{next(_id_sequence):08x}"


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    """Outermost middleware: request id in, request id out, one access-log line per request."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method = scope["method"]
        request_id = _incoming_id(scope)
        token = _request_id.set(request_id)
        started = time.perf_counter()
        status_code = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            access_logger.info(
                "%s %s %s",
                method,
                scope.get("path_template", "<unmatched>"),
                status_code,
                extra={
                    "method": method,
                    "route": scope.get("path_template", "<unmatched>"),
                    "status": status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            _request_id.reset(token)

    return middleware
