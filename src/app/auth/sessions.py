"""Sessions: a login opens one, each refresh rotates its refresh token, and it ends on logout, a password change or
reset, deactivation, its owner or a superuser ending it, or a spent refresh token presented again.

Refresh tokens are opaque, stored as hashes and spent once: spending one issues its successor in the same session.
A spent token presented again means someone holds a copy, so its session ends. Ending a session revokes its refresh
tokens, and its access tokens stop at once: each names its session, and the bearer lookup reads the account only
while that session is live (:data:`LIVE_SESSION_OF_ACCOUNT`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from advanced_alchemy.filters import OrderBy
from advanced_alchemy.service import SQLAlchemySyncRepositoryService
from sqlalchemy import ColumnElement, bindparam, exists, insert, select, update

from app.auth.models import LoginSession, RefreshToken
from app.core.errors import AuthenticationFailedError
from app.core.repository import Repository
from app.core.security import generate_opaque_token, hash_opaque_token
from app.users.models import User

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, scoped_session

    from app.core.origin import RequestOrigin
    from app.core.pagination import Listing, PageRequest

__all__ = (
    "INVALID_REFRESH_TOKEN",
    "LIVE_SESSION_OF_ACCOUNT",
    "EndedSession",
    "OpenedSession",
    "ReplayedRefreshTokenError",
    "RotatedToken",
    "SessionRef",
    "SessionService",
)

INVALID_REFRESH_TOKEN = "Invalid or expired refresh token"  # noqa: S105  (a message)

LIVE_SESSION_OF_ACCOUNT: ColumnElement[bool] = exists().where(
    LoginSession.id == bindparam("session_id"), LoginSession.user_id == User.id, LoginSession.ended_at.is_(None)
)
"""The account's session ``session_id`` has not ended: the criterion the bearer lookup adds to its one query.
(It need not check ``expires_at``: an access token outlives no session that was live when it was issued by more
than its own lifetime, and a session that lapses has not been used for far longer.)"""

_MOST_RECENTLY_USED_FIRST = OrderBy(field_name="last_used_at", sort_order="desc")


class SessionRef(NamedTuple):
    """A session and the account it belongs to."""

    user_id: uuid.UUID
    session_id: uuid.UUID


class EndedSession(NamedTuple):
    """A session just ended, and the client it was."""

    id: uuid.UUID
    ip_address: str | None
    user_agent: str | None


class ReplayedRefreshTokenError(AuthenticationFailedError):
    """A spent refresh token was presented again: its session has just been ended."""

    def __init__(self, replayed: SessionRef) -> None:
        super().__init__(INVALID_REFRESH_TOKEN)
        self.replayed = replayed


class OpenedSession:
    """A new session's id and its first refresh token (raw, the only time it exists in the clear)."""

    __slots__ = ("id", "refresh_token")

    def __init__(self, session_id: uuid.UUID, refresh_token: str) -> None:
        self.id = session_id
        self.refresh_token = refresh_token


class RotatedToken:
    """The outcome of a successful rotation: whose session it is and the spent token's successor."""

    __slots__ = ("raw_token", "session_id", "user_id")

    def __init__(self, user_id: uuid.UUID, session_id: uuid.UUID, raw_token: str) -> None:
        self.user_id = user_id
        self.session_id = session_id
        self.raw_token = raw_token


