"""Dependency providers of the posts domain (runtime imports: Litestar reads these signatures)."""

from __future__ import annotations

from litestar.di import NamedDependency, Provide
from sqlalchemy.orm import Session

from app.core.settings import Settings
from app.posts.service import PostService

__all__ = ("posts_service_provider",)


def posts_service_provider(settings: Settings) -> Provide:
    """The request's ``PostService``; like every service provider, its one dependency is the session."""

    def provide_posts_service(db_session: NamedDependency[Session]) -> PostService:
        return PostService(db_session, settings)

    return Provide(provide_posts_service, sync_to_thread=False)
