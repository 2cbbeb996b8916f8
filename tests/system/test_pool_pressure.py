"""More requests in flight than handler threads and pooled connections: each is answered, none waits out the pool.

A request's ORM session holds a pooled connection until it is closed. If closing it needed a handler thread while
every handler thread waited for a connection, the process would stall until the pool's timeout and answer 503.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import migrate, process_environment
from tests.factories import API
from tests.servers import granian

IN_FLIGHT = 24
ROUNDS = 5


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pressure.sqlite3'}"
    postgres_url: str = request.getfixturevalue("postgres_url")
    return postgres_url


ENTRIES = {"asgi": ("app.main:app", ()), "wsgi": ("app.wsgi:application", ("--blocking-threads", "2"))}


@pytest.mark.parametrize("interface", ENTRIES)
def test_orm_routes_under_more_concurrency_than_threads_and_connections(database: str, interface: str) -> None:
    target, options = ENTRIES[interface]
    env = process_environment(
        migrate(database),
        WEB_THREADS="2",
        DATABASE_POOL_SIZE="2",
        DATABASE_MAX_OVERFLOW="0",
        DATABASE_POOL_TIMEOUT_SECONDS="3",
    )
    with granian(target, interface, env, *options) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        email = f"pressure-{interface}-{Path(database).name}@example.com"
        registered = client.post(f"{API}/auth/register", json={"email": email, "password": "pressure-1"})
        assert registered.status_code == 201, registered.text
        login = client.post(f"{API}/auth/login", data={"username": email, "password": "pressure-1"})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        post = client.post(f"{API}/posts", headers=headers, json={"title": "t", "content": "c", "is_published": True})
        assert post.status_code == 201, post.text
        post_path = f"{API}/posts/{post.json()['id']}"

        def read_then_write(index: int) -> tuple[int, int]:
            read = client.get(post_path)
            written = client.post(
                f"{API}/posts", headers=headers, json={"title": f"p{index}", "content": "c", "is_published": False}
            )
            return read.status_code, written.status_code

        with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
            statuses = list(pool.map(read_then_write, range(IN_FLIGHT * ROUNDS)))
    assert statuses == [(200, 201)] * (IN_FLIGHT * ROUNDS)
