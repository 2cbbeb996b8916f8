"""The ``post`` table and the indexes that serve its listings."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import Boolean, ColumnElement, ForeignKey, Index, String, Text, func, literal_column, text
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from app.users.models import User

__all__ = ("EXCERPT_LENGTH", "FULL_TEXT_CONFIG", "Post", "search_document")

EXCERPT_LENGTH = 200
FULL_TEXT_CONFIG = "english"
# Spelled as each database's planner needs to match ``Post.is_published == True`` against the partial indexes.
_PUBLISHED = text("is_published")
_PUBLISHED_SQLITE = text("is_published = 1")


class Post(UUIDv7AuditBase):
    """A post. ``published_at`` is set the first time the post is published and kept afterwards."""

    __tablename__ = "post"
    __table_args__ = (
        # Partial indexes: every public listing reads published posts only, in one of these orders.
        Index(
            "ix_post_published_feed", "published_at", "id", postgresql_where=_PUBLISHED, sqlite_where=_PUBLISHED_SQLITE
        ),
        Index(
            "ix_post_author_published_feed",
            "author_id",
            "published_at",
            "id",
            postgresql_where=_PUBLISHED,
            sqlite_where=_PUBLISHED_SQLITE,
        ),
        Index(
            "ix_post_published_created", "created_at", "id", postgresql_where=_PUBLISHED, sqlite_where=_PUBLISHED_SQLITE
        ),
        Index("ix_post_published_title", "title", "id", postgresql_where=_PUBLISHED, sqlite_where=_PUBLISHED_SQLITE),
        # An author's own listing (drafts included), newest first.
        Index("ix_post_author_created", "author_id", "created_at", "id"),
        # Full-text search of title and content; PostgreSQL only (SQLite searches titles with LIKE).
        Index(
            "ix_post_search",
            # Spelled as PostgreSQL reflects it, so that Alembic's comparison finds no drift.
            text(f"to_tsvector('{FULL_TEXT_CONFIG}'::regconfig, (title::text || ' '::text) || content)"),
            postgresql_using="gin",
            postgresql_where=_PUBLISHED,
        ).ddl_if(dialect="postgresql"),
    )

    title: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text, deferred=True, deferred_raiseload=True)
    is_published: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    author_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))

    author: Mapped[User] = relationship(lazy="raise", innerjoin=True)
    excerpt: Mapped[str] = column_property(func.substr(content, 1, EXCERPT_LENGTH), deferred=True)


def search_document() -> ColumnElement[object]:
    """The expression ``ix_post_search`` indexes; queries must use exactly it for PostgreSQL to use the index."""
    # Literals, not bound parameters: a parameter would keep a generic plan from matching the index expression.
    return func.to_tsvector(
        literal_column(f"'{FULL_TEXT_CONFIG}'"), Post.title.op("||")(literal_column("' '")).op("||")(Post.content)
    )
