"""Two-factor sign-in settings: the caller's own under ``/auth/two-factor``, a superuser's reset under
``/users/{user_id}/two-factor``. Signing in with a code is ``POST /auth/login/two-factor`` (``AuthController``)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from app.auth.schemas import (
    PasswordAndCode,
    PasswordProof,
    RecoveryCodes,
    TwoFactorCode,
    TwoFactorEnrolment,
    TwoFactorStatus,
)
from app.auth.two_factor import TwoFactorService
from app.core.caller import requires_superuser
from app.core.openapi import AUTHENTICATED_ERRORS, BODY_ERRORS, RESTRICTED_ERRORS, errors
from app.core.routes import delete, get, post
from app.users.schemas import UserResponse

__all__ = ("TwoFactorController", "UserTwoFactorController")

PROVEN_ERRORS = (*BODY_ERRORS, *AUTHENTICATED_ERRORS, 409, 429)


class TwoFactorController(Controller):
    """The caller's own two-factor sign-in."""

    path = "/auth/two-factor"
    tags = ["auth"]

    @get("/", operation_id="getTwoFactor", responses=errors(*AUTHENTICATED_ERRORS))
    def status(
        self, caller: NamedDependency[UserResponse], two_factor_service: NamedDependency[TwoFactorService]
    ) -> TwoFactorStatus:
        """Whether sign-in asks the caller for a code, and how many recovery codes are left."""
        return two_factor_service.status(caller.id)

    @post("/", operation_id="enrolTwoFactor", responses=errors(*PROVEN_ERRORS), status_code=HTTP_201_CREATED)
    def enrol(
        self,
        data: JSONBody[PasswordProof],
        caller: NamedDependency[UserResponse],
        two_factor_service: NamedDependency[TwoFactorService],
    ) -> TwoFactorEnrolment:
        """Start two-factor sign-in with the caller's password: a new secret (`otpauth_uri` for the app) and ten
        recovery codes, shown only now. Nothing changes at sign-in until a first code confirms it. A wrong password
        is 400 and counts toward the sign-in lockout; 409 if it is already on."""
        return two_factor_service.enrol(caller.id, data.password)

    @post("/confirm", operation_id="confirmTwoFactor", responses=errors(*PROVEN_ERRORS), status_code=HTTP_200_OK)
    def confirm(
        self,
        data: JSONBody[TwoFactorCode],
        caller: NamedDependency[UserResponse],
        two_factor_service: NamedDependency[TwoFactorService],
    ) -> TwoFactorStatus:
        """Turn two-factor sign-in on with a first code from the app; a wrong code is 400, 409 if no enrolment waits
        or it is already on. The account is mailed a notice."""
        return two_factor_service.confirm(caller.id, data.code)

    @post(
        "/disable", operation_id="disableTwoFactor", responses=errors(*PROVEN_ERRORS), status_code=HTTP_204_NO_CONTENT
    )
    def disable(
        self,
        data: JSONBody[PasswordAndCode],
        caller: NamedDependency[UserResponse],
        two_factor_service: NamedDependency[TwoFactorService],
    ) -> None:
        """Turn two-factor sign-in off with the password and a code (or a recovery code); wrong ones are 400 and count
        toward the sign-in lockout, 409 if it is not on. The account is mailed a notice."""
        two_factor_service.disable(caller.id, data.password, data.code)

    @post(
        "/recovery-codes",
        operation_id="replaceRecoveryCodes",
        responses=errors(*PROVEN_ERRORS),
        status_code=HTTP_200_OK,
    )
    def replace_recovery_codes(
        self,
        data: JSONBody[PasswordAndCode],
        caller: NamedDependency[UserResponse],
        two_factor_service: NamedDependency[TwoFactorService],
    ) -> RecoveryCodes:
        """Ten new recovery codes, shown only now, with the password and a code; the earlier ones stop working."""
        return two_factor_service.replace_recovery_codes(caller.id, data.password, data.code)


class UserTwoFactorController(Controller):
    """Any account's two-factor sign-in, for superusers."""

    path = "/users/{user_id:uuid}/two-factor"
    tags = ["users"]

    # The guard is the route's, not the controller's: Litestar's automatic OPTIONS route is public.
    @delete(
        "/",
        operation_id="resetUserTwoFactor",
        responses=errors(*RESTRICTED_ERRORS, 404, 409),
        status_code=HTTP_204_NO_CONTENT,
        guards=[requires_superuser],
    )
    def reset(
        self,
        user_id: FromPath[UUID],
        caller: NamedDependency[UserResponse],
        two_factor_service: NamedDependency[TwoFactorService],
    ) -> None:
        """Turn two-factor sign-in off for an account whose owner lost the app and the recovery codes (superusers
        only); the owner is mailed a notice. 409 if it is not on."""
        two_factor_service.reset(user_id, actor_id=caller.id)
