"""Dependency providers of the users domain (runtime imports: Litestar reads these signatures)."""

from __future__ import annotations

from litestar.di import NamedDependency
from sqlalchemy.orm import Session

from app.core.security import PasswordHashing
from app.core.settings import Settings
from app.core.task_queue import TaskQueue
from app.users.profiles import ProfileService
from app.users.service import UserService

__all__ = ("provide_profiles_service", "provide_users_service")


def provide_users_service(
    db_session: NamedDependency[Session],
    passwords: NamedDependency[PasswordHashing],
    settings: NamedDependency[Settings],
    task_queue: NamedDependency[TaskQueue],
) -> UserService:
    return UserService(session=db_session, passwords=passwords, settings=settings, task_queue=task_queue)


def provide_profiles_service(db_session: NamedDependency[Session]) -> ProfileService:
    return ProfileService(session=db_session)
