"""Dependency providers of the users domain (runtime imports: Litestar reads these signatures).

Each service provider closes over the app-wide collaborators and depends on the request's session alone: Litestar
resolves a level of several dependencies in an anyio task group, one task each, on every request.
"""

from __future__ import annotations

from litestar.di import NamedDependency, Provide
from sqlalchemy.orm import Session

from app.core.security import PasswordHashing
from app.core.settings import Settings
from app.core.task_queue import TaskQueue
from app.users.profiles import ProfileService
from app.users.service import UserService

__all__ = ("provide_profiles_service", "users_service_provider")


def users_service_provider(passwords: PasswordHashing, settings: Settings, task_queue: TaskQueue) -> Provide:
    def provide_users_service(db_session: NamedDependency[Session]) -> UserService:
        return UserService(session=db_session, passwords=passwords, settings=settings, task_queue=task_queue)

    return Provide(provide_users_service, sync_to_thread=False)


def provide_profiles_service(db_session: NamedDependency[Session]) -> ProfileService:
    return ProfileService(session=db_session)
