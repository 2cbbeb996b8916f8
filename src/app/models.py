"""Every mapped table, imported in one place so the metadata Alembic compares against is complete."""

from __future__ import annotations

from app.auth.models import RefreshToken
from app.posts.models import Post
from app.users.models import Profile, User

__all__ = ("Post", "Profile", "RefreshToken", "User")
