"""HTTP hardening shared by every route: security headers, body size limit, CORS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.config.cors import CORSConfig

if TYPE_CHECKING:
    from app.core.settings import Settings

__all__ = ("MAX_REQUEST_BODY_BYTES", "build_cors_config", "security_headers")

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
