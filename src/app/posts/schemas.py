"""Request and response bodies of the posts domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from app.core.schemas import NO_NUL

__all__ = ("AuthorSummary", "PostCreate", "PostListItem", "PostOrder", "PostResponse", "PostUpdate")

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=NO_NUL)]
Content = Annotated[str, msgspec.Meta(min_length=1, max_length=100_000, pattern=NO_NUL)]
PostOrder = Literal["-published_at", "published_at", "-created_at", "title"]


class PostCreate(msgspec.Struct, kw_only=True):
    title: Title
    content: Content
    is_published: bool = False


class PostUpdate(msgspec.Struct, kw_only=True):
    """A partial update; publishing a post for the first time stamps ``published_at``."""

    title: Title | UnsetType = UNSET
    content: Content | UnsetType = UNSET
    is_published: bool | UnsetType = UNSET


class AuthorSummary(msgspec.Struct, kw_only=True):
    id: UUID
    full_name: str


class PostResponse(msgspec.Struct, kw_only=True):
    """A whole post."""

    id: UUID
    title: str
    content: str
    is_published: bool
    published_at: datetime | None
    author: AuthorSummary
    created_at: datetime
    updated_at: datetime


class PostListItem(msgspec.Struct, kw_only=True):
    """A post in a listing: ``excerpt`` is the first 200 characters of the content, never the whole of it."""

    id: UUID
    title: str
    excerpt: str
    is_published: bool
    published_at: datetime | None
    author: AuthorSummary
    created_at: datetime
    updated_at: datetime
