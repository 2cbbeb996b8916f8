"""Account rules: registration, credentials, self-service and admin changes, listing."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import msgspec
from advanced_alchemy.filters import OrderBy, SearchFilter
from advanced_alchemy.repository import SQLAlchemySyncRepository
from advanced_alchemy.service import SQLAlchemySyncRepositoryService

from app.auth.refresh_tokens import RefreshTokenService
from app.core.errors import AuthenticationFailedError, BadRequestError, ConflictError, ForbiddenError
from app.users.models import User
from app.users.schemas import UserRegistration

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.core.pagination import Page, PageRequest
    from app.core.security import PasswordHashing
    from app.users.schemas import UserAdminCreate, UserAdminUpdate, UserUpdate

__all__ = ("UserService", "normalise_email")

INVALID_CREDENTIALS = "Incorrect email or password"
EMAIL_TAKEN = "A user with this email already exists"
PRIVILEGED_FIELDS = frozenset({"is_active", "is_superuser", "is_verified"})


def normalise_email(email: str) -> str:
    return email.strip().lower()


class UserService(SQLAlchemySyncRepositoryService[User]):
    """Every write ends in an explicit commit, so a failed commit surfaces as an error, never as a 2xx."""

    class Repo(SQLAlchemySyncRepository[User]):
        model_type = User

    repository_type = Repo
    # A window count has no row to ride on past the last page (total 0); a separate COUNT keeps it right.
    count_with_window_function = False
    match_fields = ["email"]

    def __init__(self, session: Session, passwords: PasswordHashing, **kwargs: Any) -> None:
        super().__init__(session=session, error_messages={"duplicate_key": EMAIL_TAKEN}, **kwargs)
        self.passwords = passwords

    @property
    def refresh_tokens(self) -> RefreshTokenService:
        return RefreshTokenService(session=self.repository.session)

    def commit(self) -> None:
        self.repository.session.commit()

    def rollback(self) -> None:
        self.repository.session.rollback()

    def _new_user(self, data: UserRegistration, **flags: bool) -> User:
        user = User(
            email=normalise_email(data.email),
            hashed_password=self.passwords.hash(data.password),
            first_name=data.first_name,
            last_name=data.last_name,
            profile=None,
            **flags,
        )
        self.repository.add(user)
        return user

    def register(self, data: UserRegistration) -> User:
        """Self-service sign-up: the account is active, unverified and never privileged."""
        user = self._new_user(data, is_active=True, is_superuser=False, is_verified=False)
        self.commit()
        return user

    def create_by_admin(self, data: UserAdminCreate) -> User:
        user = self._new_user(
            data, is_active=data.is_active, is_superuser=data.is_superuser, is_verified=data.is_verified
        )
        self.commit()
        return user

    def ensure_superuser(self, email: str, password: str) -> tuple[User, bool]:
        """Create a superuser unless the email exists; returns the user and whether it was created."""
        existing = self.get_one_or_none(email=normalise_email(email))
        if existing is not None:
            return existing, False
        user = self._new_user(
            UserRegistration(email=email, password=password), is_active=True, is_superuser=True, is_verified=True
        )
        self.commit()
        return user, True

    def get_active(self, user_id: uuid.UUID) -> User | None:
        user = self.get_one_or_none(id=user_id)
        return user if user is not None and user.is_active else None

    def authenticate(self, email: str, password: str) -> User:
        """Check credentials; every refusal looks the same and costs one argon2 verification.

        Raises:
            AuthenticationFailedError: unknown email, wrong password or inactive account.
        """
        user = self.get_one_or_none(email=normalise_email(email))
        if user is None:
            self.passwords.burn_verify(password)
            raise AuthenticationFailedError(INVALID_CREDENTIALS)
        if not self.passwords.verify(user.hashed_password, password) or not user.is_active:
            raise AuthenticationFailedError(INVALID_CREDENTIALS)
        if self.passwords.needs_rehash(user.hashed_password):
            user.hashed_password = self.passwords.hash(password)
            self.repository.session.flush()
        return user

    def update_account(self, user: User, changes: UserUpdate | UserAdminUpdate, *, actor: User) -> User:
        """Apply a partial update made by ``actor`` (the account's owner or a superuser).

        Raises:
            ForbiddenError: a non-superuser tried to change a flag.
            BadRequestError: a new password of one's own without the right ``current_password``.
            ConflictError: the new email belongs to another account.
        """
        fields = {key: value for key, value in msgspec.structs.asdict(changes).items() if value is not msgspec.UNSET}
        current_password = fields.pop("current_password", None)
        if PRIVILEGED_FIELDS & fields.keys() and not actor.is_superuser:
            raise ForbiddenError("Only a superuser may change is_active, is_superuser or is_verified")
        if "password" in fields:
            self._apply_new_password(user, fields.pop("password"), current_password, actor=actor)
        if "email" in fields:
            self._apply_new_email(user, fields.pop("email"))
        for key, value in fields.items():
            setattr(user, key, value)
        self.commit()
        return user

    def _apply_new_password(self, user: User, password: str, current_password: str | None, *, actor: User) -> None:
        if actor.id == user.id:
            if current_password is None:
                raise BadRequestError("current_password is required to set a new password")
            if not self.passwords.verify(user.hashed_password, current_password):
                raise BadRequestError("current_password is incorrect")
        user.hashed_password = self.passwords.hash(password)
        self.refresh_tokens.revoke_all_for_user(user.id)

    def _apply_new_email(self, user: User, email: str) -> None:
        email = normalise_email(email)
        if email == user.email:
            return
        if self.exists(email=email):
            raise ConflictError(EMAIL_TAKEN)
        user.email = email
        user.is_verified = False

    def delete_account(self, user_id: uuid.UUID) -> None:
        """Delete an account; its tokens go with it (ON DELETE CASCADE)."""
        self.delete(user_id)
        self.commit()

    def list_page(self, page: PageRequest, query: str | None) -> Page[User]:
        filters: list[Any] = [page.filter, OrderBy(field_name="created_at", sort_order="desc")]
        if query:
            filters.append(SearchFilter(field_name={"email", "first_name", "last_name"}, value=query, ignore_case=True))
        users, total = self.get_many_and_count(*filters)
        return page.build(users, total)
