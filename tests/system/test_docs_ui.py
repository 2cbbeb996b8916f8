"""The docs pages work in a real browser where nothing but Inkwell is reachable.

Debian's ``chromium``, driven by Playwright (never a browser build of Playwright's own), loads the pages from a real
granian server. Every request a page makes for any other host is refused and recorded, and fails the test; so do
script errors and console errors (a Content-Security-Policy refusal is one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect, sync_playwright

from app.application import create_app
from app.core.docs_ui import ASSETS_PATH
from tests.conftest import installed, make_settings, migrate, process_environment
from tests.servers import REPO_ROOT, granian

DOCS_PAGES = ("/schema", "/schema/scalar", "/schema/swagger")
# Every wait is bounded (navigation, clicks, assertions): a page that does not render fails instead of hanging.
WAIT_MS = 15_000
ASSETS_DIR = REPO_ROOT / "src" / "app" / "core" / "docs_ui" / "assets"
# Python before 3.12 names JavaScript by its older type; both run under `X-Content-Type-Options: nosniff`.
SERVED_TYPES = frozenset({"text/javascript", "application/javascript", "text/css", "image/png"})
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


class _AssetReferences(HTMLParser):
    """The URLs a page's ``<script src>`` and ``<link href>`` tags load."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        self.urls += [value for name, value in attrs if name == wanted and value is not None]


def _asset_references(html: str) -> list[str]:
    parser = _AssetReferences()
    parser.feed(html)
    return parser.urls


def test_pages_load_only_assets_inkwell_serves_to_anyone(tmp_path: Path) -> None:
    with TestClient(app=create_app(make_settings(f"sqlite:///{tmp_path / 'docs.sqlite3'}"))) as client:
        for page in DOCS_PAGES:
            response = client.get(page)
            assert response.status_code == 200, page
            references = _asset_references(response.text)
            assert references, page
            served = [url for url in references if not url.startswith("data:")]
            assert all(url.startswith(f"{ASSETS_PATH}/") for url in served), (page, references)
            for url in served:
                # No token: the assets are as public as the pages.
                asset = client.get(url)
                assert asset.status_code == 200, url
                assert asset.headers["content-type"].split(";")[0] in SERVED_TYPES
        assert client.get(f"{ASSETS_PATH}/no-such-file.js").status_code == 404
        assert client.get(f"{ASSETS_PATH}/%2e%2e/__init__.py").status_code == 404


def test_readme_names_the_shipped_versions() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for folder in ("swagger-ui", "scalar"):
        package = json.loads((ASSETS_DIR / folder / "package.json").read_text(encoding="utf-8"))
        assert f"`{package['name']}@{package['version']}`" in readme, folder


class OfflinePage:
    """A browser page that may reach ``origin`` only; what it asked of anyone else, and what went wrong in it."""

    def __init__(self, page: Page, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.elsewhere: list[str] = []
        self.errors: list[str] = []
        page.set_default_timeout(WAIT_MS)
        page.context.route("**/*", self._only_origin)
        page.on("pageerror", lambda error: self.errors.append(f"script error: {error}"))
        page.on("console", self._console)

    def _only_origin(self, route: Route) -> None:
        if route.request.url.startswith(f"{self.origin}/"):
            route.continue_()
        else:
            self.elsewhere.append(route.request.url)
            route.abort("addressunreachable")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console error: {message.text}")

    def open(self, path: str) -> Page:
        self.page.goto(f"{self.origin}{path}", timeout=WAIT_MS)
        return self.page

    def assert_self_contained(self) -> None:
        assert self.elsewhere == []
        assert self.errors == []


@pytest.fixture(scope="module")
def docs_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("docs") / "docs.sqlite3"
    with granian("app.main:app", "asgi", process_environment(migrate(f"sqlite:///{database}"))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = installed("chromium", "chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True, timeout=WAIT_MS)
        yield launched
        launched.close()


@pytest.fixture
def offline_page(browser: Browser, docs_url: str) -> Iterator[OfflinePage]:
    # Blocked service workers: their requests would bypass the routing that keeps the page on Inkwell.
    context = browser.new_context(service_workers="block")
    try:
        yield OfflinePage(context.new_page(), docs_url)
    finally:
        context.close()


@pytest.fixture(scope="module")
def operations(docs_url: str) -> set[tuple[str, str]]:
    """Every ``(METHOD, path)`` of the OpenAPI document."""
    document = httpx.get(f"{docs_url}/schema/openapi.json", timeout=WAIT_MS / 1000).json()
    return {
        (method.upper(), path) for path, item in document["paths"].items() for method in item if method in HTTP_METHODS
    }


def test_swagger_ui_lists_every_operation_and_tries_one(
    offline_page: OfflinePage, operations: set[tuple[str, str]]
) -> None:
    page = offline_page.open("/schema/swagger")
    expect(page.locator(".opblock")).to_have_count(len(operations), timeout=WAIT_MS)

    health = page.locator("#operations-system-health")
    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    answer = health.locator(".live-responses-table tr.response")
    expect(answer.locator(".response-col_status")).to_have_text("200", timeout=WAIT_MS)
    expect(answer.locator(".response-col_description")).to_contain_text('"healthy"', timeout=WAIT_MS)
    offline_page.assert_self_contained()


def test_scalar_lists_every_operation(offline_page: OfflinePage, operations: set[tuple[str, str]]) -> None:
    page = offline_page.open("/schema")
    groups = page.locator("li[data-sidebar-id]")
    expect(groups.first).to_be_visible(timeout=WAIT_MS)
    collapsed = page.locator("li[data-sidebar-id] > div > button[aria-expanded='false']")
    # The sidebar opens the first tag only; the others open one click each.
    for _ in range(groups.count()):
        if collapsed.count() == 0:
            break
        collapsed.first.click()
    entries = page.locator("li[data-sidebar-id]:has(> a .sidebar-heading-type)")
    expect(entries).to_have_count(len(operations), timeout=WAIT_MS)

    listed = {
        (match[1], match[2])
        for entry in entries.evaluate_all("items => items.map((item) => item.dataset.sidebarId)")
        if (match := re.search(r"/tag/[^/]+/([A-Z]+)(/.*)$", entry))
    }
    assert listed == operations
    offline_page.assert_self_contained()
