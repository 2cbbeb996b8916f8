"""JSON request bodies checked strictly against their schema, as the OpenAPI document describes them.

Litestar converts a body to its Struct in msgspec's lax mode, meant for query strings, so ``0`` passes for a boolean,
``"12"`` for an integer and a number for a timestamp: requests the document says are invalid would be honoured.
:func:`reject_coerced_body` runs before a handler that takes a JSON body and decodes the body strictly first; a value
that needs coercing is a 422 naming the field. Malformed JSON is left to Litestar's own 400.

msgspec stops at the first invalid value; :func:`body_errors` then checks the body's members one by one, so the 422
names every invalid field, as Litestar's own validation does for parameters.
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

__all__ = ("body_errors", "reject_coerced_body")

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


def _error(exc: msgspec.ValidationError, prefix: str = "") -> dict[str, str]:
    """msgspec's error as one of Litestar's validation messages: ``{message, source, key?}``, the key being the path
    of the invalid member below ``prefix`` (``title``; ``a.b`` and ``a[0]`` below a member)."""
    message, _, location = str(exc).partition(" - at `$")
    key = prefix + location.removesuffix("`")
    if missing := _MISSING_FIELD.search(message):
        key = f"{key}.{missing.group(1)}" if key else missing.group(1)
    return {"message": message, "source": "body"} | ({"key": key.removeprefix(".")} if key else {})


def body_errors(value: Any, body_type: type[Any], *, strict: bool = True) -> list[dict[str, str]]:
    """Why ``value`` (a decoded body) is not a ``body_type``: every invalid member of an object for a Struct, else
    msgspec's one error; empty if it is one. ``strict=False`` converts as for a form, whose values are all text."""
    try:
        msgspec.convert(value, body_type, strict=strict)
    except msgspec.ValidationError as exc:
        whole = exc
    else:
        return []
    errors = []
    if isinstance(value, dict) and isinstance(body_type, type) and issubclass(body_type, msgspec.Struct):
        for field in msgspec.structs.fields(body_type):
            name = field.encode_name
            if name not in value:
                if field.required:
                    errors.append({"message": f"Object missing required field `{name}`", "source": "body", "key": name})
                continue
            try:
                msgspec.convert(value[name], field.type, strict=strict)
            except msgspec.ValidationError as exc:
                errors.append(_error(exc, name))
    # A rule of the whole object (an unknown member, a check across members) shows only in msgspec's own error.
    return errors or [_error(whole)]


async def reject_coerced_body(request: Request[Any, Any, Any]) -> None:
    """Raise a 422 ``ValidationException`` naming every invalid field if the request's JSON body is not its type
    without coercion."""
    body_type = _json_body_type(request.route_handler)
    if body_type is None:
        return
    body = await request.body()
    try:
        msgspec.json.decode(body, type=body_type)
    except msgspec.ValidationError:
        try:
            value = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return  # msgspec refused a value before it reached what is not JSON (``7 }``)
        errors = body_errors(value, body_type)
        raise ValidationException(f"Validation failed for {request.method} {request.url.path}", extra=errors) from None
    except msgspec.DecodeError:
        return
