"""Where a request came from: the client's address, its user agent and the request's id.

Sessions record the first two; everything that answers "who did this, from where" reads them here, so the address
behind a proxy is worked out one way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from app.core.request_context import current_request_id

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection

__all__ = ("IP_ADDRESS_MAX_LENGTH", "USER_AGENT_MAX_LENGTH", "RequestOrigin", "client_ip", "request_origin")

# Both come from request headers, so what is kept of them is capped.
USER_AGENT_MAX_LENGTH = 512
IP_ADDRESS_MAX_LENGTH = 64


class RequestOrigin(msgspec.Struct, frozen=True):
    """The client address (see :func:`client_ip`), its ``User-Agent`` header if any, and the request id; the first two
    at most :data:`IP_ADDRESS_MAX_LENGTH` and :data:`USER_AGENT_MAX_LENGTH` characters."""

    ip_address: str
    user_agent: str | None = None
    request_id: str | None = None


def client_ip(connection: ASGIConnection[Any, Any, Any, Any], trusted_proxy_hops: int) -> str:
    """The client address: the socket peer, or behind N trusted proxies the Nth address from the right of
    ``X-Forwarded-For`` (each proxy appends the address it saw, so only those entries are trustworthy)."""
    peer = connection.client.host if connection.client else "unknown"
    if trusted_proxy_hops <= 0:
        return peer
    forwarded = [part.strip() for part in connection.headers.get("x-forwarded-for", "").split(",") if part.strip()]
    if len(forwarded) < trusted_proxy_hops:
        return forwarded[0] if forwarded else peer
    return forwarded[-trusted_proxy_hops]


def request_origin(connection: ASGIConnection[Any, Any, Any, Any], trusted_proxy_hops: int) -> RequestOrigin:
    """Where the request on ``connection`` came from."""
    user_agent = connection.headers.get("user-agent")
    return RequestOrigin(
        ip_address=client_ip(connection, trusted_proxy_hops)[:IP_ADDRESS_MAX_LENGTH],
        user_agent=None if user_agent is None else user_agent[:USER_AGENT_MAX_LENGTH],
        request_id=current_request_id(),
    )
