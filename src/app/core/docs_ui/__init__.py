"""The docs pages, Scalar and Swagger UI, loading their scripts and styles from Inkwell rather than from a CDN.

``assets/`` holds the renderers' released files, unmodified; the README's "Docs UI" section names their versions
and licences and says how to update them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.openapi.plugins import OpenAPIRenderPlugin, ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

__all__ = ("ASSETS_PATH", "DOCS_PATH", "build_docs_router", "render_plugins")

DOCS_PATH = "/schema"
"""Where the docs pages, their assets and the OpenAPI document are served; public (``app.auth.bearer.PUBLIC_PATHS``)."""
ASSETS_PATH = f"{DOCS_PATH}/assets"
"""Where the files of ``assets/`` are served, under the docs so they are as public as the pages."""
_ASSETS_DIR = Path(__file__).with_name("assets")

# Scalar's defaults call out: fonts from its own host, usage reports to its servers, and buttons (its AI agent, MCP,
# and on localhost a toolbar to share or deploy) that send the document there. The docs must work, and stay
# private, where only Inkwell is reachable.
_SCALAR_OPTIONS: dict[str, Any] = {
    "withDefaultFonts": False,
    "telemetry": False,
    "showDeveloperTools": "never",
    "agent": {"disabled": True},
    "mcp": {"disabled": True},
}
# An empty icon: without one the browser asks for /favicon.ico, a 404 in the access log on every visit.
_NO_FAVICON = "<link rel='icon' href='data:,'>"


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """Scalar (the default, at ``/schema`` and ``/schema/scalar``) and Swagger UI (``/schema/swagger``)."""
    swagger = f"{ASSETS_PATH}/swagger-ui"
    return [
        ScalarRenderPlugin(
            js_url=f"{ASSETS_PATH}/scalar/standalone.js",
            # The script injects its own styles. The plugin always links a stylesheet (by default a theme on a CDN);
            # an empty inline one fetches nothing.
            css_url="data:text/css,",
            options=_SCALAR_OPTIONS,
            favicon=_NO_FAVICON,
        ),
        SwaggerRenderPlugin(
            js_url=f"{swagger}/swagger-ui-bundle.js",
            css_url=f"{swagger}/swagger-ui.css",
            standalone_preset_js_url=f"{swagger}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{swagger}/favicon-32x32.png'>",
        ),
    ]


def build_docs_router() -> Router:
    """The router Litestar adds the docs pages to, already serving their assets at :data:`ASSETS_PATH`."""
    assets = create_static_files_router(
        ASSETS_PATH.removeprefix(DOCS_PATH), directories=[_ASSETS_DIR], name="docs_assets"
    )
    return Router(DOCS_PATH, route_handlers=[assets], include_in_schema=False)
