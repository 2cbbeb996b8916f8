"""Dependency providers of the posts domain (runtime imports: Litestar reads these signatures)."""

from __future__ import annotations

from litestar.di import NamedDependency
from sqlalchemy.orm import Session

from app.posts.service import PostService

__all__ = ("provide_posts_service",)


def provide_posts_service(db_session: NamedDependency[Session]) -> PostService:
    """The request's ``PostService``; like every service provider, its one dependency is the session."""
    return PostService(session=db_session)
