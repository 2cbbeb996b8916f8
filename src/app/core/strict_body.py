"""JSON request bodies checked strictly against their schema, as the OpenAPI document describes them.

Litestar converts a body to its Struct in msgspec's lax mode, meant for query strings, so ``0`` passes for a boolean,
``"12"`` for an integer and a number for a timestamp: requests the document says are invalid would be honoured.
:func:`reject_coerced_body` runs before a handler that takes a JSON body and decodes the body strictly first; a value
that needs coercing is a 422 naming the field. Malformed JSON is left to Litestar's own 400.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException

if TYPE_CHECKING:
    from litestar import Request
    from litestar.handlers import HTTPRouteHandler

__all__ = ("reject_coerced_body",)

_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")
_BODY_TYPES: dict[HTTPRouteHandler, type[Any] | None] = {}


def _json_body_type(handler: HTTPRouteHandler) -> type[Any] | None:
    """The type of the handler's JSON ``data``, if it takes one; read from its signature once."""
    if handler not in _BODY_TYPES:
        data = handler.parsed_fn_signature.parameters.get("data")
        takes_json = data is not None and (
            data.kwarg_definition is None
            or getattr(data.kwarg_definition, "media_type", None) == RequestEncodingType.JSON
        )
        _BODY_TYPES[handler] = data.annotation if data is not None and takes_json else None
    return _BODY_TYPES[handler]


async def reject_coerced_body(request: Request[Any, Any, Any]) -> None:
    """Raise a 422 ``ValidationException`` if the request's JSON body is not its type without coercion."""
    body_type = _json_body_type(request.route_handler)
    if body_type is None:
        return
    try:
        msgspec.json.decode(await request.body(), type=body_type)
    except msgspec.ValidationError as exc:
        message, _, location = str(exc).partition(" - at `$")
        path = [location.removeprefix(".").rstrip("`")] if location.startswith(".") else []
        if missing := _MISSING_FIELD.search(message):
            path.append(missing.group(1))
        problem = {"message": message, "source": "body"} | ({"key": ".".join(path)} if path else {})
        raise ValidationException(
            f"Validation failed for {request.method} {request.url.path}", extra=[problem]
        ) from None
    except msgspec.DecodeError:
        return
