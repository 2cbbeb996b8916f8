"""Request and response bodies of the auth domain."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from app.core.schemas import NO_NUL, Email, Password

__all__ = (
    "Accepted",
    "ForgotPasswordRequest",
    "LoginForm",
    "RefreshRequest",
    "ResetPasswordRequest",
    "TokenPair",
    "VerifyEmailRequest",
)

OpaqueToken = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class LoginForm(msgspec.Struct, kw_only=True):
    """OAuth2 password-flow credentials; ``username`` is the account's email."""

    username: Annotated[str, msgspec.Meta(min_length=1, max_length=320, pattern=NO_NUL)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class RefreshRequest(msgspec.Struct, kw_only=True):
    """A refresh token, always in the body, never in the URL."""

    refresh_token: OpaqueToken


class TokenPair(msgspec.Struct, kw_only=True):
    """A short-lived bearer access token (JWT) and a one-use refresh token."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: Literal["bearer"] = "bearer"  # noqa: S105  (the OAuth2 token type)


class VerifyEmailRequest(msgspec.Struct, kw_only=True):
    """The token from a verification email's link."""

    token: OpaqueToken


class ForgotPasswordRequest(msgspec.Struct, kw_only=True):
    email: Email


class ResetPasswordRequest(msgspec.Struct, kw_only=True):
    """The token from a reset email's link and the new password."""

    token: OpaqueToken
    password: Password


class Accepted(msgspec.Struct, kw_only=True):
    """The request was taken; what follows happens by email."""

    detail: str
