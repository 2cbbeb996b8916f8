"""Post rules: who may see, change and delete a post. Listings are in :mod:`app.posts.listing`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec
from advanced_alchemy.repository import SQLAlchemySyncRepository
from advanced_alchemy.service import SQLAlchemySyncRepositoryService
from sqlalchemy import select
from sqlalchemy.orm import joinedload, load_only, noload, undefer

from app.core.errors import ForbiddenError, NotFoundError
from app.posts.models import Post
from app.users.models import User

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.orm.interfaces import ORMOption

    from app.posts.schemas import PostCreate, PostUpdate
    from app.users.identity import Actor

__all__ = ("PostService",)

POST_NOT_FOUND = "Post not found"
AUTHOR_COLUMNS = (User.id, User.email, User.first_name, User.last_name)


def _with_author() -> ORMOption:
    """Load the author in the same query; only the columns ``full_name`` needs, and not the author's profile."""
    return joinedload(Post.author).options(load_only(*AUTHOR_COLUMNS), noload(User.profile))


DETAIL_OPTIONS: tuple[ORMOption, ...] = (_with_author(), undefer(Post.content))


class PostService(SQLAlchemySyncRepositoryService[Post]):
    """Drafts are private: anyone but their author (or a superuser) is told they do not exist."""

    class Repo(SQLAlchemySyncRepository[Post]):
        model_type = Post

    repository_type = Repo

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
