"""Who may scrape ``/metrics``: the one rule, and the guard that applies it before any scrape work is done.

- a credential is configured (``METRICS_BEARER_TOKEN``, ``METRICS_BASIC_AUTH`` or both): one of them is required;
- none is configured: open in development and test, closed in production (every request is refused, saying what to
  set), so a forgotten variable never publishes the metrics.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from typing import TYPE_CHECKING, Any

from litestar.exceptions import NotAuthorizedException

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.handlers import BaseRouteHandler

    from app.core.settings import Settings

__all__ = ("STATE_KEY", "MetricsAccess", "credential_accepted", "requires_metrics_credential")

logger = logging.getLogger(__name__)

STATE_KEY = "metrics_access"
REALM = 'realm="metrics"'
CLOSED = "Metrics are closed in production until a credential is set: METRICS_BEARER_TOKEN or METRICS_BASIC_AUTH"
MISSING = "A metrics credential is required (Authorization: Bearer or Basic)"
WRONG = "The metrics credential is not valid"


def _header_bytes(value: str) -> bytes:
    # ASGI header values are decoded as latin-1, so this gives back the bytes the client sent.
    return value.encode("latin-1", errors="replace")


def credential_accepted(authorization: str | None, *, bearer_token: str | None, basic_auth: str | None) -> bool:
    """Whether an ``Authorization`` header value carries one of the configured credentials.

    ``bearer_token`` is compared with ``Bearer <token>``, ``basic_auth`` (``user:password``) with the decoded
    ``Basic`` credentials; a credential that is not configured accepts nothing. Compared in constant time.
    """
    if not authorization:
        return False
    scheme, _, credentials = authorization.strip().partition(" ")
    scheme, supplied = scheme.lower(), _header_bytes(credentials.strip())
    if scheme == "bearer" and bearer_token is not None:
        return hmac.compare_digest(supplied, bearer_token.encode())
    if scheme == "basic" and basic_auth is not None:
        try:
            decoded = base64.b64decode(supplied, validate=True)
        except binascii.Error:
            return False
        return hmac.compare_digest(decoded, basic_auth.encode())
    return False


class MetricsAccess:
    """The access rule for ``/metrics`` under one configuration."""

    __slots__ = ("basic_auth", "bearer_token", "challenge", "closed", "open")

    def __init__(self, settings: Settings) -> None:
        self.bearer_token = settings.metrics_bearer_token
        self.basic_auth = settings.metrics_basic_auth
        configured = self.bearer_token is not None or self.basic_auth is not None
        self.open = not configured and not settings.is_production
        self.closed = not configured and settings.is_production
        schemes = [
            scheme
            for scheme, secret in (("Bearer", self.bearer_token), ("Basic", self.basic_auth))
            if secret is not None or self.closed
        ]
        # One header, several challenges (RFC 9110 11.6.1): the client picks the scheme it was given a secret for.
        self.challenge = ", ".join(f"{scheme} {REALM}" for scheme in schemes)
        if self.closed:
            logger.warning("/metrics refuses every request: set METRICS_BEARER_TOKEN or METRICS_BASIC_AUTH")

    def check(self, authorization: str | None) -> None:
        """Let the request through, or refuse it.

        Raises:
            NotAuthorizedException: 401 with ``WWW-Authenticate`` naming the accepted schemes.
        """
        if self.open:
            return
        if self.closed:
            detail = CLOSED
        elif credential_accepted(authorization, bearer_token=self.bearer_token, basic_auth=self.basic_auth):
            return
        else:
            detail = WRONG if authorization else MISSING
        raise NotAuthorizedException(detail, headers={"WWW-Authenticate": self.challenge})


async def requires_metrics_credential(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The guard of ``GET /metrics``. A coroutine: the check is a comparison, not worth a thread hop."""
    access: MetricsAccess = connection.app.state[STATE_KEY]
    access.check(connection.headers.get("authorization"))
