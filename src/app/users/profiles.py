"""Profile rules: one per user, created or replaced as a whole. Reading one is reading its account."""

from __future__ import annotations

from typing import TYPE_CHECKING

from advanced_alchemy.service import SQLAlchemySyncRepositoryService

from app.core.entity_tags import check_if_match
from app.core.errors import NotFoundError
from app.users.models import Profile
from app.users.repository import ProfileRepository, UserRepository

if TYPE_CHECKING:
    import uuid

    from app.users.schemas import ProfileResponse, ProfileUpdate, UserResponse

__all__ = ("ProfileService",)

PROFILE_NOT_FOUND = "Profile not found"


class ProfileService(SQLAlchemySyncRepositoryService[Profile, ProfileRepository]):
    repository_type = ProfileRepository

    @staticmethod
    def of(account: UserResponse) -> ProfileResponse:
        """The account's profile, as read with it. Raises NotFoundError until one is created."""
        if account.profile is None:
            raise NotFoundError(PROFILE_NOT_FOUND)
        return account.profile

    def replace(self, user_id: uuid.UUID, data: ProfileUpdate, *, if_match: str | None = None) -> ProfileResponse:
        """PUT semantics: fields left out are cleared. Created or replaced in one statement, so two concurrent first
        PUTs of one account both succeed and the later one wins, as two replacements would; with ``if_match``, only
        while the profile is the one the client read (none yet: no tag matches).

        Raises:
            PreconditionFailedError: ``if_match`` does not name the profile as it is.
        """
        if if_match is not None:
            self.repository.lock(Profile.user_id == user_id)
            account = UserRepository(session=self.repository.session).read_account(user_id)
            check_if_match(if_match, None if account is None else account.profile)
        written = self.repository.write(user_id, bio=data.bio, avatar_url=data.avatar_url)
        self.repository.session.commit()
        return written
