"""Safe retries of a POST: the first request with a key does the work and stores its answer; a repeat gets that
answer, without the work being done again.

The key's row is written in the request's own transaction, before the work: a concurrent repeat (another thread or
process) waits on the key's unique index until that transaction ends, so the work is done once. The answer is stored
right after. A request that fails does nothing (its transaction is rolled back), so its key is released and a retry
runs it again.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from advanced_alchemy.exceptions import RepositoryError
from sqlalchemy.exc import SQLAlchemyError

from app.core.errors import InProgressError, InvalidValueError
from app.core.repository import connection_lost
from app.idempotency.repository import IdempotencyKeyRepository

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable

    from sqlalchemy.orm import Session

    from app.core.settings import Settings

__all__ = ("ANONYMOUS", "Answer", "IdempotencyService", "KeyedRequest")

logger = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
KEY_HEADER = "Idempotency-Key"
DIGEST_LABEL = b"inkwell idempotency request"
KEY_REUSED = (
    "This Idempotency-Key was sent with a different request (method, path or body) in the last {hours} hours; "
    "send a new key for a new request"
)
# The first poll comes soon (the answer is stored right after the work commits), later ones back off.
FIRST_POLL_SECONDS = 0.01
LONGEST_POLL_SECONDS = 0.25
IN_PROGRESS = "A request with this Idempotency-Key is still in progress; retry shortly"
RETRY_IN_PROGRESS_AFTER_SECONDS = 1


@dataclass(frozen=True, slots=True)
class Answer:
    """What a request answered: its status, its JSON body and, for a creation, the new resource's URL."""

    status_code: int
    body: bytes
    location: str | None = None


@dataclass(frozen=True, slots=True)
class KeyedRequest:
    """A request sent with an ``Idempotency-Key``: whose, which key, and the digest that identifies it."""

    caller: str
    key: str
    digest: str


class IdempotencyService:
    """Runs a keyed request's work at most once per key and caller within ``IDEMPOTENCY_KEY_TTL_HOURS``.

    Keys are per signed-in account. Anonymous requests (registration, a password-reset request) share one space:
    a repeat is answered only when its body is the same, so it learns nothing its sender did not already know, and a
    client whose address changed between two attempts (a phone leaving Wi-Fi) still gets the first answer.
    """

    def __init__(self, session: Session, settings: Settings) -> None:
        self.repository = IdempotencyKeyRepository(session=session)
        self.session = session
        self.lifetime = timedelta(hours=settings.idempotency_key_ttl_hours)
        self.wait_seconds = settings.idempotency_wait_seconds
        self._digest_key = hmac.new(settings.secret_key.encode(), DIGEST_LABEL, hashlib.sha256).digest()

    def identify(self, key: str, caller_id: uuid.UUID | None, request: bytes) -> KeyedRequest:
        """The keyed request ``request`` (its method, path and canonical body, as bytes) of ``caller_id``.

        The digest is keyed: a body may hold a password, and a plain hash of it could be tried offline.
        """
        digest = hmac.new(self._digest_key, request, hashlib.sha256).hexdigest()
        return KeyedRequest(caller=ANONYMOUS if caller_id is None else str(caller_id), key=key, digest=digest)

    def answer_once(self, request: KeyedRequest, work: Callable[[], Answer]) -> tuple[Answer, bool]:
        """``work``'s answer, and False; or, for a repeat of a request that answered, its stored answer and True.

        Raises:
            InvalidValueError: the key was sent with another request.
            InProgressError: the first request has not answered within ``IDEMPOTENCY_WAIT_SECONDS``.
        """
        deadline = time.monotonic() + self.wait_seconds
        while not self._reserve(request):
            # Not ours: end this transaction (on SQLite it holds the one write lock the first request needs to store
            # its answer) and wait for the answer.
            self.session.rollback()
            stored = self._wait_for_answer(request, deadline)
            if stored is not None:
                return stored, True
        try:
            answer = work()
        except Exception:
            self._release(request)
            raise
        self._store(request, answer)
        return answer, False

    def _store(self, request: KeyedRequest, answer: Answer) -> None:
        """Store the work's answer on its key, committed.

        If the connection dies first (the backend terminated, a failover), the answer is stored over a new one, on
        the key's reservation only: that row is there only if the work committed with it, and every repeat would
        otherwise wait for an answer that never comes, told 409 until the key expired. Without it the work was lost
        with the connection, and the error stands.
        """
        row = self._row(request, answer)
        try:
            self.repository.record(row)
            self.session.commit()
        except (RepositoryError, SQLAlchemyError) as exc:
            if not connection_lost(exc):
                raise
            self.session.rollback()
            if not self.repository.answer_reserved(row):
                self.session.rollback()
                raise
            self.session.commit()
            logger.warning("database connection lost before a keyed request's answer was stored; stored it again")

    def _row(self, request: KeyedRequest, answer: Answer | None = None) -> dict[str, object]:
        now = datetime.now(UTC)
        return {
            "caller": request.caller,
            "key": request.key,
            "request_digest": request.digest,
            "status_code": None if answer is None else answer.status_code,
            "response_body": None if answer is None else answer.body,
            "location": None if answer is None else answer.location,
            "created_at": now,
            "expires_at": now + self.lifetime,
        }

    def _reserve(self, request: KeyedRequest) -> bool:
        return self.repository.reserve(self._row(request), now=datetime.now(UTC))

    def _wait_for_answer(self, request: KeyedRequest, deadline: float) -> Answer | None:
        """The stored answer of the key's request; None if the key is free again (its request failed, or expired)."""
        pause = FIRST_POLL_SECONDS
        while True:
            row = self.repository.read(request.caller, request.key)
            self.session.rollback()  # each look sees what has been committed since
            if row is None or row.expires_at <= datetime.now(UTC):
                return None
            if not hmac.compare_digest(row.request_digest, request.digest):
                hours = int(self.lifetime.total_seconds() // 3600)
                raise InvalidValueError(KEY_REUSED.format(hours=hours), field=KEY_HEADER, source="header")
            if row.status_code is not None:
                return Answer(row.status_code, row.response_body or b"", row.location)
            if time.monotonic() + pause > deadline:
                raise InProgressError(IN_PROGRESS, RETRY_IN_PROGRESS_AFTER_SECONDS)
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_POLL_SECONDS)

    def _release(self, request: KeyedRequest) -> None:
        """Free the key of a request that failed. Its row is usually gone with the rolled-back transaction; the work
        may also have committed before failing, and the row with it."""
        try:
            self.session.rollback()
            self.repository.release(request.caller, request.key, request.digest)
            self.session.commit()
        except (RepositoryError, SQLAlchemyError):
            # The failure is what the client is told about; a key left behind answers 409 until it expires.
            logger.warning("could not release idempotency key after a failed request", exc_info=True)
            self.session.rollback()
