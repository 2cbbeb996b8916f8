"""Per-account sign-in lockout: consecutive failed sign-ins slow an address down, then lock it for a while.

The count is a row per address (a hash of the normalised email, never the address itself), so it holds across web
processes and restarts, and an address that belongs to no account is slowed and locked exactly like one that does:
the answers never tell whether an account exists. It is independent of the per-IP rate limit, which bounds what one
client can try across many addresses.

After ``SIGN_IN_DELAY_AFTER_FAILURES`` failures in a row, each further attempt must wait
``SIGN_IN_DELAY_SECONDS``, doubling with every failure, after the last one; after ``SIGN_IN_LOCKOUT_FAILURES`` the
address is locked for ``SIGN_IN_LOCKOUT_SECONDS``. A refused attempt checks no password and counts for nothing. A
success clears the count, and failures older than the lockout period are forgotten.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from advanced_alchemy.service import SQLAlchemySyncRepositoryService
from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.auth.models import SignInThrottle
from app.core.errors import TooManyRequestsError
from app.core.repository import Repository

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, scoped_session

    from app.core.settings import Settings

__all__ = ("SignInLockout", "SignInThrottledError")


class SignInThrottledError(TooManyRequestsError):
    """Too many failed sign-ins for this address: retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("Too many failed sign-ins for this account; retry later", retry_after)
        self.why = {"retry_after": self.retry_after}


def _key(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


def _count_failure(insert: Any) -> Any:
    """One more failure for ``key`` at ``now``, or the first if the last is older than ``forget_before``."""
    statement = insert(SignInThrottle).values(
        key=bindparam("key"), failures=1, last_failure_at=bindparam("now"), locked_until=None
    )
    return statement.on_conflict_do_update(
        index_elements=[SignInThrottle.key],
        set_={
            "failures": case(
                (SignInThrottle.last_failure_at < bindparam("forget_before"), 1), else_=SignInThrottle.failures + 1
            ),
            "last_failure_at": statement.excluded.last_failure_at,
        },
    ).returning(SignInThrottle.failures)


# Both dialects spell the upsert alike, from their own ``insert``.
_COUNT_FAILURE = {"postgresql": _count_failure(postgresql.insert), "sqlite": _count_failure(sqlite.insert)}


class SignInLockout(SQLAlchemySyncRepositoryService[SignInThrottle, "SignInLockout.Repo"]):
    """Checks and counts sign-in failures per address, in the caller's transaction; it never commits."""

    class Repo(Repository[SignInThrottle]):
        model_type = SignInThrottle

        def count_failure(self, key: str, now: datetime, forget_before: datetime) -> int:
            parameters = {"key": key, "now": now, "forget_before": forget_before}
            failures: int = self.rows(_COUNT_FAILURE[self._dialect.name], parameters).scalar_one()
            return failures

    repository_type = Repo

    def __init__(self, session: Session | scoped_session[Session], settings: Settings, **kwargs: Any) -> None:
        super().__init__(session=session, **kwargs)
        self.delay_after = settings.sign_in_delay_after_failures
        self.delay = timedelta(seconds=settings.sign_in_delay_seconds)
        self.lockout_failures = settings.sign_in_lockout_failures
        self.lockout = timedelta(seconds=settings.sign_in_lockout_seconds)

    def check(self, email: str) -> bool:
        """Whether ``email`` has failures on record (a success then clears them).

        Raises:
            SignInThrottledError: ``email`` may not try to sign in yet (locked, or inside its delay).
        """
        now = datetime.now(UTC)
        row = self.repository.rows(
            select(SignInThrottle.failures, SignInThrottle.last_failure_at, SignInThrottle.locked_until).where(
                SignInThrottle.key == _key(email)
            )
        ).one_or_none()
        if row is None:
            return False
        if row.locked_until is not None and row.locked_until > now:
            raise SignInThrottledError((row.locked_until - now).total_seconds())
        if row.last_failure_at >= now - self.lockout and row.failures >= self.delay_after:
            wait = min(self.delay * 2 ** (row.failures - self.delay_after), self.lockout)
            if now < row.last_failure_at + wait:
                raise SignInThrottledError((row.last_failure_at + wait - now).total_seconds())
        return True

    def failed(self, email: str) -> bool:
        """Count a failed sign-in for ``email``; True if it locked the address."""
        now = datetime.now(UTC)
        key = _key(email)
        failures = self.repository.count_failure(key, now, now - self.lockout)
        if failures < self.lockout_failures:
            return False
        # Locked: the count starts over once the lock lifts.
        self.repository.rows(
            update(SignInThrottle).where(SignInThrottle.key == key).values(failures=0, locked_until=now + self.lockout)
        )
        return True

    def succeeded(self, email: str) -> None:
        """Forget the failures of ``email``."""
        self.repository.rows(delete(SignInThrottle).where(SignInThrottle.key == _key(email)))
