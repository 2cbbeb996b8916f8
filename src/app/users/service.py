"""Account rules: registration, self-service and admin changes, deletion, listing.

What a change of credentials sets off beyond the account itself (ending sessions, voiding and mailing links) is the
auth domain's, reached through the :class:`AccountSecurity` it implements: this domain knows accounts, not tokens.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any, Protocol

import idna
import msgspec
from advanced_alchemy.service import SQLAlchemySyncRepositoryService

from app.audit.models import EventKind
from app.audit.service import AuditLog
from app.core.cursors import page_cursors
from app.core.entity_tags import check_if_match
from app.core.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError
from app.emails.models import EmailKind
from app.emails.service import OutboxService
from app.users.models import User
from app.users.repository import UserRepository
from app.users.schemas import UserRegistration, UserResponse

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable

    from sqlalchemy.orm import Session

    from app.core.caller import Caller
    from app.core.origin import RequestOrigin
    from app.core.pagination import Listing, PageQuery
    from app.core.security import PasswordHashing
    from app.core.settings import Settings
    from app.core.task_queue import TaskQueue
    from app.users.schemas import UserAdminCreate, UserAdminUpdate, UserUpdate

__all__ = ("USER_NOT_FOUND", "AccountSecurity", "UserService", "normalise_email", "to_user_response")

EMAIL_TAKEN = "A user with this email already exists"
USER_NOT_FOUND = "The requested resource was not found"
PRIVILEGED_FIELDS = frozenset({"is_active", "is_superuser", "is_verified"})


def normalise_email(email: str) -> str:
    """The one spelling of an address that uniqueness and sign-in compare: NFKC (full-width and other compatibility
    forms are the same characters), trimmed and lower-cased, its domain in IDNA's ASCII form (``bücher.example`` and
    ``xn--bcher-kva.example`` are one domain). A domain IDNA refuses is kept as typed: no mail reaches it anyway."""
    address = unicodedata.normalize("NFKC", email).strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return address
    return f"{local}@{domain}"


def to_user_response(user: User) -> UserResponse:
    """An account row just written, as clients see it (its profile is loaded with it)."""
    return msgspec.convert(user, UserResponse, from_attributes=True)


class AccountSecurity(Protocol):
    """What an account's change means for the way it signs in; all of it in the caller's transaction."""

    def send_verification(self, user: User) -> None:
        """Mail a verification link to the account's current address."""

    def password_changed(self, user: User, notify_address: str) -> None:
        """End every session of the account and mail a notice to ``notify_address``."""

    def request_email_change(self, user: User, new_email: str) -> None:
        """Mail a link that confirms ``new_email`` to that address (voiding any earlier one), and a notice to the
        account's current address."""

    def account_deactivated(self, user: User) -> None:
        """End every session of the account."""


