"""The WSGI bridge, in process: bodies in several chunks, responses intact, sync handlers on the WSGI thread."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from litestar import Litestar, get, post
from litestar.concurrency import set_asyncio_executor
from litestar.params import RawBody

from app.core.wsgi_bridge import REQUEST_CHUNK_BYTES, InlineExecutor, LifespanThread, WSGIApplication

BLOCKED_SECONDS = 5.0


class Response:
    def __init__(self) -> None:
        self.status = ""
        self.headers: dict[str, str] = {}
        self.written: list[bytes] = []

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None, /
    ) -> Callable[[bytes], object]:
        self.status = status
        self.headers = dict(headers)
        return self.written.append


def call(application: WSGIApplication, method: str, path: str, body: bytes = b"") -> tuple[Response, bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/octet-stream",
        "wsgi.input": io.BytesIO(body),
    }
    setup_testing_defaults(environ)
    response = Response()
    body_out = b"".join(application(environ, response.start_response))
    assert not response.written, "the bridge returns the body; it never calls write()"
    return response, body_out


both_arrived = threading.Barrier(2, timeout=BLOCKED_SECONDS)


@post("/digest", sync_to_thread=True)
def digest(body: RawBody) -> dict[str, Any]:
    return {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@get("/thread", sync_to_thread=True)
def thread() -> dict[str, int]:
    return {"thread": threading.get_ident()}


@get("/rendezvous", sync_to_thread=True)
def rendezvous() -> None:
    both_arrived.wait()


@get("/broken", sync_to_thread=True)
def broken() -> None:
    raise RuntimeError("handler failed")


@pytest.fixture
def application() -> Iterator[WSGIApplication]:
    set_asyncio_executor(InlineExecutor())
    app = Litestar([digest, thread, rendezvous, broken], request_max_body_size=1_000_000)
    lifespan = LifespanThread(app)
    try:
        yield WSGIApplication(app)
    finally:
        lifespan.close()
        set_asyncio_executor(None)


def test_a_body_longer_than_one_chunk_arrives_whole(application: WSGIApplication) -> None:
    body = bytes(range(256)) * (3 * REQUEST_CHUNK_BYTES // 256 + 7)
    response, content = call(application, "POST", "/digest", body)
    assert response.status == "201 Created"
    assert response.headers["content-type"] == "application/json"
    assert json.loads(content) == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def test_an_empty_body_arrives_empty(application: WSGIApplication) -> None:
    _, content = call(application, "POST", "/digest")
    assert json.loads(content) == {"length": 0, "sha256": hashlib.sha256(b"").hexdigest()}


def test_a_sync_handler_runs_on_the_calling_thread(application: WSGIApplication) -> None:
    with ThreadPoolExecutor(max_workers=1) as server_thread:
        caller = server_thread.submit(threading.get_ident).result()
        _, content = server_thread.submit(call, application, "GET", "/thread").result()
    assert json.loads(content) == {"thread": caller}


def test_threads_serve_requests_at_the_same_time(application: WSGIApplication) -> None:
    """Each handler waits for the other: with one shared loop and inline handlers the first would block the second."""
    with ThreadPoolExecutor(max_workers=2) as server_threads:
        calls = [server_threads.submit(call, application, "GET", "/rendezvous") for _ in range(2)]
        statuses = [future.result(timeout=2 * BLOCKED_SECONDS)[0].status for future in calls]
    assert statuses == ["200 OK", "200 OK"]


def test_a_failing_handler_is_answered_with_a_json_error(application: WSGIApplication) -> None:
    response, content = call(application, "GET", "/broken")
    assert response.status == "500 Internal Server Error"
    assert json.loads(content) == {"status_code": 500, "detail": "Internal Server Error"}


def test_unknown_path_is_a_404(application: WSGIApplication) -> None:
    response, content = call(application, "GET", "/nowhere")
    assert response.status == "404 Not Found"
    assert json.loads(content)["status_code"] == 404
