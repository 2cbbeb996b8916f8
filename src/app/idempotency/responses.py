"""The ``Idempotency-Key`` header of a POST, and the response of a request sent with one: the work's own, or the
stored answer of the first request with that key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Response
from litestar.datastructures import ResponseHeader
from litestar.enums import MediaType
from litestar.params import HeaderParameter
from litestar.serialization import encode_json
from litestar.status_codes import HTTP_200_OK

from app.idempotency.service import KEY_HEADER, Answer

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable

    from litestar import Request

    from app.idempotency.service import IdempotencyService

__all__ = ("REPLAYED_HEADER", "REPLAY_HEADERS", "IdempotencyKeyHeader", "respond_once")

REPLAYED_HEADER = "Idempotent-Replayed"

IdempotencyKeyHeader = Annotated[
    str | None,
    HeaderParameter(
        name=KEY_HEADER,
        required=False,
        min_length=1,
        max_length=255,
        # Visible ASCII, as in a structured-field string; spelled as a range both Python and JSON Schema read alike.
        pattern="^[!-~]+$",
        description=(
            "a key unique to this request (e.g. a UUID): sent again with the same request within the key's lifetime"
            " (24 hours by default), it is not carried out again and the first answer is replayed; with another"
            " request it is 422"
        ),
    ),
]
"""The ``Idempotency-Key`` header, for a handler's parameters."""

REPLAY_HEADERS = [
    ResponseHeader(
        name=REPLAYED_HEADER,
        description="`true` when this is the stored answer of an earlier request with the same Idempotency-Key",
        documentation_only=True,
    )
]
"""The ``response_headers`` of a handler that takes an ``Idempotency-Key``, for its OpenAPI operation."""


def _request_identity(request: Request[Any, Any, Any], body: object) -> bytes:
    # The validated body, so that whitespace or key order in the JSON sent does not make a retry a new request.
    return b"%s %s\n%s" % (request.method.encode(), request.scope["path"].encode(), msgspec.json.encode(body))


def _answer(response: Response[Any]) -> Answer:
    body = response.content if isinstance(response.content, bytes) else encode_json(response.content)
    return Answer(response.status_code or HTTP_200_OK, body, response.headers.get("Location"))


def _response(answer: Answer, *, replayed: bool) -> Response[Any]:
    headers = {"Location": answer.location} if answer.location else {}
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return Response(answer.body, status_code=answer.status_code, headers=headers, media_type=MediaType.JSON)


def respond_once(
    idempotency: IdempotencyService,
    request: Request[Any, Any, Any],
    work: Callable[[], Response[Any]],
    *,
    key: str | None,
    caller_id: uuid.UUID | None,
    body: object,
) -> Response[Any]:
    """``work``'s response; with an ``Idempotency-Key`` (``key``), at most once per key: a repeat of the same
    request (method, path, ``body``) by the same caller gets the first answer again.

    Raises:
        InvalidValueError: the key was sent with another request.
        InProgressError: the first request with the key has not answered yet.
    """
    if key is None:
        return work()
    keyed = idempotency.identify(key, caller_id, _request_identity(request, body))
    answer, replayed = idempotency.answer_once(keyed, lambda: _answer(work()))
    return _response(answer, replayed=replayed)
