"""Post rules: who may see, change and delete a post, and the listings with their filters and orders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from advanced_alchemy.filters import OrderBy
from advanced_alchemy.repository import SQLAlchemySyncRepository
from advanced_alchemy.service import SQLAlchemySyncRepositoryService
from sqlalchemy import ColumnElement, func, literal_column, select, table
from sqlalchemy.orm import joinedload, load_only, noload, undefer

from app.core.errors import ForbiddenError, NotFoundError
from app.posts.models import FULL_TEXT_CONFIG, Post, search_document
from app.users.models import User

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.orm import Session
    from sqlalchemy.orm.interfaces import ORMOption

    from app.core.pagination import Page, PageRequest
    from app.posts.schemas import PostCreate, PostOrder, PostUpdate
    from app.users.identity import Actor

__all__ = ("PostService",)

POST_NOT_FOUND = "Post not found"
FEED_INDEX = "ix_post_published_feed"

# Each order ends on the id so that pages never overlap or skip rows that share a timestamp or title.
ORDERS: dict[str, tuple[tuple[str, str], ...]] = {
    "-published_at": (("published_at", "desc"), ("id", "desc")),
    "published_at": (("published_at", "asc"), ("id", "asc")),
    "-created_at": (("created_at", "desc"), ("id", "desc")),
    "title": (("title", "asc"), ("id", "asc")),
}

AUTHOR_COLUMNS = (User.id, User.email, User.first_name, User.last_name)


def _with_author() -> ORMOption:
    """Load the author in the same query; only the columns ``full_name`` needs, and not the author's profile."""
    return joinedload(Post.author).options(load_only(*AUTHOR_COLUMNS), noload(User.profile))


LISTING_OPTIONS: tuple[ORMOption, ...] = (_with_author(), undefer(Post.excerpt))
DETAIL_OPTIONS: tuple[ORMOption, ...] = (_with_author(), undefer(Post.content))


class PostService(SQLAlchemySyncRepositoryService[Post]):
    """Drafts are private: anyone but their author (or a superuser) is told they do not exist."""

    class Repo(SQLAlchemySyncRepository[Post]):
        model_type = Post

    repository_type = Repo

    def __init__(self, session: Session, count_estimate_threshold: int, **kwargs: Any) -> None:
        super().__init__(session=session, **kwargs)
        self.count_estimate_threshold = count_estimate_threshold

    def commit(self) -> None:
        self.repository.session.commit()

    def _load(self, post_id: uuid.UUID) -> Post:
        post: Post | None = self.repository.session.scalar(
            select(Post).where(Post.id == post_id).options(*DETAIL_OPTIONS)
        )
        if post is None:
            raise NotFoundError(POST_NOT_FOUND)
        return post

    @staticmethod
    def _may_manage(post: Post, user: Actor | None) -> bool:
        return user is not None and (user.is_superuser or post.author_id == user.id)

    def get_visible(self, post_id: uuid.UUID, viewer: Actor | None) -> Post:
        """A published post, or a draft its author or a superuser asks for.

        Raises:
            NotFoundError: unknown, or a draft someone else asked for.
        """
        post = self._load(post_id)
        if not post.is_published and not self._may_manage(post, viewer):
            raise NotFoundError(POST_NOT_FOUND)
        return post

    def get_manageable(self, post_id: uuid.UUID, actor: Actor) -> Post:
        """A post ``actor`` may change or delete.

        Raises:
            NotFoundError: unknown, or someone else's draft (drafts are not disclosed).
            ForbiddenError: someone else's published post.
        """
        post = self.get_visible(post_id, actor)
        if not self._may_manage(post, actor):
            raise ForbiddenError("Only the author or a superuser may change this post")
        return post

    def create_post(self, author: Actor, data: PostCreate) -> Post:
        post = Post(
            title=data.title,
            content=data.content,
            is_published=data.is_published,
            published_at=datetime.now(UTC) if data.is_published else None,
            author_id=author.id,
        )
        self.repository.add(post)
        self.commit()
        return self._load(post.id)

    def update_post(self, post_id: uuid.UUID, data: PostUpdate, actor: Actor) -> Post:
        post = self.get_manageable(post_id, actor)
        for key, value in msgspec.structs.asdict(data).items():
            if value is not msgspec.UNSET:
                setattr(post, key, value)
        if post.is_published and post.published_at is None:
            post.published_at = datetime.now(UTC)
        self.commit()
        return post

    def delete_post(self, post_id: uuid.UUID, actor: Actor) -> None:
        self.repository.session.delete(self.get_manageable(post_id, actor))
        self.commit()

    def list_published(
        self, page: PageRequest, order: PostOrder, author_id: uuid.UUID | None = None, query: str | None = None
    ) -> Page[Post]:
        criteria: list[ColumnElement[bool]] = [Post.is_published == True]  # noqa: E712  (SQL, and it must match the partial indexes)
        if author_id is not None:
            criteria.append(Post.author_id == author_id)
        if query:
            criteria.append(self._matches(query))
        estimated = self._estimated_feed_size() if author_id is None and not query else None
        return self._page(page, criteria, order, estimated_total=estimated)

    def list_by_author(self, page: PageRequest, author_id: uuid.UUID, is_published: bool | None) -> Page[Post]:
        criteria: list[ColumnElement[bool]] = [Post.author_id == author_id]
        if is_published is not None:
            criteria.append(Post.is_published == is_published)
        return self._page(page, criteria, "-created_at")

    def _matches(self, query: str) -> ColumnElement[bool]:
        # PostgreSQL: full-text search over title and content (stemmed, GIN-indexed).
        # SQLite has no such index; it matches a case-insensitive substring of the title.
        if self.repository.session.get_bind().dialect.name == "postgresql":
            tsquery = func.websearch_to_tsquery(literal_column(f"'{FULL_TEXT_CONFIG}'"), query)
            return search_document().bool_op("@@")(tsquery)
        return Post.title.icontains(query, autoescape=True)

    def _estimated_feed_size(self) -> int | None:
        """The planner's count of published posts, if it is above the threshold where counting gets expensive.

        It is the size of the partial index that holds exactly the published posts, as of the last
        (auto)vacuum or analyze; ``None`` on SQLite, before statistics exist, or below the threshold.
        """
        session = self.repository.session
        if session.get_bind().dialect.name != "postgresql":
            return None
        estimate = session.scalar(
            select(literal_column("reltuples"))
            .select_from(table("pg_class"))
            .where(literal_column("oid") == func.to_regclass(FEED_INDEX))
        )
        if estimate is None or estimate < self.count_estimate_threshold:
            return None
        return int(estimate)

    def _page(
        self,
        page: PageRequest,
        criteria: list[ColumnElement[bool]],
        order: str,
        estimated_total: int | None = None,
    ) -> Page[Post]:
        total = self.count(*criteria) if estimated_total is None else estimated_total
        if total == 0:
            return page.build([], 0)
        posts = self.get_many(
            *criteria,
            *(OrderBy(field_name=field, sort_order=direction) for field, direction in ORDERS[order]),  # type: ignore[arg-type]
            page.filter,
            statement=select(Post).options(*LISTING_OPTIONS),
        )
        return page.build(posts, total, total_is_estimate=estimated_total is not None)
