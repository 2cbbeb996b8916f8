"""The outermost layer of every HTTP exchange: request id, security headers, HTTP metrics and the access log.

One wrapper around Litestar's whole handler, outside routing and every middleware, so unmatched routes and auth
refusals get all four too. One rather than four: each ASGI layer costs a coroutine and a wrapped ``send`` per
message, which on a cheap route is much of the request's price.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from litestar.enums import ScopeType
from litestar.status_codes import HTTP_400_BAD_REQUEST

from app.core.request_context import REQUEST_ID_HEADER, bind_request_id, request_id_for, unbind_request_id

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from app.core.metrics import HttpMetrics

__all__ = ("UNMATCHED_ROUTE", "edge_middleware")

UNMATCHED_ROUTE = "<unmatched>"
# Scraping is not traffic: counting it would make the metrics move on their own. Only answered scrapes, though: a
# refused one (401) is counted like any request, so probing for the metrics shows in them.
UNMEASURED_ROUTES = frozenset({"/metrics"})
# Liveness probes arrive every few seconds from every router and orchestrator, and would drown the access log;
# they are still counted in the metrics.
UNLOGGED_ROUTES = frozenset({"/health"})
access_logger = logging.getLogger("inkwell.access")


def edge_middleware(app: ASGIApp, *, headers: dict[str, str], metrics: HttpMetrics) -> ASGIApp:
    """Wrap ``app``: ``headers`` added to every HTTP response, each request counted, timed and logged."""
    encoded_headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    request_id_header = REQUEST_ID_HEADER.encode("latin-1")

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"]
        request_id = request_id_for(scope)
        token = bind_request_id(request_id)
        status_code = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                # The app never sets these names, so appending is enough (no scan for duplicates).
                message["headers"] = [
                    *message.get("headers", ()),
                    *encoded_headers,
                    (request_id_header, request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await app(scope, receive, send_with_headers)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("path_template", UNMATCHED_ROUTE)
            if route not in UNMEASURED_ROUTES or status_code >= HTTP_400_BAD_REQUEST:
                metrics.observe(method, route, status_code, seconds)
            if route not in UNLOGGED_ROUTES:
                access_logger.info(
                    "%s %s %s",
                    method,
                    route,
                    status_code,
                    extra={
                        "method": method,
                        "route": route,
                        "status": status_code,
                        "duration_ms": round(seconds * 1000, 2),
                    },
                )
            unbind_request_id(token)

    return middleware
