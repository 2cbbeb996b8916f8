"""``GET /health``: the cheap liveness probe; it touches no dependency."""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import get

__all__ = ("HealthResponse", "health")


class HealthResponse(msgspec.Struct):
    status: Literal["healthy"] = "healthy"


HEALTHY = HealthResponse()


@get("/health", operation_id="health", tags=["system"], exclude_from_auth=True)
async def health() -> HealthResponse:
    """Liveness: answers as long as the process serves requests."""
    return HEALTHY
