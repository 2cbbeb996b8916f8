"""Request and response bodies of the users domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from app.core.schemas import HTTP_URL_PATTERN, NO_NUL, Email, Name, Password

__all__ = (
    "ProfileResponse",
    "ProfileUpdate",
    "UserAdminCreate",
    "UserAdminUpdate",
    "UserRegistration",
    "UserResponse",
    "UserUpdate",
)

AvatarUrl = Annotated[
    str,
    msgspec.Meta(max_length=500, pattern=HTTP_URL_PATTERN, description="an http or https URL"),
]
Bio = Annotated[str, msgspec.Meta(max_length=5000, pattern=NO_NUL)]


class UserRegistration(msgspec.Struct, kw_only=True):
    """Self-service sign-up. Unknown fields (``is_superuser``...) are ignored, never honoured."""

    email: Email
    password: Password
    first_name: Name | None = None
    last_name: Name | None = None


class UserAdminCreate(UserRegistration, kw_only=True):
    """An account created by a superuser, who may set the flags."""

    is_superuser: bool = False
    is_active: bool = True
    is_verified: bool = False


class UserUpdate(msgspec.Struct, kw_only=True):
    """Changes to one's own account; a new ``password`` or ``email`` needs ``current_password``. A new ``email`` takes
    effect only once the link mailed to it is confirmed (``POST /auth/confirm-email-change``)."""

    email: Email | UnsetType = UNSET
    first_name: Name | UnsetType | None = UNSET
    last_name: Name | UnsetType | None = UNSET
    password: Password | UnsetType = UNSET
    current_password: str | UnsetType = UNSET


class UserAdminUpdate(UserUpdate, kw_only=True):
    """Changes by id; the flags are for superusers only."""

    is_active: bool | UnsetType = UNSET
    is_superuser: bool | UnsetType = UNSET
    is_verified: bool | UnsetType = UNSET


class ProfileUpdate(msgspec.Struct, kw_only=True):
    """A whole profile; a field left out is cleared."""

    bio: Bio | None = None
    avatar_url: AvatarUrl | None = None


class ProfileResponse(msgspec.Struct, kw_only=True):
    bio: str | None
    avatar_url: str | None


class UserResponse(msgspec.Struct, kw_only=True):
    """An account as clients see it; the password hash never leaves the service layer."""

    id: UUID
    email: str
    first_name: str | None
    last_name: str | None
    full_name: str
    is_active: bool
    is_superuser: bool
    is_verified: bool
    profile: ProfileResponse | None
    created_at: datetime
    updated_at: datetime
