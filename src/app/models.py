"""Every mapped table, imported in one place so the metadata Alembic compares against is complete."""

from __future__ import annotations

from app.audit.models import SecurityEvent
from app.auth.models import LoginSession, OneTimeToken, RefreshToken, SignInThrottle
from app.emails.models import EmailOutbox
from app.idempotency.models import IdempotencyKey
from app.maintenance.models import MaintenanceRun
from app.posts.models import Post
from app.users.models import Profile, User

__all__ = (
    "EmailOutbox",
    "IdempotencyKey",
    "LoginSession",
    "MaintenanceRun",
    "OneTimeToken",
    "Post",
    "Profile",
    "RefreshToken",
    "SecurityEvent",
    "SignInThrottle",
    "User",
)
