"""Request ids: accepted from ``X-Request-ID`` or generated, returned on the response, and kept in a context
variable so every log line of the request (and every task it enqueues) carries it."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from litestar.types import Scope

__all__ = (
    "REQUEST_ID_HEADER",
    "RequestIdLogFilter",
    "bind_request_id",
    "current_request_id",
    "request_id_for",
    "unbind_request_id",
)

REQUEST_ID_HEADER = "x-request-id"
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Generated ids: a random per-process prefix and a counter; unique across processes and far cheaper than uuid4.
_ID_PREFIX = secrets.token_hex(8)
_id_sequence = itertools.count(1)
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return _request_id.get()


def bind_request_id(request_id: str | None) -> Token[str | None]:
    """Make ``request_id`` current: for a request being served, or in a worker running a task it enqueued."""
    return _request_id.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    """Restore the request id that was current before :func:`bind_request_id` returned ``token``."""
    _request_id.reset(token)


class RequestIdLogFilter(logging.Filter):
    """Stamps each log record with the current request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


def request_id_for(scope: Scope) -> str:
    """The id of the request in ``scope``: the client's ``X-Request-ID`` if plain, else a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            # A client-chosen id is kept only if it is short and plain, so it cannot forge log lines.
            if _ACCEPTABLE_ID.match(candidate):
                return candidate
            break
    return f"{_ID_PREFIX}{next(_id_sequence):08x}"
