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
    "PasswordAndCode",
    "PasswordProof",
    "RecoveryCodes",
    "RefreshRequest",
    "ResetPasswordRequest",
    "SessionResponse",
    "TokenPair",
    "TwoFactorChallenge",
    "TwoFactorCode",
    "TwoFactorEnrolment",
    "TwoFactorSignIn",
    "TwoFactorStatus",
    "VerifyEmailRequest",
)

OpaqueToken = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
Code = Annotated[
    str,
    msgspec.Meta(
        min_length=6,
        max_length=32,
        pattern=NO_NUL,
        description="a six-digit code from the authenticator app, or one of the recovery codes",
    ),
]
CurrentPassword = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


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


class TwoFactorChallenge(msgspec.Struct, kw_only=True):
    """The answer to a right password when the account has two-factor sign-in: no tokens yet. Send ``challenge`` with
    a code to ``POST /auth/login/two-factor`` within ``expires_in`` seconds."""

    challenge: str
    expires_in: int
    two_factor_required: Literal[True] = True


class TwoFactorSignIn(msgspec.Struct, kw_only=True):
    """The second step of a two-factor sign-in."""

    challenge: OpaqueToken
    code: Code


class TwoFactorStatus(msgspec.Struct, kw_only=True):
    """Whether sign-in asks for a code (``enabled``), or an enrolment waits for its first code (``pending``)."""

    enabled: bool
    pending: bool
    enabled_at: datetime | None
    recovery_codes_left: int


class TwoFactorEnrolment(msgspec.Struct, kw_only=True):
    """A new authenticator, shown once: add it to an app (``otpauth_uri`` as a QR code, or ``secret`` typed in), then
    confirm it with a first code. Keep ``recovery_codes`` somewhere safe: each signs in once without the app."""

    secret: str
    otpauth_uri: str
    recovery_codes: list[str]


class RecoveryCodes(msgspec.Struct, kw_only=True):
    """New recovery codes, shown once; the earlier ones no longer work."""

    recovery_codes: list[str]


class PasswordProof(msgspec.Struct, kw_only=True):
    """The account's current password."""

    password: CurrentPassword


class TwoFactorCode(msgspec.Struct, kw_only=True):
    """A code from the authenticator app."""

    code: Code


class PasswordAndCode(msgspec.Struct, kw_only=True):
    """The account's current password and a code (from the authenticator app, or a recovery code)."""

    password: CurrentPassword
    code: Code


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
