"""Two-factor sign-in, turned on and off: enrolment, its first code, recovery codes, and a superuser's reset.

Everything that could lock an account's owner out, or let someone else in, needs the account's password (and, once
two-factor sign-in is on, a code): a stolen access token alone can neither turn it on nor off. Wrong passwords and
codes here count toward the sign-in lockout (``app.auth.lockout``) as at sign-in, so these routes are no way around
it. Turning it on or off, and using a recovery code, are mailed to the account and recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyotp

from app.audit.models import EventKind
from app.auth.lockout import SignInLockout
from app.auth.schemas import RecoveryCodes, TwoFactorEnrolment, TwoFactorStatus
from app.auth.two_factor_codes import TwoFactorCodes
from app.core.errors import AuthenticationFailedError, BadRequestError, ConflictError, NotFoundError
from app.emails.models import EmailKind
from app.users.service import USER_NOT_FOUND

if TYPE_CHECKING:
    import uuid

    from app.auth.models import TwoFactor
    from app.core.security import SecretSealing
    from app.core.settings import Settings
    from app.users.models import User
    from app.users.service import UserService

__all__ = ("WRONG_CODE", "TwoFactorService")

WRONG_CODE = "The code is not valid"
WRONG_PASSWORD = "The password is incorrect"  # noqa: S105  (a message)
ALREADY_ON = "Two-factor sign-in is already on; turn it off first"
NOT_ON = "Two-factor sign-in is not on"
NOTHING_PENDING = "No two-factor enrolment waits for a code; start one with POST /auth/two-factor"


class TwoFactorService:
    """An account's two-factor settings, in the request's transaction (shared with its user service); it owns each
    commit."""

    __slots__ = ("audit", "codes", "issuer", "lockout", "users")

    def __init__(self, users: UserService, sealing: SecretSealing, settings: Settings) -> None:
        session = users.repository.session
        self.users = users
        self.codes = TwoFactorCodes(session, sealing)
        self.lockout = SignInLockout(session, settings)
        self.audit = users.audit
        self.issuer = settings.project_name

    def status(self, user_id: uuid.UUID) -> TwoFactorStatus:
        authenticator = self.codes.authenticator(user_id)
        enabled_at = None if authenticator is None else authenticator.enabled_at
        return TwoFactorStatus(
            enabled=enabled_at is not None,
            pending=authenticator is not None and enabled_at is None,
            enabled_at=enabled_at,
            recovery_codes_left=0 if enabled_at is None else self.codes.recovery_codes_left(user_id),
        )

    def enrol(self, user_id: uuid.UUID, password: str) -> TwoFactorEnrolment:
        """A new secret and recovery codes, waiting for a first code (:meth:`confirm`); an earlier enrolment that
        never got one is replaced.

        Raises:
            SignInThrottledError: too many wrong passwords or codes lately.
            BadRequestError: a wrong password (counted toward the lockout).
            ConflictError: two-factor sign-in is already on.
        """
        user = self._proven(user_id, password)
        authenticator = self.codes.authenticator(user_id)
        if authenticator is not None and authenticator.enabled_at is not None:
            raise ConflictError(ALREADY_ON)
        secret, recovery_codes = self.codes.start(user_id)
        self.users.commit()
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=self.issuer)
        return TwoFactorEnrolment(secret=secret, otpauth_uri=uri, recovery_codes=recovery_codes)

    def confirm(self, user_id: uuid.UUID, code: str) -> TwoFactorStatus:
        """Turn two-factor sign-in on with a first code from the app just enrolled.

        Raises:
            BadRequestError: the code is not the app's (nothing changes; enrolment keeps waiting).
            ConflictError: no enrolment waits, or two-factor sign-in is already on.
        """
        authenticator = self.codes.authenticator(user_id)
        if authenticator is None:
            raise ConflictError(NOTHING_PENDING)
        if authenticator.enabled_at is not None:
            raise ConflictError(ALREADY_ON)
        if not self.codes.accept_totp(authenticator, code):
            self.users.rollback()
            raise BadRequestError(WRONG_CODE)
        self.codes.enable(authenticator)
        self.audit.record(EventKind.TWO_FACTOR_ENABLED, subject_id=user_id, actor_id=user_id)
        self._notify(user_id, EmailKind.TWO_FACTOR_ENABLED)
        self.users.commit()
        return self.status(user_id)

    def disable(self, user_id: uuid.UUID, password: str, code: str) -> None:
        """Turn two-factor sign-in off, proven by the password and a code (or a recovery code).

        Raises:
            SignInThrottledError: too many wrong passwords or codes lately.
            BadRequestError: a wrong password or code (counted toward the lockout).
            ConflictError: two-factor sign-in is not on.
        """
        self._proven(user_id, password, self._enabled(user_id), code)
        self.codes.remove(user_id)
        self.audit.record(EventKind.TWO_FACTOR_DISABLED, subject_id=user_id, actor_id=user_id)
        self._notify(user_id, EmailKind.TWO_FACTOR_DISABLED, by_administrator=False)
        self.users.commit()

    def replace_recovery_codes(self, user_id: uuid.UUID, password: str, code: str) -> RecoveryCodes:
        """Ten new recovery codes, proven by the password and a code; the earlier ones stop working.

        Raises:
            SignInThrottledError, BadRequestError, ConflictError: as :meth:`disable`.
        """
        self._proven(user_id, password, self._enabled(user_id), code)
        recovery_codes = self.codes.replace_recovery_codes(user_id)
        self.audit.record(EventKind.RECOVERY_CODES_REPLACED, subject_id=user_id, actor_id=user_id)
        self.users.commit()
        return RecoveryCodes(recovery_codes=recovery_codes)

    def reset(self, user_id: uuid.UUID, *, actor_id: uuid.UUID) -> None:
        """Turn two-factor sign-in off for an account whose owner lost the app and the recovery codes (a superuser
        ``actor_id``, who has checked who is asking); the owner is mailed a notice.

        Raises:
            NotFoundError: no such account.
            ConflictError: two-factor sign-in is not on.
        """
        if not self.users.exists(id=user_id):
            raise NotFoundError(USER_NOT_FOUND)
        self._enabled(user_id)
        self.codes.remove(user_id)
        self.audit.record(EventKind.TWO_FACTOR_DISABLED, subject_id=user_id, actor_id=actor_id)
        self._notify(user_id, EmailKind.TWO_FACTOR_DISABLED, by_administrator=True)
        self.users.commit()

    def _enabled(self, user_id: uuid.UUID) -> TwoFactor:
        authenticator = self.codes.authenticator(user_id)
        if authenticator is None or authenticator.enabled_at is None:
            raise ConflictError(NOT_ON)
        return authenticator

    def _proven(
        self, user_id: uuid.UUID, password: str, authenticator: TwoFactor | None = None, code: str = ""
    ) -> User:
        """The account, once ``password`` (and, with an ``authenticator``, ``code``) proved it; a failure is counted
        and committed before it is raised."""
        user = self.users.get_active(user_id)
        if user is None:
            raise AuthenticationFailedError("The account is no longer active")
        self.lockout.check(user.email)
        if not self.users.passwords.verify(user.hashed_password, password):
            self._failed(user, WRONG_PASSWORD)
        if authenticator is not None and self.codes.accept(authenticator, code) is None:
            self._failed(user, WRONG_CODE)
        return user

    def _failed(self, user: User, message: str) -> None:
        email = user.email
        self.users.rollback()
        self.lockout.failed(email)
        self.users.commit()
        raise BadRequestError(message)

    def _notify(self, user_id: uuid.UUID, kind: EmailKind, **payload: object) -> None:
        user = self.users.get_one(id=user_id)
        self.users.outbox.add(kind, user.email, user_id=user_id, payload={"name": user.full_name, **payload})
