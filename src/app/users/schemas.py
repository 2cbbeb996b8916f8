"""Request and response bodies of the users domain."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from app.core.schemas import Email, Name, Password

__all__ = ("UserAdminCreate", "UserAdminUpdate", "UserRegistration", "UserResponse", "UserUpdate")


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
    """Changes to one's own account; a new ``password`` needs ``current_password``."""

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
    created_at: datetime
    updated_at: datetime
