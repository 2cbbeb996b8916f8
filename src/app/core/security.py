"""Password hashing with argon2id, opaque one-time/refresh token helpers, and sealing of secrets kept at rest."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

if TYPE_CHECKING:
    from collections.abc import Iterator

    from app.core.settings import Settings

__all__ = (
    "PasswordHashing",
    "SecretSealing",
    "UnsealableSecretError",
    "generate_opaque_token",
    "hash_opaque_token",
    "minimum_duration",
)

OPAQUE_TOKEN_BYTES = 32
HASHING_NICENESS = 10


def _lower_priority() -> None:
    """Lower the calling thread's scheduling priority; threads it starts inherit it (Linux, per-thread nice)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


class PasswordHashing:
    """argon2id hashing whose cost comes from the settings (OWASP defaults; cheaper in tests).

    Hashes run on a small pool of their own threads, at most ``ARGON2_MAX_CONCURRENT`` at once: each holds
    ``ARGON2_MEMORY_COST_KIB`` of memory and saturates a core, so a burst of logins queues instead of exhausting
    memory. Those threads run at a lower CPU priority (Linux nice 10, inherited by argon2's own lane threads),
    so on a busy core the event loop and ordinary requests keep their share while logins wait a little longer.
    """

    __slots__ = ("_dummy_hash", "_hasher", "_pool")

    def __init__(self, settings: Settings) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=settings.argon2_max_concurrent, thread_name_prefix="argon2", initializer=_lower_priority
        )
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._dummy_hash = self.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._pool.submit(self._hasher.hash, password).result()

    def verify(self, hashed: str, password: str) -> bool:
        try:
            return self._pool.submit(self._hasher.verify, hashed, password).result()
        except (VerificationError, InvalidHashError):
            return False

    def burn_verify(self, password: str) -> None:
        """Spend one verification on a throwaway hash, so an unknown account costs as much as a wrong password."""
        self.verify(self._dummy_hash, password)

    def needs_rehash(self, hashed: str) -> bool:
        return self._hasher.check_needs_rehash(hashed)


class UnsealableSecretError(Exception):
    """A sealed secret does not open with the app's key: it was sealed with another key, or altered."""


class SecretSealing:
    """Encrypts and authenticates the secrets the app must read back (TOTP secrets), with XSalsa20-Poly1305
    (libsodium's secretbox, through PyNaCl).

    The key is derived from ``TWO_FACTOR_KEY``, or from ``SECRET_KEY`` when that is unset, by HMAC-SHA256 under a label
    of its own, so it is never the key that signs tokens.
    """

    __slots__ = ("_box",)

    LABEL = b"inkwell: two-factor secrets at rest"

    def __init__(self, settings: Settings) -> None:
        material = (settings.two_factor_key or settings.secret_key).encode()
        self._box = SecretBox(hmac.new(material, self.LABEL, hashlib.sha256).digest())

    def seal(self, secret: str) -> str:
        """``secret`` encrypted under a fresh random nonce, as URL-safe base64."""
        return base64.urlsafe_b64encode(bytes(self._box.encrypt(secret.encode()))).decode("ascii")

    def open(self, sealed: str) -> str:
        """The secret ``sealed`` holds.

        Raises:
            UnsealableSecretError: it was sealed with another key, or altered.
        """
        try:
            return self._box.decrypt(base64.urlsafe_b64decode(sealed)).decode()
        except (CryptoError, ValueError) as exc:
            raise UnsealableSecretError(str(exc)) from None


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
