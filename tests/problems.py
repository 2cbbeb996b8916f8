"""Reading error responses as a client does: problem details (RFC 9457), checked to be one."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import httpx

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem(response: httpx.Response) -> dict[str, Any]:
    """The problem details of ``response``, without the members that name the occurrence (``instance``, the request's
    path, and ``request_id``, its ``X-Request-ID``), which are checked here."""
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert body.pop("status") == response.status_code, body
    assert body.pop("instance") == response.request.url.path, body
    assert body.pop("request_id") == response.headers["x-request-id"], body
    return {"status": response.status_code, **body}


def about_blank(status: int, detail: str) -> dict[str, Any]:
    """The problem of a plain HTTP ``status``: nothing more specific than the status."""
    return {"status": status, "type": "about:blank", "title": HTTPStatus(status).phrase, "detail": detail}


def invalid_fields(response: httpx.Response) -> list[tuple[str, str]]:
    """``(source, field)`` of each invalid value a ``422`` names, in its order."""
    body = problem(response)
    assert (body["status"], body["type"]) == (422, "urn:inkwell:problem:validation-failed"), body
    return [(error["source"], error["field"]) for error in body["errors"]]


def retry_later(response: httpx.Response, detail: str) -> int:
    """The seconds a ``429`` or ``503`` asks to wait: its ``Retry-After`` header, which its body repeats."""
    seconds = int(response.headers["retry-after"])
    kinds = {
        429: ("urn:inkwell:problem:too-many-requests", "Too many requests"),
        503: ("urn:inkwell:problem:temporarily-unavailable", "Temporarily unavailable"),
    }
    kind, title = kinds[response.status_code]
    expected = {"status": response.status_code, "type": kind, "title": title, "detail": detail, "retry_after": seconds}
    assert problem(response) == expected
    return seconds
