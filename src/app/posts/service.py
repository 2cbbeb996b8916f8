"""Post rules: who may see, change and delete a post; the listings and their filters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from advanced_alchemy.service import SQLAlchemySyncRepositoryService

from app.core.cursors import page_cursors
from app.core.entity_tags import check_if_match
from app.core.errors import ForbiddenError, NotFoundError
from app.posts.models import Post
from app.posts.repository import PostRepository
from app.posts.schemas import AuthorSummary
from app.users.repository import UserRepository
from app.users.service import USER_NOT_FOUND

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.orm import Session

    from app.core.caller import Caller
    from app.core.pagination import Listing, PageQuery
    from app.core.settings import Settings
    from app.posts.schemas import PostCreate, PostListItem, PostOrder, PostResponse, PostUpdate
    from app.users.schemas import UserResponse

__all__ = ("PostService",)

POST_NOT_FOUND = "Post not found"


class PostService(SQLAlchemySyncRepositoryService[Post, PostRepository]):
    """Drafts are private: anyone but their author (or a superuser) is told they do not exist.

    Every write commits before it returns. Above ``count_estimate_threshold`` published posts the whole feed's
    total is the database's estimate.
    """

    repository_type = PostRepository

    def __init__(self, session: Session, settings: Settings, **kwargs: Any) -> None:
        super().__init__(session=session, **kwargs)
        self.count_estimate_threshold = settings.posts_count_estimate_threshold
        self.cursors = page_cursors(settings.secret_key)

    @staticmethod
    def _may_manage(post: PostResponse, caller: Caller | None) -> bool:
        return caller is not None and (caller.is_superuser or post.author.id == caller.id)

    # -- reads ------------------------------------------------------------------------------------------------

    def get_visible(self, post_id: uuid.UUID, caller: Caller | None) -> PostResponse:
        """A published post, or a draft its author or a superuser asks for.

        Raises:
            NotFoundError: unknown, or a draft someone else asked for.
        """
        post = self.repository.read_post(post_id)
        if post is None or (not post.is_published and not self._may_manage(post, caller)):
            raise NotFoundError(POST_NOT_FOUND)
        return post

    def get_manageable(self, post_id: uuid.UUID, caller: Caller) -> PostResponse:
        """A post ``caller`` may change or delete.

        Raises:
            NotFoundError: unknown, or someone else's draft (drafts are not disclosed).
            ForbiddenError: someone else's published post.
        """
        post = self.get_visible(post_id, caller)
        if not self._may_manage(post, caller):
            raise ForbiddenError("Only the author or a superuser may change this post")
        return post

    def list_published(
        self, page: PageQuery, order: PostOrder, author_id: uuid.UUID | None = None, query: str | None = None
    ) -> Listing[PostListItem]:
        """Raises BadRequestError if the page's cursor is not one of this listing's (order and filters included)."""
        return self.repository.read_published(
            page,
            self.cursors,
            order,
            listing="posts",
            author_id=author_id,
            query=query,
            estimate_from=self.count_estimate_threshold,
        )

    def list_by_user(self, page: PageQuery, user_id: uuid.UUID) -> Listing[PostListItem]:
        """A user's published posts, newest first.

        Raises:
            NotFoundError: there is no such user.
            BadRequestError: the page's cursor is not one of this listing's.
        """
        listed = self.repository.read_published(
            page,
            self.cursors,
            "-published_at",
            listing="user-posts",
            author_id=user_id,
            estimate_from=self.count_estimate_threshold,
        )
        if listed.total == 0 and not UserRepository(session=self.repository.session).exists(id=user_id):
            raise NotFoundError(USER_NOT_FOUND)
        return listed

    def list_own(self, page: PageQuery, caller: Caller, is_published: bool | None) -> Listing[PostListItem]:
        """The caller's own posts, drafts included unless ``is_published`` says otherwise.

        Raises:
            BadRequestError: the page's cursor is not one of this listing's (another caller's, say).
        """
        return self.repository.read_by_author(page, self.cursors, caller.id, is_published)

    # -- writes -----------------------------------------------------------------------------------------------

    def create_post(self, caller: UserResponse, data: PostCreate) -> PostResponse:
        """The caller's new post: they are its author."""
        values = {
            "title": data.title,
            "content": data.content,
            "is_published": data.is_published,
            "published_at": datetime.now(UTC) if data.is_published else None,
            "author_id": caller.id,
        }
        created = self.repository.insert_post(values, AuthorSummary(id=caller.id, full_name=caller.full_name))
        self.repository.session.commit()
        return created

    def _for_change(self, post_id: uuid.UUID, caller: Caller, if_match: str | None) -> PostResponse:
        """The post ``caller`` is about to change, held against other writers if the change is conditional.

        Raises:
            NotFoundError, ForbiddenError: as :meth:`get_manageable`.
            PreconditionFailedError: ``if_match`` does not name the post as it is.
        """
        if if_match is not None:
            self.repository.lock(Post.id == post_id)
        post = self.get_manageable(post_id, caller)
        check_if_match(if_match, post)
        return post

    def update_post(
        self, post_id: uuid.UUID, data: PostUpdate, caller: Caller, *, if_match: str | None = None
    ) -> PostResponse:
        post = self._for_change(post_id, caller, if_match)
        values = {key: value for key, value in msgspec.structs.asdict(data).items() if value is not msgspec.UNSET}
        if values.get("is_published") and post.published_at is None:
            values["published_at"] = datetime.now(UTC)
        updated = self.repository.update_post(post_id, values, post.author) if values else post
        if updated is None:
            raise NotFoundError(POST_NOT_FOUND)
        self.repository.session.commit()
        return updated

    def delete_post(self, post_id: uuid.UUID, caller: Caller, *, if_match: str | None = None) -> None:
        self._for_change(post_id, caller, if_match)
        self.repository.delete_post(post_id)
        self.repository.session.commit()
