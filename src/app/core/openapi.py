"""OpenAPI document settings and helpers for operations Litestar cannot describe from signatures alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Operation

if TYPE_CHECKING:
    from litestar.openapi.spec import RequestBody

    from app.core.settings import Settings

__all__ = ("build_openapi_config", "with_request_body")


def with_request_body(request_body: RequestBody) -> type[Operation]:
    """An Operation class whose request body is ``request_body`` (e.g. one body accepted in two media types)."""

    @dataclass
    class OperationWithBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = request_body

    return OperationWithBody


def build_openapi_config(settings: Settings) -> OpenAPIConfig:
    return OpenAPIConfig(
        title=settings.project_name,
        version=settings.version,
        path="/schema",
        render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin()],
    )
