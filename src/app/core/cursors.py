"""Page cursors: where a keyset page starts, as an opaque token the client sends back and cannot forge or alter.

A cursor holds the sort key of the row a page starts after (or, going back, before), which way it reads, and a
fingerprint of the listing it belongs to: the listing's name, order and filters. The token is URL-safe base64 of that
payload (MessagePack) followed by its HMAC-SHA256, under a key derived from ``SECRET_KEY`` by HMAC under a label of
its own, so it is never the key that signs tokens.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from app.core.errors import BadRequestError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("FOREIGN_CURSOR", "INVALID_CURSOR", "CursorCodec", "Position", "listing_fingerprint", "page_cursors")

INVALID_CURSOR = "The cursor is not one this API issued, or it was altered; start again without `cursor`"
FOREIGN_CURSOR = (
    "The cursor belongs to another listing, sort order or filter; send it with the query parameters of the link it "
    "came from, or start again without `cursor`"
)
_TAG_BYTES = 16
_FINGERPRINT_BYTES = 8
_ENCODER = msgspec.msgpack.Encoder(uuid_format="bytes")
_ENVELOPE = msgspec.msgpack.Decoder(tuple[bytes, bool, msgspec.Raw])


def listing_fingerprint(listing: Sequence[object]) -> bytes:
    """A short digest of a listing's name, order and filter values, which a cursor must carry to be used on it."""
    return hashlib.sha256(_ENCODER.encode(listing)).digest()[:_FINGERPRINT_BYTES]


@dataclass(frozen=True, slots=True)
class Position:
    """The boundary row's sort key (ending with its id), and whether the page reads the rows before it."""

    key: tuple[Any, ...]
    backward: bool


class CursorCodec:
    """Seals positions into cursors and opens them again, refusing any it did not seal for the same listing."""

    __slots__ = ("_key",)

    LABEL = b"inkwell: page cursors"

    def __init__(self, secret_key: str) -> None:
        self._key = hmac.new(secret_key.encode(), self.LABEL, hashlib.sha256).digest()

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_TAG_BYTES]

    def seal(self, fingerprint: bytes, position: Position) -> str:
        payload = _ENCODER.encode((fingerprint, position.backward, position.key))
        return base64.urlsafe_b64encode(payload + self._tag(payload)).rstrip(b"=").decode("ascii")

    def open(self, cursor: str, fingerprint: bytes, key_type: Any) -> Position:
        """The position ``cursor`` names in the listing of ``fingerprint``, its key decoded as ``key_type``.

        Raises:
            BadRequestError: the cursor is malformed or altered, or it belongs to another listing.
        """
        try:
            sealed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise BadRequestError(INVALID_CURSOR) from None
        payload, tag = sealed[:-_TAG_BYTES], sealed[-_TAG_BYTES:]
        if len(sealed) <= _TAG_BYTES or not hmac.compare_digest(tag, self._tag(payload)):
            raise BadRequestError(INVALID_CURSOR)
        try:
            issued_for, backward, key = _ENVELOPE.decode(payload)
            if issued_for != fingerprint:
                raise BadRequestError(FOREIGN_CURSOR)
            return Position(msgspec.msgpack.decode(key, type=key_type), backward)
        except (msgspec.DecodeError, msgspec.ValidationError):
            # Sealed by this key but not readable as this listing's key: a cursor of an older layout.
            raise BadRequestError(INVALID_CURSOR) from None


@functools.cache
def page_cursors(secret_key: str) -> CursorCodec:
    """The app's one codec for its ``SECRET_KEY``: the key is derived once, not per request."""
    return CursorCodec(secret_key)
