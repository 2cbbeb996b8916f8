"""Login: an email and a password in, a token pair out, in a new session; every attempt is a security event, and a
sign-in from a device and address the account never signed in from is mailed to it.

The session, its first refresh token and the event are written in one transaction. The credentials are read in a
transaction of their own, ended before the password check, so none is held open while argon2 runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.audit.models import EventKind
from app.audit.service import AuditLog
from app.auth.lockout import SignInLockout, SignInThrottledError
from app.auth.sessions import SessionService
from app.core.errors import AuthenticationFailedError
from app.emails.models import EmailKind
from app.emails.service import OutboxService
from app.users.repository import UserRepository
from app.users.service import normalise_email

if TYPE_CHECKING:
    import uuid
    from datetime import timedelta

    from sqlalchemy.orm import Session

    from app.auth.access_tokens import AccessTokenIssuer
    from app.auth.schemas import TokenPair
    from app.core.origin import RequestOrigin
    from app.core.security import PasswordHashing
    from app.core.settings import Settings
    from app.core.task_queue import TaskQueue
    from app.users.repository import SignInRecord

__all__ = ("INVALID_CREDENTIALS", "LoginService")

INVALID_CREDENTIALS = "Incorrect email or password"


class _SignInRefusedError(Exception):
    """Why a sign-in was refused, for the audit log only: the client gets one answer for every refusal."""

    def __init__(self, user_id: uuid.UUID | None, reason: str) -> None:
        super().__init__(reason)
        self.user_id = user_id
        self.why = {"reason": reason}


class LoginService:
    """Checks a sign-in and opens a session; built per request on the request's session, for a client at ``origin``."""

    __slots__ = (
        "access_tokens",
        "audit",
        "lockout",
        "origin",
        "outbox",
        "passwords",
        "refresh_lifetime",
        "sessions",
        "users",
    )

    def __init__(
        self,
        session: Session,
        passwords: PasswordHashing,
        access_tokens: AccessTokenIssuer,
        refresh_lifetime: timedelta,
        settings: Settings,
        *,
        origin: RequestOrigin | None = None,
        task_queue: TaskQueue | None = None,
    ) -> None:
        self.users = UserRepository(session=session)
        self.sessions = SessionService(session=session)
        self.audit = AuditLog(session, origin)
        self.lockout = SignInLockout(session, settings)
        self.outbox = OutboxService(session, settings, task_queue)
        self.origin = origin
        self.passwords = passwords
        self.access_tokens = access_tokens
        self.refresh_lifetime = refresh_lifetime

    def login(self, email: str, password: str) -> TokenPair:
        """Open a session for the account with these credentials.

        Raises:
            SignInThrottledError: the address failed too often lately (per-account lockout); no password is checked.
            AuthenticationFailedError: with one message for every kind of refusal.

        Each refusal is recorded, and committed, with the failure it counts toward the lockout.
        """
        address = normalise_email(email)
        account = self.users.read_sign_in(address)
        try:
            had_failures = self.lockout.check(address)
        except SignInThrottledError as throttled:
            subject_id = None if account is None else account.id
            self.audit.record(EventKind.SIGN_IN_LOCKED, subject_id=subject_id, actor_id=None, detail=throttled.why)
            self.users.session.commit()
            raise
        # No transaction stays open while argon2 runs.
        self.users.session.commit()
        try:
            signed_in = self._check_password(account, password)
        except _SignInRefusedError as refused:
            detail = refused.why | {"locked": self.lockout.failed(address)}
            self.audit.record(EventKind.SIGN_IN_FAILED, subject_id=refused.user_id, actor_id=None, detail=detail)
            self.users.session.commit()
            raise AuthenticationFailedError(INVALID_CREDENTIALS) from None
        if had_failures:
            self.lockout.succeeded(address)
        user_id = signed_in.id
        opened = self.sessions.open(user_id, self.refresh_lifetime, self.origin)
        if self.audit.is_unfamiliar_sign_in(user_id):
            self._notify_unfamiliar_sign_in(signed_in)
        self.audit.record(EventKind.SIGN_IN_SUCCEEDED, subject_id=user_id, actor_id=user_id, session_id=opened.id)
        self.users.session.commit()
        self.outbox.dispatch_added()
        return self.access_tokens.pair(user_id, opened.id, opened.refresh_token)

    def _notify_unfamiliar_sign_in(self, account: SignInRecord) -> None:
        where = {
            "ip_address": None if self.origin is None else self.origin.ip_address,
            "user_agent": None if self.origin is None else self.origin.user_agent,
        }
        payload = {"name": account.full_name, **where}
        self.outbox.add(EmailKind.NEW_SIGN_IN, account.email, user_id=account.id, payload=payload)

    def _check_password(self, account: SignInRecord | None, password: str) -> SignInRecord:
        """``account``, if ``password`` is its own; every refusal costs one check.

        A hash made with older argon2 parameters is replaced by one made with the current parameters.

        Raises:
            _SignInRefusedError: no (active) account has the address, or the password is wrong.
        """
        if account is None:
            self.passwords.burn_verify(password)
            raise _SignInRefusedError(None, "unknown_or_inactive_account")
        if not self.passwords.verify(account.hashed_password, password):
            raise _SignInRefusedError(account.id, "wrong_password")
        if self.passwords.needs_rehash(account.hashed_password):
            self.users.replace_password_hash(account.id, self.passwords.hash(password))
        return account
