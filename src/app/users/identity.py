"""Who is calling: the bearer's account, read once per request as the plain data every caller needs.

Bearer authentication runs on every authenticated request, so it reads the account with one Core ``SELECT`` by
primary key (profile joined) on an autocommit connection: one round trip, no ORM session, no transaction to end.
The result is the same :class:`UserResponse` clients see for ``GET /users/me``, so that route answers from it
without touching the database again. Routes that change the account load the ORM row in their own session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from sqlalchemy import bindparam, select

from app.users.models import Profile, User, full_name
from app.users.schemas import ProfileResponse, UserResponse

if TYPE_CHECKING:
    import uuid

    from sqlalchemy import Connection

__all__ = ("Actor", "AuthenticatedUser", "read_active_account")

AuthenticatedUser = UserResponse
"""What authentication attaches to the request: the caller's account as of this request."""


class Actor(Protocol):
    """Whoever acts on a resource: all that ownership and role rules look at (an ORM user or the request's)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def is_superuser(self) -> bool: ...


_ACCOUNT_BY_ID = (
    select(
        User.id,
        User.email,
        User.first_name,
        User.last_name,
        User.is_active,
        User.is_superuser,
        User.is_verified,
        User.created_at,
        User.updated_at,
        Profile.id.label("profile_id"),
        Profile.bio,
        Profile.avatar_url,
    )
    .outerjoin(Profile, Profile.user_id == User.id)
    .where(User.id == bindparam("user_id"))
)


def read_active_account(connection: Connection, user_id: uuid.UUID) -> AuthenticatedUser | None:
    """The active account with this id, or None if there is none or it is deactivated."""
    row = connection.execute(_ACCOUNT_BY_ID, {"user_id": user_id}).one_or_none()
    if row is None or not row.is_active:
        return None
    profile = None if row.profile_id is None else ProfileResponse(bio=row.bio, avatar_url=row.avatar_url)
    return AuthenticatedUser(
        id=row.id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        full_name=full_name(row.first_name, row.last_name, row.email),
        is_active=row.is_active,
        is_superuser=row.is_superuser,
        is_verified=row.is_verified,
        profile=profile,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
