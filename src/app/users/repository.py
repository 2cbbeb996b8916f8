"""Reading accounts: the one way to read a user (and the one place of the rule that a usable account is active).

Every read answers with the same :class:`UserResponse` clients see, built from one ``SELECT`` of exactly its columns
(profile joined): the bearer's account on every authenticated request, ``GET /users/{id}``, the superusers' listing.
Changes load the ORM row (:meth:`UserRepository.get_active`, advanced-alchemy's ``get``) in the request's
transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from advanced_alchemy.filters import SearchFilter
from sqlalchemy import ColumnElement, Select, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.core.pagination import KeysetPages
from app.core.repository import Repository
from app.users.models import Profile, User, full_name
from app.users.schemas import ProfileResponse, UserResponse

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable, Mapping

    from sqlalchemy import Row

    from app.core.cursors import CursorCodec
    from app.core.pagination import Listing, PageQuery

__all__ = ("ACTIVE", "ACTIVE_ACCOUNT_BY_ID", "ProfileRepository", "SignInRecord", "UserRepository")

ACTIVE: ColumnElement[bool] = User.is_active == True  # noqa: E712  (SQL)
"""An account signs in and acts only while it is active: every read of a signed-in account has this criterion."""

_ACCOUNT = select(
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
).outerjoin(Profile, Profile.user_id == User.id)
_ACCOUNT_BY_ID = _ACCOUNT.where(User.id == bindparam("user_id"))
ACTIVE_ACCOUNT_BY_ID: Select[Any] = _ACCOUNT_BY_ID.where(ACTIVE)
"""The active account ``user_id``, as :meth:`UserRepository.read_account_by` reads it; a domain that narrows it with a
criterion of its own (a session that must be live) builds that statement once, from this one."""
_SIGN_IN = select(User.id, User.hashed_password, User.email, User.first_name, User.last_name).where(ACTIVE)
_SIGN_IN_BY_EMAIL = _SIGN_IN.where(User.email == bindparam("email"))
_SIGN_IN_BY_ID = _SIGN_IN.where(User.id == bindparam("user_id"))
_COUNT_ACCOUNTS: Select[Any] = select(func.count()).select_from(User)


def _account_pages(accounts: Select[Any]) -> KeysetPages:
    """The pages of ``accounts``, newest first (``ix_user_account_created`` serves the order)."""
    return KeysetPages(accounts, User, ("created_at", "id"), "desc")


_ACCOUNT_PAGES = _account_pages(_ACCOUNT)
SEARCHED_FIELDS = {"email", "first_name", "last_name"}


class SignInRecord:
    """What a sign-in needs of an active account: its id and password hash, and its address and name for a notice."""

    __slots__ = ("email", "full_name", "hashed_password", "id")

    def __init__(self, user_id: uuid.UUID, hashed_password: str, email: str, full_name: str) -> None:
        self.id = user_id
        self.hashed_password = hashed_password
        self.email = email
        self.full_name = full_name


def _account(row: Row[Any]) -> UserResponse:
    profile = None if row.profile_id is None else ProfileResponse(bio=row.bio, avatar_url=row.avatar_url)
    return UserResponse(
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


class UserRepository(Repository[User]):
    model_type = User

    def read_account(self, user_id: uuid.UUID, *, active: bool = False) -> UserResponse | None:
        """The account with this id (only if it is active, when ``active``), or None."""
        return self.read_account_by(ACTIVE_ACCOUNT_BY_ID if active else _ACCOUNT_BY_ID, {"user_id": user_id})

    def read_account_by(self, statement: Select[Any], parameters: Mapping[str, Any]) -> UserResponse | None:
        """The one account ``statement`` (:data:`ACTIVE_ACCOUNT_BY_ID`, maybe narrowed) selects, or None."""
        row = self.rows(statement, parameters).one_or_none()
        return None if row is None else _account(row)

    def read_accounts(self, page: PageQuery, cursors: CursorCodec, query: str | None) -> Listing[UserResponse]:
        """A page of all accounts, newest first, optionally those whose email or names contain ``query``.

        Raises:
            BadRequestError: the page's cursor is not one of this listing's (another ``query``'s, say).
        """
        counted, pages = _COUNT_ACCOUNTS, _ACCOUNT_PAGES
        if query:
            search = SearchFilter(field_name=SEARCHED_FIELDS, value=query, ignore_case=True)
            counted = search.append_to_statement(counted, User)
            pages = _account_pages(search.append_to_statement(_ACCOUNT, User))
        window = pages.window(page, cursors, ("users", query))
        return window.read(self.rows, {}, self.rows(counted).scalar_one()).map(_account)

    def get_active(self, user_id: uuid.UUID) -> User | None:
        """The active account's ORM row, to change it."""
        return self.get_one_or_none(ACTIVE, id=user_id)

    def get_active_by_email(self, email: str) -> User | None:
        """The active account with this (normalised) address, to change it."""
        return self.get_one_or_none(ACTIVE, email=email)

    def read_sign_in(self, email: str) -> SignInRecord | None:
        """The id and password hash of the active account with this (normalised) address."""
        return self._sign_in_record(self.rows(_SIGN_IN_BY_EMAIL, {"email": email}).one_or_none())

    def read_sign_in_of(self, user_id: uuid.UUID) -> SignInRecord | None:
        """The same of the active account ``user_id`` (a sign-in that has passed its password)."""
        return self._sign_in_record(self.rows(_SIGN_IN_BY_ID, {"user_id": user_id}).one_or_none())

    @staticmethod
    def _sign_in_record(row: Row[Any] | None) -> SignInRecord | None:
        if row is None:
            return None
        return SignInRecord(row.id, row.hashed_password, row.email, full_name(row.first_name, row.last_name, row.email))

    def replace_password_hash(self, user_id: uuid.UUID, hashed_password: str) -> None:
        # updated_at comes from the column's onupdate, as it does for the ORM.
        self.rows(update(User).where(User.id == user_id).values(hashed_password=hashed_password))


def _write_profile(insert: Callable[[type[Profile]], Any]) -> Any:
    """Insert the account's profile, or on its unique ``user_id`` replace the fields of the one it has; the row's
    own defaults give the new ``updated_at`` (and, for a new row, its id and ``created_at``)."""
    statement = insert(Profile).values(user_id=bindparam("user_id"), bio=bindparam("bio"), avatar_url=bindparam("url"))
    replaced = {"bio": statement.excluded.bio, "avatar_url": statement.excluded.avatar_url}
    return statement.on_conflict_do_update(
        index_elements=[Profile.user_id], set_={**replaced, "updated_at": statement.excluded.updated_at}
    ).returning(Profile.bio, Profile.avatar_url)


# Both dialects spell the upsert alike, from their own ``insert``.
_WRITE_PROFILE = {"postgresql": _write_profile(postgresql.insert), "sqlite": _write_profile(sqlite.insert)}


class ProfileRepository(Repository[Profile]):
    model_type = Profile

    def write(self, user_id: uuid.UUID, *, bio: str | None, avatar_url: str | None) -> ProfileResponse:
        """Create the account's profile or replace its fields; the profile as stored."""
        parameters = {"user_id": user_id, "bio": bio, "url": avatar_url}
        row = self.rows(_WRITE_PROFILE[self._dialect.name], parameters).one()
        return ProfileResponse(bio=row.bio, avatar_url=row.avatar_url)
