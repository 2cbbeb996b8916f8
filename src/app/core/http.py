"""HTTP hardening shared by every route: security headers, body size limit, CORS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.config.cors import CORSConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from app.core.settings import Settings

__all__ = ("MAX_REQUEST_BODY_BYTES", "build_cors_config", "security_headers", "security_headers_middleware")

# The largest legitimate body is a post: 100,000 characters, up to 6 bytes each once JSON-escaped.
MAX_REQUEST_BODY_BYTES = 1024 * 1024


def security_headers(settings: Settings) -> dict[str, str]:
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        # Only framing is restricted: the API serves JSON, and the docs pages load their renderers' scripts.
        "Content-Security-Policy": "frame-ancestors 'none'",
    }
    if settings.is_production:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return headers


def security_headers_middleware(app: ASGIApp, headers: dict[str, str]) -> ASGIApp:
    """Adds ``headers`` to every HTTP response, error pages and unmatched routes included."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableScopeHeaders.from_message(message)
                for name, value in headers.items():
                    response_headers[name] = value
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


def build_cors_config(settings: Settings) -> CORSConfig | None:
    """CORS exactly as configured: no origins configured means no CORS headers at all."""
    if not settings.cors_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["Location", "X-Request-ID", "Retry-After"],
        max_age=600,
    )
