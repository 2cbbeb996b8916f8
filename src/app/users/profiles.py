"""Profile rules: one per user, created or replaced as a whole. Reading one is reading its account."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from advanced_alchemy.service import SQLAlchemySyncRepositoryService

from app.core.errors import NotFoundError
from app.users.models import Profile
from app.users.repository import ProfileRepository
from app.users.schemas import ProfileResponse

if TYPE_CHECKING:
    import uuid

    from app.users.schemas import ProfileUpdate, UserResponse

__all__ = ("ProfileService", "to_profile_response")

PROFILE_NOT_FOUND = "Profile not found"


def to_profile_response(profile: Profile) -> ProfileResponse:
    """A profile row just written, as clients see it."""
    return msgspec.convert(profile, ProfileResponse, from_attributes=True)


class ProfileService(SQLAlchemySyncRepositoryService[Profile, ProfileRepository]):
    repository_type = ProfileRepository

    @staticmethod
    def of(account: UserResponse) -> ProfileResponse:
        """The account's profile, as read with it. Raises NotFoundError until one is created."""
        if account.profile is None:
            raise NotFoundError(PROFILE_NOT_FOUND)
        return account.profile

    def replace(self, user_id: uuid.UUID, data: ProfileUpdate) -> Profile:
        """PUT semantics: fields left out are cleared. The unique ``user_id`` settles concurrent creations."""
        profile = self.repository.get_one_or_none(user_id=user_id)
        if profile is None:
            profile = self.repository.add(Profile(user_id=user_id), auto_refresh=False)
        profile.bio = data.bio
        profile.avatar_url = data.avatar_url
        self.repository.session.commit()
        return profile
