"""Entity tags (RFC 9110, section 8.8.3) of representations, and the preconditions that compare them.

A tag is a digest of the JSON a representation is sent as, so it changes exactly when the representation does, and a
service can compute the tag of what it is about to change without going through HTTP.
"""

from __future__ import annotations

import base64
import hashlib

import msgspec

from app.core.errors import PreconditionFailedError

__all__ = ("PRECONDITION_FAILED", "check_if_match", "entity_tag", "matches_any", "tag_of")

PRECONDITION_FAILED = "The resource changed since the ETag in If-Match was read; read it again and retry"


def entity_tag(body: bytes) -> str:
    """The strong entity tag of a representation sent as ``body``: 128 bits of its SHA-256, quoted."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()[:16]).rstrip(b"=").decode("ascii")
    return f'"{digest}"'


def tag_of(representation: object) -> str:
    """The tag of ``representation`` as the API sends it (its JSON)."""
    return entity_tag(msgspec.json.encode(representation))


def _candidates(header: str) -> list[str]:
    return [candidate.strip() for candidate in header.split(",")]


def matches_any(header: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header value names ``tag``: ``*``, or a list of tags compared by their opaque
    part (a weak ``W/`` prefix is ignored: the weak comparison that header asks for)."""
    if header is None:
        return False
    candidates = _candidates(header)
    return "*" in candidates or tag in (candidate.removeprefix("W/") for candidate in candidates)


def check_if_match(if_match: str | None, current: object | None) -> None:
    """Let a change go ahead only if ``If-Match`` (when the request has one) names the current representation.

    The comparison is strong (a weak ``W/`` tag never matches); ``*`` matches any current representation, and nothing
    matches when there is none.

    Raises:
        PreconditionFailedError: the representation changed since the client read it (412).
    """
    if if_match is None:
        return
    candidates = _candidates(if_match)
    if current is not None and ("*" in candidates or tag_of(current) in candidates):
        return
    raise PreconditionFailedError(PRECONDITION_FAILED)
