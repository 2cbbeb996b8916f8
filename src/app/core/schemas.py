"""Constrained field types shared by request bodies."""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = ("EMAIL_PATTERN", "HTTP_URL_PATTERN", "NO_NUL", "Email", "Name", "Password")

# Text stored in the database may not contain NUL: PostgreSQL rejects it, so it is refused at the door (422).
NO_NUL = r"^[^\x00]*$"

# Whitespace spelled out: ``\s`` means other characters in Python's regular expressions than in JSON Schema's
# (ECMA-262), and clients validate against the document with the latter.
_SPACE = r" \t\n\r\f\v"
EMAIL_PATTERN = rf"^[{_SPACE}]*[^@{_SPACE}\x00]+@[^@{_SPACE}\x00]+\.[^@{_SPACE}\x00]+[{_SPACE}]*$"
HTTP_URL_PATTERN = rf"^https?://[^{_SPACE}/$.?#\x00][^{_SPACE}\x00]*$"

Email = Annotated[
    str,
    msgspec.Meta(
        min_length=3,
        max_length=320,
        pattern=EMAIL_PATTERN,
        description="an email address; stored in one spelling: NFKC, trimmed, lower-cased, IDNA ASCII domain",
        examples=["ada@example.com"],
    ),
]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=128, description="8 to 128 characters")]
Name = Annotated[str, msgspec.Meta(max_length=100, pattern=NO_NUL)]
