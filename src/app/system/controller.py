"""Liveness (``GET /health``, touches nothing) and readiness (``GET /health/ready``, checks each dependency)."""

from __future__ import annotations

import asyncio
from typing import Literal

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from sqlalchemy import Engine

from app.core.openapi import PUBLIC
from app.core.settings import Settings
from app.system.readiness import DependencyState, check_broker, check_database

__all__ = ("HealthController", "HealthResponse", "ReadinessResponse")


class HealthResponse(msgspec.Struct):
    status: Literal["healthy"] = "healthy"


class ReadinessResponse(msgspec.Struct, kw_only=True):
    status: Literal["ready", "unavailable"]
    database: DependencyState
    broker: DependencyState


HEALTHY = HealthResponse()


class HealthController(Controller):
    path = "/health"
    tags = ["system"]

    @get("/", operation_id="health", security=PUBLIC, exclude_from_auth=True)
    async def health(self) -> HealthResponse:
        """Liveness: answers as long as the process serves requests."""
        return HEALTHY

    @get(
        "/ready",
        operation_id="readiness",
        security=PUBLIC,
        exclude_from_auth=True,
        responses={
            HTTP_503_SERVICE_UNAVAILABLE: ResponseSpec(
                data_container=ReadinessResponse, description="A dependency failed; the body names it"
            )
        },
    )
    async def ready(
        self, db_engine: NamedDependency[Engine], settings: NamedDependency[Settings]
    ) -> Response[ReadinessResponse]:
        """Readiness: 200 when the database and the broker answer, else 503 naming the one that failed."""
        database, broker = await asyncio.gather(check_database(db_engine), check_broker(settings))
        ready = database.status == broker.status == "ok"
        body = ReadinessResponse(status="ready" if ready else "unavailable", database=database, broker=broker)
        return Response(body, status_code=HTTP_200_OK if ready else HTTP_503_SERVICE_UNAVAILABLE)
