"""Retries that race: the same keyed request sent at once to two web processes on one database is done once, and
every answer is the first one."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.core.settings import Settings
from app.posts.models import Post
from tests.conftest import process_environment
from tests.factories import API, DEFAULT_PASSWORD, unique_email
from tests.servers import granian

ATTEMPTS_PER_PROCESS = 4
TIMEOUT = 30.0


@pytest.fixture
def two_web_processes(settings: Settings, empty_database: Engine) -> Iterator[tuple[str, str]]:
    environment = process_environment(settings)
    with granian("app.main:app", "asgi", environment) as first, granian("app.main:app", "asgi", environment) as second:
        yield first, second


def _signed_in(base_url: str) -> dict[str, str]:
    email = unique_email("racer")
    registered = httpx.post(f"{base_url}{API}/auth/register", json={"email": email, "password": DEFAULT_PASSWORD})
    assert registered.status_code == 201, registered.text
    tokens = httpx.post(f"{base_url}{API}/auth/login", data={"username": email, "password": DEFAULT_PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


def test_the_same_keyed_post_sent_at_once_to_two_processes_is_created_once(
    two_web_processes: tuple[str, str], migrated: Engine
) -> None:
    headers = {**_signed_in(two_web_processes[0]), "Idempotency-Key": str(uuid.uuid4())}
    body = {"title": "Raced", "content": "Sent eight times at once.", "is_published": True}
    targets = [url for url in two_web_processes for _ in range(ATTEMPTS_PER_PROCESS)]
    start = threading.Barrier(len(targets))

    def send(base_url: str) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
            start.wait()
            return http.post(f"{API}/posts", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        answers = list(pool.map(send, targets))

    assert [answer.status_code for answer in answers] == [201] * len(targets), [a.text for a in answers]
    assert len({answer.content for answer in answers}) == 1
    assert len({answer.headers["Location"] for answer in answers}) == 1
    assert sum(answer.headers.get("Idempotent-Replayed") == "true" for answer in answers) == len(targets) - 1
    with Session(migrated) as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 1
