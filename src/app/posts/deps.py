"""Dependency providers of the posts domain (runtime imports: Litestar reads these signatures)."""

from __future__ import annotations

from litestar.di import NamedDependency
from sqlalchemy.orm import Session

from app.core.settings import Settings
from app.posts.service import PostService

__all__ = ("provide_posts_service",)


def provide_posts_service(db_session: NamedDependency[Session], settings: NamedDependency[Settings]) -> PostService:
    return PostService(session=db_session, count_estimate_threshold=settings.posts_count_estimate_threshold)
