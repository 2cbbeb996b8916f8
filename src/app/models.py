"""Every mapped table, imported in one place so the metadata Alembic compares against is complete."""

from __future__ import annotations

from app.auth.models import RefreshToken
from app.users.models import User

__all__ = ("RefreshToken", "User")
