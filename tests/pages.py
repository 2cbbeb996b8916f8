"""Paging through a listing as a client does: following the ``next`` and ``prev`` links, checked against ``Link``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from litestar import Litestar
    from litestar.testing import TestClient

_LINK = re.compile(r'<([^>]*)>; rel="([a-z]+)"')


@dataclass(frozen=True)
class Fetched:
    """One page as answered: its body, and its ``Link`` header as ``{rel: url}``."""

    body: dict[str, Any]
    links: dict[str, str]

    @property
    def ids(self) -> list[str]:
        return [item["id"] for item in self.body["items"]]

    @property
    def cursor(self) -> str:
        """The cursor of the ``next`` link."""
        return query_of(self.body["next"])["cursor"]


def query_of(url: str) -> dict[str, str]:
    return {name: values[-1] for name, values in parse_qs(urlsplit(url).query).items()}


def links_of(header: str) -> dict[str, str]:
    links = {rel: url for url, rel in _LINK.findall(header)}
    assert ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items()) == header, header
    return links


def fetch(client: TestClient[Litestar], url: str, headers: Mapping[str, str] | None = None, **params: Any) -> Fetched:
    response = client.get(url, params=params or None, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    links = links_of(response.headers["link"])
    # The body's links and the header's are the same URLs; the header also names the first page.
    assert {rel: url for rel, url in links.items() if rel != "first"} == {
        rel: body[rel] for rel in ("next", "prev") if body[rel] is not None
    }
    assert "cursor" not in links["first"]
    assert "page=" not in links["first"]
    return Fetched(body, links)


def walk(
    client: TestClient[Litestar],
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    between: Callable[[], object] | None = None,
    **params: Any,
) -> list[Fetched]:
    """Every page from the first on, following ``next`` (calling ``between`` after each page)."""
    pages = [fetch(client, url, headers, **params)]
    while (following := pages[-1].body["next"]) is not None:
        if between is not None:
            between()
        pages.append(fetch(client, following, headers))
        assert len(pages) < 1_000, "the next links go round in a circle"
    return pages


def walk_back(client: TestClient[Litestar], last: Fetched, headers: Mapping[str, str] | None = None) -> list[Fetched]:
    """Every page before ``last``, following ``prev``, nearest first."""
    pages: list[Fetched] = []
    current = last
    while (preceding := current.body["prev"]) is not None:
        current = fetch(client, preceding, headers)
        pages.append(current)
        assert len(pages) < 1_000, "the prev links go round in a circle"
    return pages


def flatten(pages: list[Fetched]) -> list[str]:
    return [item for page in pages for item in page.ids]
