"""Constrained field types shared by request bodies."""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = ("Email", "Name", "Password")

Email = Annotated[
    str,
    msgspec.Meta(
        min_length=3,
        max_length=320,
        pattern=r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$",
        description="an email address; stored trimmed and lower-cased",
        examples=["ada@example.com"],
    ),
]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=128, description="8 to 128 characters")]
Name = Annotated[str, msgspec.Meta(max_length=100)]
