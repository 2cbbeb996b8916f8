"""The no-framework floor: the least code that does the work of ``GET /health``, ``GET /users/me`` and
``GET /posts/{id}``.

Served by granian like Inkwell, from the same environment (``DATABASE_URL``, ``SECRET_KEY``), as
``tests.benchmark.floor:asgi_app`` or ``tests.benchmark.floor:wsgi_app``. ``/api/v1/users/me`` verifies the
HS256 access token with PyJWT (the claims Inkwell requires, and ``type == "access"``), reads the user and
its profile with one ``SELECT`` by primary key through a psycopg 3 pool, provided the token's session (``sid``)
is live, as Inkwell checks in its one query, and encodes the same fields as Inkwell's ``UserResponse`` with
msgspec. ``/api/v1/posts/{id}`` is public: one ``SELECT`` of the post by primary key joined to its author, 404
unless it is published (what Inkwell answers an anonymous reader), and the fields of Inkwell's ``PostResponse``.
Whatever Inkwell spends beyond this is framework and ORM.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from datetime import datetime
from typing import Any

import jwt
import msgspec
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

__all__ = ("asgi_app", "wsgi_app")

HEALTH_PATH = "/health"
ME_PATH = "/api/v1/users/me"
POST_PATH_PREFIX = "/api/v1/posts/"
# Inkwell's defaults: DATABASE_POOL_SIZE connections kept, DATABASE_MAX_OVERFLOW more under load.
POOL_MIN_SIZE, POOL_MAX_SIZE = 10, 20
REQUIRED_CLAIMS = ["exp", "iat", "jti", "sub", "sid"]

USER_BY_ID = """
SELECT u.id, u.email, u.first_name, u.last_name, u.is_active, u.is_superuser, u.is_verified,
       u.created_at, u.updated_at, p.bio, p.avatar_url, p.id IS NOT NULL
FROM user_account AS u LEFT JOIN profile AS p ON p.user_id = u.id
WHERE u.id = %s
  AND EXISTS (SELECT 1 FROM login_session AS s WHERE s.id = %s AND s.user_id = u.id AND s.ended_at IS NULL)
"""
# The author's email only for the full name's fallback, as Inkwell reads it.
POST_BY_ID = """
SELECT p.id, p.title, p.content, p.is_published, p.published_at, p.created_at, p.updated_at,
       u.id, u.email, u.first_name, u.last_name
FROM post AS p JOIN user_account AS u ON u.id = p.author_id
WHERE p.id = %s
"""

Response = tuple[int, bytes]
ASGIScope = MutableMapping[str, Any]
ASGIReceive = Callable[[], Awaitable[MutableMapping[str, Any]]]
ASGISend = Callable[[MutableMapping[str, Any]], Awaitable[None]]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class Profile(msgspec.Struct):
    bio: str | None
    avatar_url: str | None


class User(msgspec.Struct):
    """The fields of Inkwell's ``UserResponse``, in its order."""

    id: uuid.UUID
    email: str
    first_name: str | None
    last_name: str | None
    full_name: str
    is_active: bool
    is_superuser: bool
    is_verified: bool
    profile: Profile | None
    created_at: datetime
    updated_at: datetime


class Author(msgspec.Struct):
    id: uuid.UUID
    full_name: str


class Post(msgspec.Struct):
    """The fields of Inkwell's ``PostResponse``, in its order."""

    id: uuid.UUID
    title: str
    content: str
    is_published: bool
    published_at: datetime | None
    author: Author
    created_at: datetime
    updated_at: datetime


ENCODER = msgspec.json.Encoder()
HEALTHY: Response = (200, ENCODER.encode({"status": "healthy"}))
UNAUTHORIZED: Response = (401, ENCODER.encode({"status_code": 401, "detail": "Unauthorized"}))
NOT_FOUND: Response = (404, ENCODER.encode({"status_code": 404, "detail": "Not Found"}))
REASONS = {200: "200 OK", 401: "401 Unauthorized", 404: "404 Not Found"}

_pool: ConnectionPool[Any] | None = None
_pool_lock = threading.Lock()


