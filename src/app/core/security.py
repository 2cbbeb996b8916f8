"""Password hashing with argon2id and opaque one-time/refresh token helpers."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from app.core.settings import Settings

__all__ = ("PasswordHashing", "generate_opaque_token", "hash_opaque_token", "minimum_duration")

OPAQUE_TOKEN_BYTES = 32


class PasswordHashing:
    """argon2id hashing whose cost comes from the settings (OWASP defaults; cheaper in tests)."""

    __slots__ = ("_dummy_hash", "_hasher", "_slots")

    def __init__(self, settings: Settings) -> None:
        # Each hash holds ARGON2_MEMORY_COST_KIB of memory and saturates a core: bound how many run at once,
        # so a burst of logins queues instead of exhausting memory or starving other requests' threads.
        self._slots = threading.BoundedSemaphore(settings.argon2_max_concurrent)
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        with self._slots:
            return self._hasher.hash(password)

    def verify(self, hashed: str, password: str) -> bool:
        try:
            with self._slots:
                return self._hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    def burn_verify(self, password: str) -> None:
        """Spend one verification on a throwaway hash, so an unknown account costs as much as a wrong password."""
        self.verify(self._dummy_hash, password)

    def needs_rehash(self, hashed: str) -> bool:
        return self._hasher.check_needs_rehash(hashed)


def generate_opaque_token() -> str:
    """A URL-safe random token of 256 bits."""
    return secrets.token_urlsafe(OPAQUE_TOKEN_BYTES)


def hash_opaque_token(token: str) -> str:
    """Tokens are stored only as SHA-256 digests: they carry 256 random bits, so a fast hash suffices."""
    return hashlib.sha256(token.encode()).hexdigest()


@contextmanager
def minimum_duration(seconds: float) -> Iterator[None]:
    """Pad the block to at least ``seconds``, so its duration does not tell which branch it took."""
    deadline = time.monotonic() + seconds
    yield
    time.sleep(max(0.0, deadline - time.monotonic()))
