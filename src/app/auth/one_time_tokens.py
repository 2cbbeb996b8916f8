"""One-time tokens for email verification, password reset and email change: random, stored as hashes, spent once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from advanced_alchemy.service import SQLAlchemySyncRepositoryService
from sqlalchemy import select, update

from app.auth.models import OneTimeToken, TokenPurpose
from app.core.errors import BadRequestError
from app.core.repository import Repository
from app.core.security import generate_opaque_token, hash_opaque_token

__all__ = ("INVALID_ONE_TIME_TOKEN", "OneTimeTokenService", "SpentToken")

INVALID_ONE_TIME_TOKEN = "Invalid, expired or already used token"  # noqa: S105  (a message)


class SpentToken(NamedTuple):
    """Whose token was spent and, for an email change, the address it confirms."""

    user_id: uuid.UUID
    new_email: str | None


class OneTimeTokenService(SQLAlchemySyncRepositoryService[OneTimeToken]):
    """Issues and spends one-time tokens; it never commits, its callers own the transaction."""

    class Repo(Repository[OneTimeToken]):
        model_type = OneTimeToken

    repository_type = Repo

    def issue(
        self, user_id: uuid.UUID, purpose: TokenPurpose, lifetime: timedelta, *, new_email: str | None = None
    ) -> str:
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
                new_email=new_email,
            )
        )
        return raw_token

    def consume(self, raw_token: str, purpose: TokenPurpose) -> SpentToken:
        """Spend ``raw_token`` and return whose it was.

        The spend is one conditional UPDATE, so two requests with the same token cannot both succeed.

        Raises:
            BadRequestError: the token is unknown, for another purpose, expired or already used.
        """
        now = datetime.now(UTC)
        spent = self.repository.rows(
            update(OneTimeToken)
            .where(
                OneTimeToken.token_hash == hash_opaque_token(raw_token),
                OneTimeToken.purpose == purpose,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(OneTimeToken.user_id, OneTimeToken.new_email)
        ).one_or_none()
        if spent is None:
            raise BadRequestError(INVALID_ONE_TIME_TOKEN)
        return SpentToken(spent.user_id, spent.new_email)

    def holder(self, raw_token: str, purpose: TokenPurpose) -> uuid.UUID | None:
        """Whose unspent, unexpired token of ``purpose`` ``raw_token`` is, without spending it; None if it is none."""
        user_id: uuid.UUID | None = self.repository.rows(
            select(OneTimeToken.user_id).where(
                OneTimeToken.token_hash == hash_opaque_token(raw_token),
                OneTimeToken.purpose == purpose,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > datetime.now(UTC),
            )
        ).scalar_one_or_none()
        return user_id

    def revoke(self, user_id: uuid.UUID, *purposes: TokenPurpose) -> None:
        """Mark the user's unused tokens of these purposes (all purposes if none given) as used."""
        criteria = [OneTimeToken.user_id == user_id, OneTimeToken.used_at.is_(None)]
        if purposes:
            criteria.append(OneTimeToken.purpose.in_(purposes))
        self.repository.rows(update(OneTimeToken).where(*criteria).values(used_at=datetime.now(UTC)))