class UserService(SQLAlchemySyncRepositoryService[User, UserRepository]):
    """Every write ends in an explicit commit, so a failed commit surfaces as an error, never as a 2xx.

    Emails an account change causes are outbox rows written in the same transaction; :meth:`commit` enqueues
    them only once they are durable. Without a ``task_queue`` (CLI, tests) they wait for the worker's relay.
    """

    repository_type = UserRepository

    def __init__(
        self,
        session: Session,
        passwords: PasswordHashing,
        settings: Settings,
        security: Callable[[Session, OutboxService], AccountSecurity],
        *,
        task_queue: TaskQueue | None = None,
        origin: RequestOrigin | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(session=session, error_messages={"duplicate_key": EMAIL_TAKEN}, **kwargs)
        self.passwords = passwords
        self.outbox = OutboxService(session, settings, task_queue)
        self.security = security(session, self.outbox)
        self.audit = AuditLog(session, origin)
        self.cursors = page_cursors(settings.secret_key)

    def commit(self) -> None:
        """Commit, then enqueue the emails this transaction wrote."""
        self.repository.session.commit()
        self.outbox.dispatch_added()

    def rollback(self) -> None:
        self.repository.session.rollback()
        self.outbox.discard_added()

    # -- reads ------------------------------------------------------------------------------------------------

    def read(self, user_id: uuid.UUID) -> UserResponse:
        """Raises NotFoundError if there is no such account."""
        account = self.repository.read_account(user_id)
        if account is None:
            raise NotFoundError(USER_NOT_FOUND)
        return account

    def read_page(self, page: PageQuery, query: str | None) -> Listing[UserResponse]:
        """Raises BadRequestError if the page's cursor is not one of this listing's."""
        return self.repository.read_accounts(page, self.cursors, query)

    def get_active(self, user_id: uuid.UUID) -> User | None:
        """The active account's row, to change it."""
        return self.repository.get_active(user_id)

    def _get_for_change(self, user_id: uuid.UUID) -> User:
        user = self.repository.get_one_or_none(id=user_id)
        if user is None:
            raise NotFoundError(USER_NOT_FOUND)
        return user

    # -- creating ---------------------------------------------------------------------------------------------

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
        self.outbox.add(EmailKind.WELCOME, user.email, user_id=user.id, payload={"name": user.full_name})
        self.security.send_verification(user)
        self.commit()
        return user

    def create_by_admin(self, data: UserAdminCreate, *, actor_id: uuid.UUID | None = None) -> User:
        """An account with any flags, made by superuser ``actor_id`` (none: from the command line)."""
        user = self._new_user(
            data, is_active=data.is_active, is_superuser=data.is_superuser, is_verified=data.is_verified
        )
        flags = {"is_active": user.is_active, "is_superuser": user.is_superuser, "is_verified": user.is_verified}
        self.audit.record(EventKind.ACCOUNT_CREATED, subject_id=user.id, actor_id=actor_id, detail=flags)
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

    # -- changing ---------------------------------------------------------------------------------------------

    def _hold_unchanged(self, user_id: uuid.UUID, if_match: str | None) -> None:
        """For a conditional change: hold the account against other writers, then check it is as the client read it.

        Raises:
            PreconditionFailedError: ``if_match`` does not name the account as it is.
        """
        if if_match is None:
            return
        self.repository.lock(User.id == user_id)
        check_if_match(if_match, self.repository.read_account(user_id))

    def update_account(
        self,
        user_id: uuid.UUID,
        changes: UserUpdate | UserAdminUpdate,
        *,
        caller: Caller,
        if_match: str | None = None,
    ) -> User:
        """Apply a partial update made by ``caller`` (the account's owner or a superuser).

        A new password ends every session and mails a notice to the account's address. A new email address is not
        set here: a link that confirms it goes to that address (:meth:`change_email` sets it when the link is used)
        and a notice to the current one. Owners changing their own password or email give ``current_password``.

        Raises:
            NotFoundError: no such account.
            ForbiddenError: a non-superuser tried to change a flag, or a superuser to demote or deactivate themselves.
            BadRequestError: a new password or email of one's own without the right ``current_password``.
            ConflictError: the new email belongs to another account.
            PreconditionFailedError: ``if_match`` does not name the account as it is.
        """
        fields = {key: value for key, value in msgspec.structs.asdict(changes).items() if value is not msgspec.UNSET}
        current_password = fields.pop("current_password", None)
        if PRIVILEGED_FIELDS & fields.keys() and not caller.is_superuser:
            raise ForbiddenError("Only a superuser may change is_active, is_superuser or is_verified")
        if caller.id == user_id and False in (fields.get("is_superuser"), fields.get("is_active")):
            # Another superuser can; one alone could otherwise leave the service with no one to administer it.
            raise ForbiddenError("A superuser cannot take away their own superuser flag or deactivate themselves")
        self._hold_unchanged(user_id, if_match)
        user = self._get_for_change(user_id)
        new_email = normalise_email(fields.pop("email", user.email))
        new_password = fields.pop("password", None)
        if caller.id == user.id and (new_password is not None or new_email != user.email):
            self._check_current_password(user, current_password)
        if new_email != user.email:
            self.ensure_address_free(new_email)
        for key, value in fields.items():
            setattr(user, key, value)
        if new_password is not None:
            user.hashed_password = self.passwords.hash(new_password)
            self.security.password_changed(user, user.email)
            self.audit.record(EventKind.PASSWORD_CHANGED, subject_id=user.id, actor_id=caller.id)
        if new_email != user.email:
            self.security.request_email_change(user, new_email)
            detail = {"email": new_email}
            self.audit.record(EventKind.EMAIL_CHANGE_REQUESTED, subject_id=user.id, actor_id=caller.id, detail=detail)
        if fields.get("is_active") is False:
            self.security.account_deactivated(user)
        if fields and caller.id != user.id:
            # Whatever else a superuser changed of another account (the values stay in the account itself).
            changed = {"fields": sorted(fields)}
            self.audit.record(EventKind.ACCOUNT_CHANGED, subject_id=user.id, actor_id=caller.id, detail=changed)
        self.commit()
        return user

    def _check_current_password(self, user: User, current_password: str | None) -> None:
        if current_password is None:
            raise BadRequestError("current_password is required to change one's own password or email")
        if not self.passwords.verify(user.hashed_password, current_password):
            raise BadRequestError("current_password is incorrect")

    def ensure_address_free(self, email: str) -> None:
        """Raises ConflictError if an account has the (normalised) address ``email``."""
        if self.exists(email=email):
            raise ConflictError(EMAIL_TAKEN)

    def change_email(self, user: User, email: str) -> str:
        """Move the account to the (normalised) address ``email``, which its owner has just proved to read, and
        return its former address; the caller commits.

        Raises:
            ConflictError: another account took the address since the change was requested.
        """
        self.ensure_address_free(email)
        previous_email = user.email
        user.email = email
        user.is_verified = True
        return previous_email

    def delete_by_admin(self, user_id: uuid.UUID, *, caller: Caller, if_match: str | None = None) -> None:
        """Delete another account, as superuser ``caller``.

        Raises:
            ForbiddenError: the account is the caller's own: that is :meth:`delete_account` (``DELETE /users/me``), a
                deliberate act, never an administrator's slip that could leave the service with no one to run it.
        """
        if user_id == caller.id:
            raise ForbiddenError("Superusers delete their own account with DELETE /users/me")
        self.delete_account(user_id, caller=caller, if_match=if_match)

    def delete_account(self, user_id: uuid.UUID, *, caller: Caller, if_match: str | None = None) -> None:
        """Delete an account (``caller``'s own, or any by a superuser); its sessions and tokens go with it (ON DELETE
        CASCADE), the record of its security events stays until their retention ends."""
        self._hold_unchanged(user_id, if_match)
        self.delete(user_id)
        self.audit.record(EventKind.ACCOUNT_DELETED, subject_id=user_id, actor_id=caller.id)
        self.commit()
