"""Post routes: the public feed and post pages, authoring, and per-user listings."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from app.auth.deps import OPTIONAL_CALLER
from app.core.conditional import NOT_MODIFIED, TAG_HEADERS, IfMatch, TaggedResponse
from app.core.openapi import AUTHENTICATED_ERRORS, BODY_ERRORS, OPTIONAL_BEARER, PUBLIC, RESTRICTED_ERRORS, errors
from app.core.page_links import PAGE_HEADERS, page_response
from app.core.pagination import DEFAULT_PAGE_SIZE, CursorParameter, KeysetPageNumber, Page, PageQuery, PageSize
from app.core.routes import delete, get, patch, post
from app.core.schemas import NO_NUL
from app.idempotency.responses import REPLAY_HEADERS, IdempotencyKeyHeader, respond_once
from app.idempotency.service import IdempotencyService
from app.posts.schemas import PostCreate, PostListItem, PostOrder, PostResponse, PostUpdate
from app.posts.service import PostService
from app.users.schemas import UserResponse

__all__ = ("PostController", "UserPostsController")

GET_POST_ROUTE = "posts:get"


class PostController(Controller):
    path = "/posts"
    tags = ["posts"]

    @get(
        "/",
        operation_id="listPosts",
        responses=errors(400, 422, 503),
        response_headers=PAGE_HEADERS,
        security=PUBLIC,
        exclude_from_auth=True,
    )
    def list_posts(
        self,
        request: Request[Any, Any, Any],
        posts_service: NamedDependency[PostService],
        *,
        page: KeysetPageNumber = None,
        size: PageSize = DEFAULT_PAGE_SIZE,
        cursor: CursorParameter = None,
        author_id: Annotated[UUID | None, QueryParameter(description="only this author's posts")] = None,
        q: Annotated[
            str | None,
            QueryParameter(
                pattern=NO_NUL,
                min_length=1,
                max_length=200,
                description="search: PostgreSQL full-text over title and content; SQLite, title substring",
            ),
        ] = None,
        order: Annotated[PostOrder, QueryParameter(description="sort order")] = "-published_at",
    ) -> Response[Page[PostListItem]]:
        """Published posts, newest first by default. Items carry an `excerpt`, not the whole content."""
        listing = posts_service.list_published(PageQuery(size, page, cursor), order, author_id, q)
        return page_response(request, listing)

    @get(
        "/{post_id:str}",
        operation_id="getPost",
        responses={**NOT_MODIFIED, **errors(*AUTHENTICATED_ERRORS, 404, 422)},
        response_class=TaggedResponse,
        response_headers=TAG_HEADERS,
        security=OPTIONAL_BEARER,
        name=GET_POST_ROUTE,
        exclude_from_auth=True,
        dependencies=OPTIONAL_CALLER,
    )
    def get_post(
        self,
        post_id: FromPath[UUID],
        posts_service: NamedDependency[PostService],
        caller: NamedDependency[UserResponse | None],
    ) -> PostResponse:
        """A published post; a draft only for its author or a superuser (404 for anyone else)."""
        return posts_service.get_visible(post_id, caller)

    @post(
        "/",
        operation_id="createPost",
        responses=errors(*BODY_ERRORS, *AUTHENTICATED_ERRORS, 409),
        status_code=HTTP_201_CREATED,
        response_headers=[
            ResponseHeader(name="Location", description="URL of the new post", documentation_only=True),
            *REPLAY_HEADERS,
        ],
    )
    def create_post(
        self,
        *,
        request: Request[UserResponse, Any, Any],
        data: JSONBody[PostCreate],
        caller: NamedDependency[UserResponse],
        posts_service: NamedDependency[PostService],
        idempotency: NamedDependency[IdempotencyService],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[PostResponse]:
        """Write a post, as a draft unless `is_published` is true. With an `Idempotency-Key`, a retry of the same
        request gets the first answer and no second post."""

        def create() -> Response[PostResponse]:
            created = posts_service.create_post(caller, data)
            location = request.app.route_reverse(GET_POST_ROUTE, post_id=str(created.id))
            return Response(created, status_code=HTTP_201_CREATED, headers={"Location": location})

        return respond_once(idempotency, request, create, key=idempotency_key, caller_id=caller.id, body=data)

    @patch(
        "/{post_id:str}",
        operation_id="updatePost",
        responses=errors(*BODY_ERRORS, *RESTRICTED_ERRORS, 404, 412),
    )
    def update_post(
        self,
        post_id: FromPath[UUID],
        data: JSONBody[PostUpdate],
        caller: NamedDependency[UserResponse],
        posts_service: NamedDependency[PostService],
        if_match: IfMatch = None,
    ) -> PostResponse:
        """Change a post (author or superuser). Someone else's published post is 403, their draft 404; a stale
        `If-Match` is 412."""
        return posts_service.update_post(post_id, data, caller, if_match=if_match)

    @delete(
        "/{post_id:str}",
        operation_id="deletePost",
        responses=errors(*RESTRICTED_ERRORS, 404, 412, 422),
        status_code=HTTP_204_NO_CONTENT,
    )
    def delete_post(
        self,
        post_id: FromPath[UUID],
        caller: NamedDependency[UserResponse],
        posts_service: NamedDependency[PostService],
        if_match: IfMatch = None,
    ) -> None:
        """Delete a post (author or superuser), with the same refusals as changing it."""
        posts_service.delete_post(post_id, caller, if_match=if_match)


class UserPostsController(Controller):
    path = "/users"
    tags = ["posts"]

    @get(
        "/me/posts",
        operation_id="listMyPosts",
        responses=errors(*AUTHENTICATED_ERRORS, 400, 422),
        response_headers=PAGE_HEADERS,
    )
    def list_my_posts(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[UserResponse],
        posts_service: NamedDependency[PostService],
        *,
        page: KeysetPageNumber = None,
        size: PageSize = DEFAULT_PAGE_SIZE,
        cursor: CursorParameter = None,
        is_published: Annotated[bool | None, QueryParameter(description="only published or only drafts")] = None,
    ) -> Response[Page[PostListItem]]:
        """The caller's own posts, drafts included, newest first."""
        return page_response(request, posts_service.list_own(PageQuery(size, page, cursor), caller, is_published))

    @get(
        "/{user_id:str}/posts",
        operation_id="listUserPosts",
        responses=errors(400, 404, 422, 503),
        response_headers=PAGE_HEADERS,
        security=PUBLIC,
        exclude_from_auth=True,
    )
    def list_user_posts(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[UUID],
        posts_service: NamedDependency[PostService],
        *,
        page: KeysetPageNumber = None,
        size: PageSize = DEFAULT_PAGE_SIZE,
        cursor: CursorParameter = None,
    ) -> Response[Page[PostListItem]]:
        """A user's published posts, newest first; 404 if there is no such user."""
        return page_response(request, posts_service.list_by_user(PageQuery(size, page, cursor), user_id))
