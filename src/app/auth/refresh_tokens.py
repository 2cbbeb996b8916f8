"""Refresh tokens: opaque, stored as hashes, rotated on use, with reuse detection per login family."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from advanced_alchemy.service import SQLAlchemySyncRepositoryService
from sqlalchemy import insert, select, update

from app.auth.models import RefreshToken
from app.core.errors import AuthenticationFailedError
from app.core.repository import Repository
from app.core.security import generate_opaque_token, hash_opaque_token

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

__all__ = ("RefreshTokenService", "RotatedToken")

INVALID_REFRESH_TOKEN = "Invalid or expired refresh token"  # noqa: S105  (a message)


class RotatedToken:
    """The outcome of a successful rotation: whose token it was and its replacement."""

    __slots__ = ("raw_token", "user_id")

    def __init__(self, user_id: uuid.UUID, raw_token: str) -> None:
        self.user_id = user_id
        self.raw_token = raw_token


class RefreshTokenService(SQLAlchemySyncRepositoryService[RefreshToken]):
    """Issues, rotates and revokes refresh tokens; it never commits, its callers own the transaction."""

    class Repo(Repository[RefreshToken]):
        model_type = RefreshToken

    repository_type = Repo

    def issue(self, user_id: uuid.UUID, lifetime: timedelta, family_id: uuid.UUID | None = None) -> str:
        """Store a new token (only its digest) in a new family (a new session) or in ``family_id``; returns the
        raw token. A Core INSERT: nothing reads the row back, so the unit of work would only add bookkeeping."""
        raw_token = generate_opaque_token()
        now = datetime.now(UTC)
        self.repository.rows(
            insert(RefreshToken).values(
                user_id=user_id,
                family_id=family_id or uuid.uuid4(),
                token_hash=hash_opaque_token(raw_token),
                created_at=now,
                expires_at=now + lifetime,
            )
        )
        return raw_token

    def rotate(self, raw_token: str, lifetime: timedelta) -> RotatedToken:
        """Spend ``raw_token`` and issue its successor; a token presented twice revokes its whole family.

        The spend is one conditional UPDATE, so two concurrent rotations of the same token cannot both win.

        Raises:
            AuthenticationFailedError: the token is unknown, expired, revoked or already spent.
        """
        now = datetime.now(UTC)
        token_hash = hash_opaque_token(raw_token)
        spent = self.repository.rows(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.spent_at.is_(None),
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(spent_at=now)
            .returning(RefreshToken.user_id, RefreshToken.family_id)
        ).one_or_none()
        if spent is None:
            self._revoke_family_if_reused(token_hash, now)
            raise AuthenticationFailedError(INVALID_REFRESH_TOKEN)
        user_id, family_id = spent
        return RotatedToken(user_id, self.issue(user_id, lifetime, family_id))

    def _revoke_family_if_reused(self, token_hash: str, now: datetime) -> None:
        family_id = self.repository.rows(
            select(RefreshToken.family_id).where(
                RefreshToken.token_hash == token_hash, RefreshToken.spent_at.is_not(None)
            )
        ).scalar()
        if family_id is not None:
            self._revoke(RefreshToken.family_id == family_id, now)

    def revoke_family_of(self, raw_token: str) -> None:
        family_id = self.repository.rows(
            select(RefreshToken.family_id).where(RefreshToken.token_hash == hash_opaque_token(raw_token))
        ).scalar()
        if family_id is not None:
            self._revoke(RefreshToken.family_id == family_id, datetime.now(UTC))

    def revoke_all_for_user(self, user_id: uuid.UUID) -> None:
        self._revoke(RefreshToken.user_id == user_id, datetime.now(UTC))

    def _revoke(self, criterion: ColumnElement[bool], now: datetime) -> None:
        self.repository.rows(
            update(RefreshToken).where(criterion, RefreshToken.revoked_at.is_(None)).values(revoked_at=now)
        )
