"""The codes of two-factor sign-in: TOTP codes (RFC 6238: six digits, 30-second steps, SHA-1, as every authenticator
app reads an ``otpauth://`` URI) and single-use recovery codes, each accepted once.

A TOTP code is accepted for the current step or the one before or after (a clock off by up to 30 seconds), and only
for a step later than the last one accepted: the conditional UPDATE that records the step is what accepts the code,
so two requests with one code cannot both succeed. A recovery code is spent the same way.
"""

from __future__ import annotations

import base64
import hmac
import logging
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pyotp
from advanced_alchemy.service import SQLAlchemySyncRepositoryService
from sqlalchemy import delete, func, or_, select, update

from app.auth.models import RecoveryCode, TwoFactor
from app.core.repository import Repository
from app.core.security import UnsealableSecretError, hash_opaque_token

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.orm import Session, scoped_session

    from app.core.security import SecretSealing

__all__ = ("RECOVERY_CODE_COUNT", "SecondFactor", "TwoFactorCodes")

RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_BYTES = 10
logger = logging.getLogger(__name__)

STEPS_OF_CLOCK_DRIFT = 1
TOTP_DIGITS = 6


class SecondFactor(StrEnum):
    """Which kind of code proved the second factor."""

    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"


def _recovery_code() -> str:
    """80 random bits as four groups of four base32 characters (``abcd-efgh-ijkl-mnop``), easy to copy by hand."""
    text = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode("ascii").lower()
    return "-".join(text[index : index + 4] for index in range(0, len(text), 4))


def _recovery_code_hash(code: str) -> str:
    """The hash of a recovery code however it was typed: case, spaces and dashes do not matter."""
    return hash_opaque_token("".join(code.split()).replace("-", "").lower())


class TwoFactorCodes(SQLAlchemySyncRepositoryService[TwoFactor, "TwoFactorCodes.Repo"]):
    """An account's authenticator and recovery codes, in the caller's transaction; it never commits."""

    class Repo(Repository[TwoFactor]):
        model_type = TwoFactor

    repository_type = Repo

    def __init__(self, session: Session | scoped_session[Session], sealing: SecretSealing, **kwargs: Any) -> None:
        super().__init__(session=session, **kwargs)
        self.sealing = sealing

    # -- reading ----------------------------------------------------------------------------------------------

    def authenticator(self, user_id: uuid.UUID) -> TwoFactor | None:
        """The account's authenticator, enabled or waiting for its first code, or None."""
        return self.repository.get_one_or_none(user_id=user_id)

    def is_enabled(self, user_id: uuid.UUID) -> bool:
        statement = select(TwoFactor.id).where(TwoFactor.user_id == user_id, TwoFactor.enabled_at.is_not(None))
        return self.repository.rows(statement).first() is not None

    def recovery_codes_left(self, user_id: uuid.UUID) -> int:
        statement = select(func.count()).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        left: int = self.repository.rows(statement).scalar_one()
        return left

    # -- writing ----------------------------------------------------------------------------------------------

    def start(self, user_id: uuid.UUID) -> tuple[str, list[str]]:
        """A new secret and new recovery codes for the account, replacing any it had: the raw secret and codes, which
        exist only in this answer. The authenticator waits for its first code (:meth:`enable`)."""
        self.repository.rows(delete(TwoFactor).where(TwoFactor.user_id == user_id))
        secret = pyotp.random_base32()
        now = datetime.now(UTC)
        self.repository.add(TwoFactor(user_id=user_id, sealed_secret=self.sealing.seal(secret), created_at=now))
        return secret, self.replace_recovery_codes(user_id)

    def replace_recovery_codes(self, user_id: uuid.UUID) -> list[str]:
        """Ten new recovery codes; the account's earlier ones stop working."""
        self.repository.rows(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        codes = [_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        now = datetime.now(UTC)
        self.repository.session.add_all(
            RecoveryCode(user_id=user_id, code_hash=_recovery_code_hash(code), created_at=now) for code in codes
        )
        return codes

    def enable(self, authenticator: TwoFactor) -> None:
        authenticator.enabled_at = datetime.now(UTC)

    def remove(self, user_id: uuid.UUID) -> None:
        """Delete the account's authenticator and recovery codes."""
        self.repository.rows(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        self.repository.rows(delete(TwoFactor).where(TwoFactor.user_id == user_id))

    # -- checking ---------------------------------------------------------------------------------------------

    def accept(self, authenticator: TwoFactor, code: str) -> SecondFactor | None:
        """Spend ``code`` if it is a TOTP code of ``authenticator`` not used before, or one of the account's unused
        recovery codes (only once the authenticator is enabled); which kind it was, or None."""
        if self.accept_totp(authenticator, code):
            return SecondFactor.TOTP
        if authenticator.enabled_at is not None and self._spend_recovery_code(authenticator.user_id, code):
            return SecondFactor.RECOVERY_CODE
        return None

    def accept_totp(self, authenticator: TwoFactor, code: str) -> bool:
        code = "".join(code.split())
        if len(code) != TOTP_DIGITS or not code.isdigit():
            return False
        try:
            totp = pyotp.TOTP(self.sealing.open(authenticator.sealed_secret))
        except UnsealableSecretError:
            # Its owner cannot sign in with the app until the key it was sealed with is back (or a superuser resets
            # two-factor sign-in); the recovery codes still work.
            logger.error(
                "the two-factor secret of account %s does not open with the configured key: was SECRET_KEY or "
                "TWO_FACTOR_KEY changed?",
                authenticator.user_id,
            )
            return False
        now_step = totp.timecode(datetime.now(UTC))
        for step in range(now_step - STEPS_OF_CLOCK_DRIFT, now_step + STEPS_OF_CLOCK_DRIFT + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                return self._record_step(authenticator, step)
        return False

    def _record_step(self, authenticator: TwoFactor, step: int) -> bool:
        recorded = self.repository.rows(
            update(TwoFactor)
            .where(
                TwoFactor.id == authenticator.id,
                or_(TwoFactor.last_used_step.is_(None), TwoFactor.last_used_step < step),
            )
            .values(last_used_step=step)
            .returning(TwoFactor.id)
        ).first()
        return recorded is not None

    def _spend_recovery_code(self, user_id: uuid.UUID, code: str) -> bool:
        spent = self.repository.rows(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == _recovery_code_hash(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=datetime.now(UTC))
            .returning(RecoveryCode.id)
        ).first()
        return spent is not None