def _get_pool() -> ConnectionPool[Any]:
    """Opened on first use inside the worker process: a pool's threads do not survive a fork."""
    global _pool  # noqa: PLW0603  (one pool per worker process)
    with _pool_lock:
        if _pool is None:
            conninfo = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
            # Autocommit: one round trip per read, no BEGIN/ROLLBACK around it; that is the floor.
            _pool = ConnectionPool(
                conninfo, min_size=POOL_MIN_SIZE, max_size=POOL_MAX_SIZE, kwargs={"autocommit": True}, open=True
            )
        return _pool


def _full_name(first_name: str | None, last_name: str | None, email: str) -> str:
    return " ".join(part for part in (first_name, last_name) if part) or email


def _current_user(authorization: str | None) -> Response:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return UNAUTHORIZED
    try:
        claims = jwt.decode(token, os.environ["SECRET_KEY"], algorithms=["HS256"], options={"require": REQUIRED_CLAIMS})
        user_id, session_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
    except (jwt.InvalidTokenError, ValueError):
        return UNAUTHORIZED
    if claims.get("type") != "access":
        return UNAUTHORIZED
    with _get_pool().connection() as conn:
        row = conn.cursor(row_factory=tuple_row).execute(USER_BY_ID, (user_id, session_id)).fetchone()
    if row is None or not row[4]:
        return UNAUTHORIZED
    user_id, email, first, last, active, superuser, verified, created, updated, bio, avatar, has_profile = row
    full_name = _full_name(first, last, email)
    profile = Profile(bio=bio, avatar_url=avatar) if has_profile else None
    user = User(user_id, email, first, last, full_name, active, superuser, verified, profile, created, updated)
    return 200, ENCODER.encode(user)


def _published_post(post_id_text: str) -> Response:
    try:
        post_id = uuid.UUID(post_id_text)
    except ValueError:
        return NOT_FOUND
    with _get_pool().connection() as conn:
        row = conn.cursor(row_factory=tuple_row).execute(POST_BY_ID, (post_id,)).fetchone()
    # Read whatever its state and judged afterwards, as Inkwell does: an anonymous reader is not shown a draft.
    if row is None or not row[3]:
        return NOT_FOUND
    _, title, content, published, published_at, created, updated, author_id, email, first, last = row
    author = Author(author_id, _full_name(first, last, email))
    return 200, ENCODER.encode(Post(post_id, title, content, published, published_at, author, created, updated))


def _headers(body: bytes) -> list[tuple[str, str]]:
    return [("content-type", "application/json"), ("content-length", str(len(body)))]


async def asgi_app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
    """ASGI: ``/health`` on the event loop; the token check and the queries in the default executor, as
    Inkwell's ``sync_to_thread`` handlers run."""
    if scope["type"] == "lifespan":
        await receive()  # lifespan.startup: the pool opens on first use instead
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})
        return
    path: str = scope["path"]
    if path == HEALTH_PATH:
        status, body = HEALTHY
    elif path == ME_PATH:
        authorization = next((v.decode() for k, v in scope["headers"] if k == b"authorization"), None)
        status, body = await asyncio.get_running_loop().run_in_executor(None, _current_user, authorization)
    elif path.startswith(POST_PATH_PREFIX):
        post_id = path.removeprefix(POST_PATH_PREFIX)
        status, body = await asyncio.get_running_loop().run_in_executor(None, _published_post, post_id)
    else:
        status, body = NOT_FOUND
    headers = [(name.encode(), value.encode()) for name, value in _headers(body)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def wsgi_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """WSGI: granian runs each request on one of its blocking threads, so everything happens inline."""
    path = environ["PATH_INFO"]
    if path == HEALTH_PATH:
        status, body = HEALTHY
    elif path == ME_PATH:
        status, body = _current_user(environ.get("HTTP_AUTHORIZATION"))
    elif path.startswith(POST_PATH_PREFIX):
        status, body = _published_post(path.removeprefix(POST_PATH_PREFIX))
    else:
        status, body = NOT_FOUND
    start_response(REASONS[status], _headers(body))
    return [body]
