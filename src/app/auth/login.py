"""Login: an email and a password in, a token pair out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.auth.refresh_tokens import insert_refresh_token
from app.users.credentials import check_credentials

if TYPE_CHECKING:
    from datetime import timedelta

    from sqlalchemy import Engine

    from app.auth.access_tokens import AccessTokenIssuer
    from app.auth.schemas import TokenPair
    from app.core.security import PasswordHashing

__all__ = ("LoginService",)


class LoginService:
    """Logs in with single statements on the autocommit pool, so one instance serves every request.

    Two statements (three when the hash is upgraded), each its own transaction: no ORM session to build and close
    per request, no BEGIN or COMMIT round trip, and no transaction held open across the ~20 ms password check.
    """

    __slots__ = ("access_tokens", "autocommit_engine", "passwords", "refresh_lifetime")

    def __init__(
        self,
        passwords: PasswordHashing,
        access_tokens: AccessTokenIssuer,
        refresh_lifetime: timedelta,
        autocommit_engine: Engine,
    ) -> None:
        self.passwords = passwords
        self.access_tokens = access_tokens
        self.refresh_lifetime = refresh_lifetime
        self.autocommit_engine = autocommit_engine

    def login(self, email: str, password: str) -> TokenPair:
        """Raises AuthenticationFailedError with one message for every kind of refusal."""
        with self.autocommit_engine.connect() as connection:
            user_id = check_credentials(connection, self.passwords, email, password)
            refresh_token = insert_refresh_token(connection, user_id, self.refresh_lifetime)
        return self.access_tokens.pair(user_id, refresh_token)
