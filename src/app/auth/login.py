"""Login: an email and a password in, a token pair out, in a new session; every attempt is a security event, and a
sign-in from a device and address the account never signed in from is mailed to it.

An account with two-factor sign-in gets a challenge for its right password instead (a one-time token, not mailed),
and its tokens when the challenge comes back with a code; wrong codes count toward the lockout like wrong passwords.

The session, its first refresh token and the event are written in one transaction. The credentials are read in a
transaction of their own, ended before the password check, so none is held open while argon2 runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from app.audit.models import EventKind
from app.audit.service import AuditLog
from app.auth.lockout import SignInLockout, SignInThrottledError
from app.auth.models import TokenPurpose
from app.auth.one_time_tokens import OneTimeTokenService
from app.auth.schemas import TwoFactorChallenge
from app.auth.sessions import SessionService
from app.auth.two_factor import WRONG_CODE
from app.auth.two_factor_codes import SecondFactor, TwoFactorCodes
from app.core.errors import AuthenticationFailedError, BadRequestError, ForbiddenError
from app.emails.models import EmailKind
from app.emails.service import OutboxService
from app.users.repository import UserRepository
from app.users.service import normalise_email

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.orm import Session

    from app.auth.access_tokens import AccessTokenIssuer
    from app.auth.schemas import TokenPair
    from app.core.origin import RequestOrigin
    from app.core.security import PasswordHashing, SecretSealing
    from app.core.settings import Settings
    from app.core.task_queue import TaskQueue
    from app.users.repository import SignInRecord

__all__ = ("INVALID_CHALLENGE", "INVALID_CREDENTIALS", "LoginService", "TwoFactorRequiredError")

INVALID_CREDENTIALS = "Incorrect email or password"
INVALID_CHALLENGE = "The sign-in challenge is unknown, used or expired; sign in again"


class TwoFactorRequiredError(ForbiddenError):
    """A right password for an account with two-factor sign-in, on a route that cannot answer with a challenge."""

    def __init__(self) -> None:
        super().__init__(
            "This account has two-factor sign-in: send the same fields as JSON to POST /api/v1/auth/login for a "
            "challenge, then the challenge and a code to POST /api/v1/auth/login/two-factor"
        )


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
        "challenge_lifetime",
        "challenges",
        "lockout",
        "origin",
        "outbox",
        "passwords",
        "refresh_lifetime",
        "sessions",
        "two_factor",
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
        sealing: SecretSealing,
        origin: RequestOrigin | None = None,
        task_queue: TaskQueue | None = None,
    ) -> None:
        self.users = UserRepository(session=session)
        self.sessions = SessionService(session=session)
        self.audit = AuditLog(session, origin)
        self.lockout = SignInLockout(session, settings)
        self.outbox = OutboxService(session, settings, task_queue)
        self.two_factor = TwoFactorCodes(session, sealing)
        self.challenges = OneTimeTokenService(session=session)
        self.challenge_lifetime = timedelta(seconds=settings.two_factor_challenge_seconds)
        self.origin = origin
        self.passwords = passwords
        self.access_tokens = access_tokens
        self.refresh_lifetime = refresh_lifetime

    def login(self, email: str, password: str, *, challenge_allowed: bool) -> TokenPair | TwoFactorChallenge:
        """Open a session for the account with these credentials, or, if it has two-factor sign-in, answer with a
        challenge for :meth:`complete_two_factor`.

        Raises:
            SignInThrottledError: the address failed too often lately (per-account lockout); no password is checked.
            AuthenticationFailedError: with one message for every kind of refusal.
            TwoFactorRequiredError: a right password, two-factor sign-in, and not ``challenge_allowed``.

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
        if self.two_factor.is_enabled(signed_in.id):
            # The failures stay on record until the code is right too.
            return self._challenge(signed_in, challenge_allowed=challenge_allowed)
        if had_failures:
            self.lockout.succeeded(address)
        return self._open_session(signed_in, {})

    def _challenge(self, account: SignInRecord, *, challenge_allowed: bool) -> TwoFactorChallenge:
        if not challenge_allowed:
            detail = {"reason": "two_factor_required", "locked": False}
            self.audit.record(EventKind.SIGN_IN_FAILED, subject_id=account.id, actor_id=None, detail=detail)
            self.users.session.commit()
            raise TwoFactorRequiredError
        challenge = self.challenges.issue(account.id, TokenPurpose.SIGN_IN_CHALLENGE, self.challenge_lifetime)
        self.users.session.commit()
        return TwoFactorChallenge(challenge=challenge, expires_in=int(self.challenge_lifetime.total_seconds()))

    def complete_two_factor(self, challenge: str, code: str) -> TokenPair:
        """Open the session a right password was challenged for, with a code from the account's authenticator app
        or one of its recovery codes (each accepted once). A recovery code used is mailed to the account.

        Raises:
            AuthenticationFailedError: the challenge is unknown, used or expired (sign in again), or the code is wrong
                (the challenge stays usable until it expires; the failure counts toward the lockout).
            SignInThrottledError: the account's address failed too often lately.
        """
        user_id = self.challenges.holder(challenge, TokenPurpose.SIGN_IN_CHALLENGE)
        account = None if user_id is None else self.users.read_sign_in_of(user_id)
        authenticator = None if account is None else self.two_factor.authenticator(account.id)
        if account is None or authenticator is None or authenticator.enabled_at is None:
            self.users.session.rollback()
            raise AuthenticationFailedError(INVALID_CHALLENGE)
        try:
            self.lockout.check(account.email)
        except SignInThrottledError as throttled:
            self.audit.record(EventKind.SIGN_IN_LOCKED, subject_id=account.id, actor_id=None, detail=throttled.why)
            self.users.session.commit()
            raise
        second_factor = self.two_factor.accept(authenticator, code)
        if second_factor is None:
            self.users.session.rollback()
            detail = {"reason": "wrong_code", "locked": self.lockout.failed(account.email)}
            self.audit.record(EventKind.SIGN_IN_FAILED, subject_id=account.id, actor_id=None, detail=detail)
            self.users.session.commit()
            raise AuthenticationFailedError(WRONG_CODE)
        try:
            self.challenges.consume(challenge, TokenPurpose.SIGN_IN_CHALLENGE)
        except BadRequestError:
            # Another request spent it meanwhile; this one's code is not spent either.
            self.users.session.rollback()
            raise AuthenticationFailedError(INVALID_CHALLENGE) from None
        self.lockout.succeeded(account.email)
        if second_factor is SecondFactor.RECOVERY_CODE:
            self.audit.record(EventKind.RECOVERY_CODE_USED, subject_id=account.id, actor_id=account.id)
            left = {"name": account.full_name, "codes_left": self.two_factor.recovery_codes_left(account.id)}
            self.outbox.add(EmailKind.RECOVERY_CODE_USED, account.email, user_id=account.id, payload=left)
        return self._open_session(account, {"second_factor": second_factor.value})

    def _open_session(self, account: SignInRecord, detail: dict[str, str]) -> TokenPair:
        """A new session for ``account``, its sign-in recorded (with ``detail``) and, from an unfamiliar device and
        address, mailed; committed."""
        user_id = account.id
        opened = self.sessions.open(user_id, self.refresh_lifetime, self.origin)
        if self.audit.is_unfamiliar_sign_in(user_id):
            self._notify_unfamiliar_sign_in(account)
        self.audit.record(
            EventKind.SIGN_IN_SUCCEEDED, subject_id=user_id, actor_id=user_id, session_id=opened.id, detail=detail
        )
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
