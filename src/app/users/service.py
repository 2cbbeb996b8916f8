"""Account rules: registration, credentials, self-service and admin changes, listing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from advanced_alchemy.filters import OrderBy, SearchFilter
from advanced_alchemy.repository import SQLAlchemySyncRepository
from advanced_alchemy.service import SQLAlchemySyncRepositoryService

from app.auth.models import TokenPurpose
from app.auth.one_time_tokens import OneTimeTokenService
from app.auth.refresh_tokens import RefreshTokenService
from app.core.errors import BadRequestError, ConflictError, ForbiddenError
from app.emails.models import EmailKind
from app.emails.service import OutboxService
from app.users.models import User
from app.users.schemas import UserRegistration

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.core.pagination import Page, PageRequest
    from app.core.security import PasswordHashing
    from app.core.settings import Settings
    from app.core.task_queue import TaskQueue
    from app.users.identity import Actor
    from app.users.schemas import UserAdminCreate, UserAdminUpdate, UserUpdate

__all__ = ("UserService", "find_active_user", "normalise_email")

INVALID_CREDENTIALS = "Incorrect email or password"
EMAIL_TAKEN = "A user with this email already exists"
PRIVILEGED_FIELDS = frozenset({"is_active", "is_superuser", "is_verified"})


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _humanise(lifetime: timedelta) -> str:
    minutes = int(lifetime.total_seconds()) // 60
    value, unit = (minutes // 60, "hour") if minutes % 60 == 0 else (minutes, "minute")
    return f"{value} {unit}{'' if value == 1 else 's'}"


class UserService(SQLAlchemySyncRepositoryService[User]):
    """Every write ends in an explicit commit, so a failed commit surfaces as an error, never as a 2xx.

    Emails an account change causes are outbox rows written in the same transaction; :meth:`commit` enqueues
    them only once they are durable. Without a ``task_queue`` (CLI, tests) they wait for the worker's relay.
    """

    class Repo(SQLAlchemySyncRepository[User]):
        model_type = User

    repository_type = Repo
    # A window count has no row to ride on past the last page (total 0); a separate COUNT keeps it right.
    count_with_window_function = False
    match_fields = ["email"]

    def __init__(
        self,
        session: Session,
        passwords: PasswordHashing,
        settings: Settings,
        task_queue: TaskQueue | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(session=session, error_messages={"duplicate_key": EMAIL_TAKEN}, **kwargs)
        self.passwords = passwords
        self.settings = settings
        self.outbox = OutboxService(session, settings, task_queue)
        self.one_time_tokens = OneTimeTokenService(session=session)

    @property
    def refresh_tokens(self) -> RefreshTokenService:
        return RefreshTokenService(session=self.repository.session)

    def commit(self) -> None:
        """Commit, then enqueue the emails this transaction wrote."""
        self.repository.session.commit()
        self.outbox.dispatch_added()

    def rollback(self) -> None:
        self.repository.session.rollback()
        self.outbox.discard_added()

    def queue_welcome(self, user: User) -> None:
        self.outbox.add(EmailKind.WELCOME, user.email, user_id=user.id, payload={"name": user.full_name})

    def queue_verification(self, user: User) -> None:
        """A verification link for the account's current address (in the transaction; the caller commits)."""
        lifetime = timedelta(hours=self.settings.verify_email_token_expire_hours)
        token = self.one_time_tokens.issue(user.id, TokenPurpose.VERIFY_EMAIL, lifetime)
        payload = {"name": user.full_name, "token": token, "expires_in": _humanise(lifetime)}
        self.outbox.add(EmailKind.VERIFY_EMAIL, user.email, user_id=user.id, payload=payload)

    def queue_password_reset(self, user: User) -> None:
        """A reset link; older reset tokens stop working (in the transaction; the caller commits)."""
        lifetime = timedelta(minutes=self.settings.reset_password_token_expire_minutes)
        self.one_time_tokens.revoke(user.id, TokenPurpose.RESET_PASSWORD)
        token = self.one_time_tokens.issue(user.id, TokenPurpose.RESET_PASSWORD, lifetime)
        payload = {"name": user.full_name, "token": token, "expires_in": _humanise(lifetime)}
        self.outbox.add(EmailKind.RESET_PASSWORD, user.email, user_id=user.id, payload=payload)

    def queue_password_changed(self, user: User, address: str) -> None:
        self.outbox.add(EmailKind.PASSWORD_CHANGED, address, user_id=user.id, payload={"name": user.full_name})

    def set_password(self, user: User, password: str) -> None:
        """Store a new hash and sign out every session (revokes all refresh tokens)."""
        user.hashed_password = self.passwords.hash(password)
        self.refresh_tokens.revoke_all_for_user(user.id)

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
        """Self-service sign-up: the account is active, unverified and never privileged; welcome and
        verification emails are written with it.
        """
        user = self._new_user(data, is_active=True, is_superuser=False, is_verified=False)
        self.queue_welcome(user)
        self.queue_verification(user)
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
        return find_active_user(self.repository.session, user_id)

    def update_account(self, user: User, changes: UserUpdate | UserAdminUpdate, *, actor: Actor) -> User:
        """Apply a partial update made by ``actor`` (the account's owner or a superuser).

        A new password mails a notice to the address the account had before this change; a new email
        address voids the account's one-time tokens and, unless the account ends up verified, mails a
        verification link to the new address.

        Raises:
            ForbiddenError: a non-superuser tried to change a flag.
            BadRequestError: a new password of one's own without the right ``current_password``.
            ConflictError: the new email belongs to another account.
        """
        fields = {key: value for key, value in msgspec.structs.asdict(changes).items() if value is not msgspec.UNSET}
        current_password = fields.pop("current_password", None)
        if PRIVILEGED_FIELDS & fields.keys() and not actor.is_superuser:
            raise ForbiddenError("Only a superuser may change is_active, is_superuser or is_verified")
        previous_email = user.email
        password_changed = "password" in fields
        if password_changed:
            self._apply_new_password(user, fields.pop("password"), current_password, actor=actor)
        email_changed = "email" in fields and self._apply_new_email(user, fields.pop("email"))
        for key, value in fields.items():
            setattr(user, key, value)
        if email_changed:
            self.one_time_tokens.revoke(user.id)
            if not user.is_verified:
                self.queue_verification(user)
        if password_changed:
            self.queue_password_changed(user, previous_email)
        self.commit()
        return user

    def _apply_new_password(self, user: User, password: str, current_password: str | None, *, actor: Actor) -> None:
        if actor.id == user.id:
            if current_password is None:
                raise BadRequestError("current_password is required to set a new password")
            if not self.passwords.verify(user.hashed_password, current_password):
                raise BadRequestError("current_password is incorrect")
        self.set_password(user, password)

    def _apply_new_email(self, user: User, email: str) -> bool:
        """Set a new address (unverified); False if it is the current one."""
        email = normalise_email(email)
        if email == user.email:
            return False
        if self.exists(email=email):
            raise ConflictError(EMAIL_TAKEN)
        user.email = email
        user.is_verified = False
        return True

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


def find_active_user(session: Session, user_id: uuid.UUID) -> User | None:
    """The active user with this id, by primary key (one query, profile joined): what every bearer request needs."""
    user = session.get(User, user_id)
    return user if user is not None and user.is_active else None
