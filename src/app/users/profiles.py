"""Profile rules: one per user, created or replaced as a whole."""

from __future__ import annotations

from typing import TYPE_CHECKING

from advanced_alchemy.repository import SQLAlchemySyncRepository
from advanced_alchemy.service import SQLAlchemySyncRepositoryService

from app.core.errors import NotFoundError
from app.users.models import Profile

if TYPE_CHECKING:
    from app.users.models import User
    from app.users.schemas import ProfileUpdate

__all__ = ("ProfileService",)


class ProfileService(SQLAlchemySyncRepositoryService[Profile]):
    class Repo(SQLAlchemySyncRepository[Profile]):
        model_type = Profile

    repository_type = Repo

    def get_for(self, user: User) -> Profile:
        """Raises NotFoundError if the user has no profile yet."""
        if user.profile is None:
            raise NotFoundError("Profile not found")
        return user.profile

    def replace(self, user: User, data: ProfileUpdate) -> Profile:
        """PUT semantics: fields left out are cleared. The unique ``user_id`` settles concurrent creations."""
        profile = user.profile
        if profile is None:
            profile = Profile(user_id=user.id)
            user.profile = profile
        profile.bio = data.bio
        profile.avatar_url = data.avatar_url
        self.repository.session.commit()
        return profile