def _live(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return LoginSession.ended_at.is_(None), LoginSession.expires_at > now


class SessionService(SQLAlchemySyncRepositoryService[LoginSession]):
    """Opens, rotates, lists and ends sessions; it never commits, its callers own the transaction."""

    class Repo(Repository[LoginSession]):
        model_type = LoginSession

    class TokenRepo(Repository[RefreshToken]):
        model_type = RefreshToken

    repository_type = Repo

    def __init__(self, session: Session | scoped_session[Session], **kwargs: Any) -> None:
        super().__init__(session=session, **kwargs)
        self.tokens = self.TokenRepo(session=session)

    def open(self, user_id: uuid.UUID, lifetime: timedelta, origin: RequestOrigin | None = None) -> OpenedSession:
        """Start a session for ``user_id`` from ``origin`` (whose address and user agent it keeps)."""
        now = datetime.now(UTC)
        session_id: uuid.UUID = self.repository.rows(
            insert(LoginSession)
            .values(
                user_id=user_id,
                created_at=now,
                last_used_at=now,
                expires_at=now + lifetime,
                user_agent=None if origin is None else origin.user_agent,
                ip_address=None if origin is None else origin.ip_address,
            )
            .returning(LoginSession.id)
        ).scalar_one()
        return OpenedSession(session_id, self._issue(user_id, session_id, now, lifetime))

    def _issue(self, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime, lifetime: timedelta) -> str:
        # A Core INSERT: nothing reads the row back, so the unit of work would only add bookkeeping.
        raw_token = generate_opaque_token()
        self.tokens.rows(
            insert(RefreshToken).values(
                user_id=user_id,
                session_id=session_id,
                token_hash=hash_opaque_token(raw_token),
                created_at=now,
                expires_at=now + lifetime,
            )
        )
        return raw_token

    def rotate(self, raw_token: str, lifetime: timedelta) -> RotatedToken:
        """Spend ``raw_token`` and issue its successor; the session lives on for ``lifetime`` from now.

        The spend is one conditional UPDATE, so two concurrent rotations of the same token cannot both win; a
        token presented after it was spent ends its session.

        Raises:
            ReplayedRefreshTokenError: the token was spent already; its session is ended now.
            AuthenticationFailedError: the token is unknown, expired or revoked.
        """
        now = datetime.now(UTC)
        token_hash = hash_opaque_token(raw_token)
        spent = self.tokens.rows(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.spent_at.is_(None),
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(spent_at=now)
            .returning(RefreshToken.user_id, RefreshToken.session_id)
        ).one_or_none()
        if spent is None:
            replayed = self._session_of(token_hash, RefreshToken.spent_at.is_not(None))
            if replayed is not None:
                self._end(LoginSession.id == replayed.session_id, now=now)
                raise ReplayedRefreshTokenError(replayed)
            raise AuthenticationFailedError(INVALID_REFRESH_TOKEN)
        user_id, session_id = spent
        self.repository.rows(
            update(LoginSession)
            .where(LoginSession.id == session_id)
            .values(last_used_at=now, expires_at=now + lifetime)
        )
        return RotatedToken(user_id, session_id, self._issue(user_id, session_id, now, lifetime))

    def _session_of(self, token_hash: str, *criteria: ColumnElement[bool]) -> SessionRef | None:
        statement = select(RefreshToken.user_id, RefreshToken.session_id).where(
            RefreshToken.token_hash == token_hash, *criteria
        )
        row = self.tokens.rows(statement).one_or_none()
        return None if row is None else SessionRef(row.user_id, row.session_id)

    def end_by_refresh_token(self, raw_token: str) -> SessionRef | None:
        """Logout: end the live session ``raw_token`` belongs to, and say which it was; None if the token is unknown
        or its session ended already."""
        found = self._session_of(hash_opaque_token(raw_token))
        if found is None or not self._end(LoginSession.id == found.session_id, now=datetime.now(UTC)):
            return None
        return found

    def end(self, user_id: uuid.UUID, session_id: uuid.UUID) -> EndedSession | None:
        """End the account's live session ``session_id`` and say which client it was; None if the account has no
        such live session."""
        now = datetime.now(UTC)
        ended = self._end(LoginSession.id == session_id, LoginSession.user_id == user_id, *_live(now), now=now)
        return ended[0] if ended else None

    def end_all(self, user_id: uuid.UUID, *, keep: uuid.UUID | None = None) -> list[uuid.UUID]:
        """End every session of the account but ``keep``; the ids of those that were live."""
        criteria = [LoginSession.user_id == user_id]
        if keep is not None:
            criteria.append(LoginSession.id != keep)
        return [ended.id for ended in self._end(*criteria, now=datetime.now(UTC))]

    def _end(self, *criteria: ColumnElement[bool], now: datetime) -> list[EndedSession]:
        ended = [
            EndedSession(row.id, row.ip_address, row.user_agent)
            for row in self.repository.rows(
                update(LoginSession)
                .where(*criteria, LoginSession.ended_at.is_(None))
                .values(ended_at=now)
                .returning(LoginSession.id, LoginSession.ip_address, LoginSession.user_agent)
            )
        ]
        if ended:
            self.tokens.rows(
                update(RefreshToken)
                .where(
                    RefreshToken.session_id.in_([session.id for session in ended]), RefreshToken.revoked_at.is_(None)
                )
                .values(revoked_at=now)
            )
        return ended

    def read_live(self, user_id: uuid.UUID, page: PageRequest) -> Listing[LoginSession]:
        """A page of the account's live sessions, the most recently used first."""
        rows, total = self.get_many_and_count(
            LoginSession.user_id == user_id, *_live(datetime.now(UTC)), _MOST_RECENTLY_USED_FIRST, page.filter
        )
        return page.build(rows, total)
