"""Login: an email and a password in, a token pair out, in a new session.

The route's session is in autocommit (its ``opt``): the credentials read and the token insert are single statements,
so no transaction is held open across the password check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.auth.sessions import SessionService
from app.core.errors import AuthenticationFailedError
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

__all__ = ("INVALID_CREDENTIALS", "LoginService")

INVALID_CREDENTIALS = "Incorrect email or password"


class LoginService:
    """Checks a sign-in and opens a session; built per request on the request's (autocommit) session."""

    __slots__ = ("access_tokens", "passwords", "refresh_lifetime", "sessions", "users")

    def __init__(
        self,
        session: Session,
        passwords: PasswordHashing,
        access_tokens: AccessTokenIssuer,
        refresh_lifetime: timedelta,
    ) -> None:
        self.users = UserRepository(session=session)
        self.sessions = SessionService(session=session)
        self.passwords = passwords
        self.access_tokens = access_tokens
        self.refresh_lifetime = refresh_lifetime

    def login(self, email: str, password: str, origin: RequestOrigin) -> TokenPair:
        """Open a session from ``origin`` for the account with these credentials.

        Raises:
            AuthenticationFailedError: with one message for every kind of refusal.
        """
        user_id = self.check_credentials(email, password)
        opened = self.sessions.open(user_id, self.refresh_lifetime, origin)
        self.users.session.commit()
        return self.access_tokens.pair(user_id, opened.id, opened.refresh_token)

    def check_credentials(self, email: str, password: str) -> uuid.UUID:
        """The id of the active account with these credentials; every refusal looks the same and costs one check.

        A hash made with older argon2 parameters is replaced by one made with the current parameters.

        Raises:
            AuthenticationFailedError: unknown email, wrong password or inactive account.
        """
        account = self.users.read_sign_in(normalise_email(email))
        if account is None:
            self.passwords.burn_verify(password)
            raise AuthenticationFailedError(INVALID_CREDENTIALS)
        if not self.passwords.verify(account.hashed_password, password):
            raise AuthenticationFailedError(INVALID_CREDENTIALS)
        if self.passwords.needs_rehash(account.hashed_password):
            self.users.replace_password_hash(account.id, self.passwords.hash(password))
        return account.id
