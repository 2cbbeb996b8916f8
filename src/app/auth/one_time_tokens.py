"""One-time tokens for email verification and password reset: random, stored as hashes, spent once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from advanced_alchemy.service import SQLAlchemySyncRepositoryService
from sqlalchemy import update

from app.auth.models import OneTimeToken, TokenPurpose
from app.core.errors import BadRequestError
from app.core.repository import Repository
from app.core.security import generate_opaque_token, hash_opaque_token

__all__ = ("INVALID_ONE_TIME_TOKEN", "OneTimeTokenService")

INVALID_ONE_TIME_TOKEN = "Invalid, expired or already used token"  # noqa: S105  (a message)


class OneTimeTokenService(SQLAlchemySyncRepositoryService[OneTimeToken]):
    """Issues and spends one-time tokens; it never commits, its callers own the transaction."""

    class Repo(Repository[OneTimeToken]):
        model_type = OneTimeToken

    repository_type = Repo

    def issue(self, user_id: uuid.UUID, purpose: TokenPurpose, lifetime: timedelta) -> str:
        """Store the hash of a new token and return the raw token, which exists only in the email it goes into."""
        raw_token = generate_opaque_token()
        now = datetime.now(UTC)
        self.repository.add(
            OneTimeToken(
                user_id=user_id,
                purpose=purpose,
                token_hash=hash_opaque_token(raw_token),
                created_at=now,
                expires_at=now + lifetime,
            )
        )
        return raw_token

    def consume(self, raw_token: str, purpose: TokenPurpose) -> uuid.UUID:
        """Spend ``raw_token`` and return its user's id.

        The spend is one conditional UPDATE, so two requests with the same token cannot both succeed.

        Raises:
            BadRequestError: the token is unknown, for another purpose, expired or already used.
        """
        now = datetime.now(UTC)
        user_id: uuid.UUID | None = self.repository.rows(
            update(OneTimeToken)
            .where(
                OneTimeToken.token_hash == hash_opaque_token(raw_token),
                OneTimeToken.purpose == purpose,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(OneTimeToken.user_id)
        ).scalar_one_or_none()
        if user_id is None:
            raise BadRequestError(INVALID_ONE_TIME_TOKEN)
        return user_id

    def revoke(self, user_id: uuid.UUID, *purposes: TokenPurpose) -> None:
        """Mark the user's unused tokens of these purposes (all purposes if none given) as used."""
        criteria = [OneTimeToken.user_id == user_id, OneTimeToken.used_at.is_(None)]
        if purposes:
            criteria.append(OneTimeToken.purpose.in_(purposes))
        self.repository.rows(update(OneTimeToken).where(*criteria).values(used_at=datetime.now(UTC)))
