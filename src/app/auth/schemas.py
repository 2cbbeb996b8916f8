"""Request and response bodies of the auth domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from app.core.schemas import NO_NUL, Email, Password

__all__ = (
    "Accepted",
    "ConfirmEmailChangeRequest",
    "ForgotPasswordRequest",
    "LoginForm",
    "RefreshRequest",
    "ResetPasswordRequest",
    "SessionResponse",
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


class ConfirmEmailChangeRequest(msgspec.Struct, kw_only=True):
    """The token from an email-change link (mailed to the new address)."""

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


class SessionResponse(msgspec.Struct, kw_only=True):
    """A live session: one login, from one client. ``ip_address`` and ``user_agent`` are the login's (behind a proxy,
    the address ``TRUSTED_PROXY_HOPS`` makes out); ``current`` marks the session of the request's own access token."""

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip_address: str | None
    user_agent: str | None
    current: bool
