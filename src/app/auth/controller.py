"""Registration, the token lifecycle (login, refresh, logout) and the links mailed to accounts."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.openapi.spec import OpenAPIMediaType, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import JSONBody, RawBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from app.auth.deps import provide_current_session_id
from app.auth.login import LoginService
from app.auth.schemas import (
    Accepted,
    ConfirmEmailChangeRequest,
    ForgotPasswordRequest,
    LoginForm,
    RefreshRequest,
    ResetPasswordRequest,
    TokenPair,
    TwoFactorChallenge,
    TwoFactorSignIn,
    VerifyEmailRequest,
)
from app.auth.service import AuthService
from app.core.openapi import AUTHENTICATED_ERRORS, BODY_ERRORS, PUBLIC, errors, with_request_body
from app.core.rate_limit import rate_limited
from app.core.routes import post
from app.core.schemas import NO_NUL
from app.core.security import minimum_duration
from app.core.settings import Settings
from app.core.strict_body import body_errors
from app.idempotency.responses import REPLAY_HEADERS, IdempotencyKeyHeader, respond_once
from app.idempotency.service import IdempotencyService
from app.users.schemas import UserRegistration, UserResponse
from app.users.service import UserService, to_user_response

__all__ = ("AuthController",)

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
JSON_MEDIA_TYPE = "application/json"
RESET_LINK_SENT = Accepted(detail="If an account uses this address, a password reset link is on its way.")
VERIFICATION_SENT = Accepted(detail="A new verification link is on its way.")
INVALID_LOGIN_BODY = "Validation failed for POST /auth/login"

_LOGIN_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["username", "password"],
    properties={
        "username": Schema(
            type=OpenAPIType.STRING, min_length=1, max_length=320, pattern=NO_NUL, description="the account's email"
        ),
        "password": Schema(type=OpenAPIType.STRING, min_length=1, max_length=128, format="password"),  # type: ignore[arg-type]
    },
)
LOGIN_REQUEST_BODY = RequestBody(
    required=True,
    content={
        FORM_MEDIA_TYPE: OpenAPIMediaType(schema=_LOGIN_SCHEMA),
        JSON_MEDIA_TYPE: OpenAPIMediaType(schema=_LOGIN_SCHEMA),
    },
)


def parse_login_form(body: bytes, media_type: str) -> LoginForm:
    """Read OAuth2 password-flow credentials from a form body, or the same fields as JSON (held to its types)."""
    strict = media_type == JSON_MEDIA_TYPE
    try:
        fields: Any = msgspec.json.decode(body) if strict else dict(parse_qsl(body.decode(), keep_blank_values=True))
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ValidationException(INVALID_LOGIN_BODY, extra=[{"message": str(exc), "source": "body"}]) from exc
    try:
        return msgspec.convert(fields, LoginForm, strict=strict)
    except msgspec.ValidationError:
        raise ValidationException(INVALID_LOGIN_BODY, extra=body_errors(fields, LoginForm, strict=strict)) from None


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post(
        "/register",
        operation_id="register",
        responses=errors(*BODY_ERRORS, 409, 429, 503),
        security=PUBLIC,
        status_code=HTTP_201_CREATED,
        response_headers=REPLAY_HEADERS,
        guards=[rate_limited("register_ip")],
        exclude_from_auth=True,
    )
    def register(
        self,
        *,
        request: Request[Any, Any, Any],
        data: JSONBody[UserRegistration],
        users_service: NamedDependency[UserService],
        idempotency: NamedDependency[IdempotencyService],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[UserResponse]:
        """Create an account and mail a welcome and a verification link. Privilege flags in the body are ignored.
        With an `Idempotency-Key`, a retry of the same request gets the first answer (not a 409 for the address)."""
        return respond_once(
            idempotency,
            request,
            lambda: Response(to_user_response(users_service.register(data)), status_code=HTTP_201_CREATED),
            key=idempotency_key,
            caller_id=None,
            body=data,
        )

    @post(
        "/login",
        operation_id="login",
        responses=errors(401, 403, 413, 422, 429, 503),
        security=PUBLIC,
        status_code=HTTP_200_OK,
        guards=[rate_limited("login_ip")],
        exclude_from_auth=True,
        operation_class=with_request_body(LOGIN_REQUEST_BODY),
    )
    def login(
        self,
        request: Request[Any, Any, Any],
        body: RawBody,
        login_service: NamedDependency[LoginService],
    ) -> TokenPair | TwoFactorChallenge:
        """Exchange email and password (OAuth2 password form, or the same fields as JSON) for a token pair in a new
        session. Repeated failures for one address slow it down, then lock it for a while (429, `Retry-After`).

        An account with two-factor sign-in gets a challenge instead of tokens (JSON only: the form is answered 403,
        saying so); `POST /auth/login/two-factor` completes it with a code."""
        media_type = request.content_type[0]
        credentials = parse_login_form(body, media_type)
        challenge_allowed = media_type == JSON_MEDIA_TYPE
        return login_service.login(credentials.username, credentials.password, challenge_allowed=challenge_allowed)

    @post(
        "/login/two-factor",
        operation_id="completeTwoFactorSignIn",
        responses=errors(*BODY_ERRORS, 401, 429, 503),
        security=PUBLIC,
        status_code=HTTP_200_OK,
        guards=[rate_limited("login_ip")],
        exclude_from_auth=True,
    )
    def complete_two_factor(
        self, data: JSONBody[TwoFactorSignIn], login_service: NamedDependency[LoginService]
    ) -> TokenPair:
        """Complete a sign-in with the challenge `POST /auth/login` answered and a code from the authenticator app, or
        a recovery code (each works once). A wrong code is 401 and counts toward the lockout; the challenge works
        until it expires. An unknown, used or expired challenge is 401: sign in again."""
        return login_service.complete_two_factor(data.challenge, data.code)

    @post(
        "/refresh",
        operation_id="refresh",
        responses=errors(*BODY_ERRORS, 401, 429, 503),
        security=PUBLIC,
        status_code=HTTP_200_OK,
        guards=[rate_limited("refresh_ip")],
        exclude_from_auth=True,
    )
    def refresh(self, data: JSONBody[RefreshRequest], auth_service: NamedDependency[AuthService]) -> TokenPair:
        """Spend a refresh token for a new pair in its session. A token presented twice ends its session."""
        return auth_service.refresh(data.refresh_token)

    @post(
        "/logout",
        operation_id="logout",
        responses=errors(*BODY_ERRORS, 503),
        security=PUBLIC,
        status_code=HTTP_204_NO_CONTENT,
        exclude_from_auth=True,
    )
    def logout(self, data: JSONBody[RefreshRequest], auth_service: NamedDependency[AuthService]) -> None:
        """End the session of a refresh token: its access and refresh tokens stop working at once."""
        auth_service.logout(data.refresh_token)

    @post(
        "/verify-email",
        operation_id="verifyEmail",
        responses=errors(*BODY_ERRORS, 503),
        security=PUBLIC,
        status_code=HTTP_200_OK,
        exclude_from_auth=True,
    )
    def verify_email(
        self, data: JSONBody[VerifyEmailRequest], auth_service: NamedDependency[AuthService]
    ) -> UserResponse:
        """Spend the token from a verification email; the account is then verified. A bad token is 400."""
        return to_user_response(auth_service.verify_email(data.token))

    @post(
        "/confirm-email-change",
        operation_id="confirmEmailChange",
        responses=errors(*BODY_ERRORS, *AUTHENTICATED_ERRORS, 409),
        status_code=HTTP_200_OK,
        dependencies={"current_session_id": Provide(provide_current_session_id, sync_to_thread=False)},
    )
    def confirm_email_change(
        self,
        data: JSONBody[ConfirmEmailChangeRequest],
        caller: NamedDependency[UserResponse],
        current_session_id: NamedDependency[UUID],
        auth_service: NamedDependency[AuthService],
    ) -> UserResponse:
        """Spend the token from an email-change link, signed in as the account that asked for the change: the
        account moves to the new address (verified) and every other session ends. A bad, superseded or another
        account's token is 400; 409 if another account took the address meanwhile."""
        return to_user_response(auth_service.confirm_email_change(data.token, caller.id, current_session_id))

    @post(
        "/verify-email/resend",
        operation_id="resendVerificationEmail",
        responses=errors(*AUTHENTICATED_ERRORS, 409, 429),
        status_code=HTTP_202_ACCEPTED,
        guards=[rate_limited("verify_resend_ip")],
    )
    def resend_verification(
        self, caller: NamedDependency[UserResponse], auth_service: NamedDependency[AuthService]
    ) -> Accepted:
        """Mail the caller a new verification link; 409 if the address is already verified."""
        auth_service.resend_verification(caller.id)
        return VERIFICATION_SENT

    @post(
        "/forgot-password",
        operation_id="forgotPassword",
        responses=errors(*BODY_ERRORS, 409, 429, 503),
        security=PUBLIC,
        status_code=HTTP_202_ACCEPTED,
        response_headers=REPLAY_HEADERS,
        guards=[rate_limited("forgot_password_ip")],
        exclude_from_auth=True,
    )
    def forgot_password(
        self,
        *,
        request: Request[Any, Any, Any],
        data: JSONBody[ForgotPasswordRequest],
        auth_service: NamedDependency[AuthService],
        settings: NamedDependency[Settings],
        idempotency: NamedDependency[IdempotencyService],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[Accepted]:
        """Mail a password reset link. The answer, and its timing, are the same whether the account exists. With an
        `Idempotency-Key`, a retry of the same request mails no second link."""

        def request_reset() -> Response[Accepted]:
            with minimum_duration(settings.forgot_password_min_seconds):
                auth_service.request_password_reset(data.email)
            return Response(RESET_LINK_SENT, status_code=HTTP_202_ACCEPTED)

        return respond_once(idempotency, request, request_reset, key=idempotency_key, caller_id=None, body=data)

    @post(
        "/reset-password",
        operation_id="resetPassword",
        responses=errors(*BODY_ERRORS, 503),
        security=PUBLIC,
        status_code=HTTP_204_NO_CONTENT,
        exclude_from_auth=True,
    )
    def reset_password(self, data: JSONBody[ResetPasswordRequest], auth_service: NamedDependency[AuthService]) -> None:
        """Set a new password with the token from a reset email; every session is signed out. A bad token is 400."""
        auth_service.reset_password(data.token, data.password)
