"""The transactional outbox: rows are written with the change that causes them, then sent once by a worker."""

from __future__ import annotations

import logging
import random
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import msgspec
from advanced_alchemy.filters import OnBeforeAfter, OrderBy
from advanced_alchemy.repository import SQLAlchemySyncRepository
from advanced_alchemy.service import SQLAlchemySyncRepositoryService
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from app.core.errors import ConflictError, NotFoundError
from app.core.repository import connection_lost
from app.core.request_context import current_request_id
from app.emails.errors import EmailRenderError, PermanentEmailError, TransientEmailError
from app.emails.models import EmailKind, EmailOutbox, EmailStatus

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.orm import Session

    from app.core.pagination import Listing, PageRequest
    from app.core.settings import Settings
    from app.core.task_queue import TaskQueue
    from app.emails.rendering import EmailComposer
    from app.emails.transports import EmailTransport

__all__ = ("OutboxService", "QueuedEmail", "SendOutcome")

logger = logging.getLogger(__name__)

# A worker whose send the mail server accepted waits this long for the database to come back (a restart, a failover)
# to record it, rather than leave the row for the relay to send again; the pauses stay short, so that once the
# database answers it marks the row before the relay can hand it to another worker.
MARK_SENT_PATIENCE_SECONDS = 30.0
MARK_SENT_FIRST_PAUSE_SECONDS = 0.2
MARK_SENT_MAX_PAUSE_SECONDS = 1.0

# Payload keys that hold secrets (a raw one-time token for a link): dropped once the row is sent. A failed row keeps
# them, or a retry could not render its link; the token is no more exposed there than in a pending row, and stops
# working when the one-time token expires.
SECRET_PAYLOAD_KEYS = frozenset({"token"})


class SendOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What one send attempt did; ``retry_in`` (seconds) is set only when ``status`` is ``retry``."""

    status: Literal["sent", "skipped", "retry", "failed"]
    detail: str = ""
    retry_in: float | None = None


class QueuedEmail(NamedTuple):
    """An outbox row to announce to the workers, with the request that wrote it (for their logs)."""

    id: uuid.UUID
    request_id: str | None


class OutboxService(SQLAlchemySyncRepositoryService[EmailOutbox]):
    """Adds rows without committing (the caller commits its change and the rows together) and sends them."""

    class Repo(SQLAlchemySyncRepository[EmailOutbox]):
        model_type = EmailOutbox

    repository_type = Repo
    # A window count has no row to ride on past the last page (total 0); a separate COUNT keeps it right.
    count_with_window_function = False

    def __init__(
        self, session: Session, settings: Settings, task_queue: TaskQueue | None = None, **kwargs: Any
    ) -> None:
        super().__init__(session=session, **kwargs)
        self.settings = settings
        self.task_queue = task_queue
        self._added: list[QueuedEmail] = []

    @property
    def _relay_after(self) -> timedelta:
        return timedelta(seconds=self.settings.outbox_relay_after_seconds)

    def add(
        self, kind: EmailKind, recipient: str, *, user_id: uuid.UUID | None, payload: dict[str, Any]
    ) -> EmailOutbox:
        """Write a pending row in the current transaction; :meth:`dispatch_added` announces it after the commit.

        The row keeps the id of the request being served, so its email can be traced from request to delivery.
        """
        row = EmailOutbox(
            kind=kind,
            recipient=recipient,
            user_id=user_id,
            payload=payload,
            status=EmailStatus.PENDING,
            attempts=0,
            next_attempt_at=datetime.now(UTC) + self._relay_after,
            request_id=current_request_id(),
        )
        self.repository.add(row)
        self._added.append(QueuedEmail(row.id, row.request_id))
        return row

    def dispatch_added(self) -> None:
        """Enqueue the rows added since the last call. Call it only after the commit that made them durable.

        A refused enqueue is logged and ignored: the row is committed, so the relay sends it later.
        """
        added, self._added = self._added, []
        if self.task_queue is None:
            return
        for position, email in enumerate(added):
            if not self.task_queue.enqueue_email(email.id, email.request_id):
                # The broker is down: each further publish would wait out its timeout and fail the same way.
                if rest := len(added) - position - 1:
                    logger.warning("broker unavailable: the outbox relay will send the other %d emails", rest)
                return

    def discard_added(self) -> None:
        """Forget rows of a rolled-back transaction: they were never written."""
        self._added.clear()

    def send(self, outbox_id: uuid.UUID, composer: EmailComposer, transport: EmailTransport) -> SendOutcome:
        """Send one row at most once: lock it, skip it unless pending, render, send, record the result, commit.

        The row stays locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) while the mail server is talked to, so a
        second worker given the same row skips it instead of sending it again.
        """
        session = self.repository.session
        row = session.scalars(
            select(EmailOutbox).where(EmailOutbox.id == outbox_id).with_for_update(skip_locked=True)
        ).one_or_none()
        if row is None or row.status != EmailStatus.PENDING:
            session.rollback()
            detail = "missing or locked by another worker" if row is None else f"already {row.status}"
            return SendOutcome(status="skipped", detail=detail)
        row.attempts += 1
        try:
            message = composer.compose(row)
        except EmailRenderError as exc:  # every retry would fail the same way
            return self._finish(row, EmailStatus.FAILED, f"could not render: {exc}")
        try:
            transport.send(message)
        except TransientEmailError as exc:
            return self._after_transient_failure(row, str(exc))
        except PermanentEmailError as exc:
            return self._finish(row, EmailStatus.FAILED, str(exc))
        return self._mark_sent(row)

    def _mark_sent(self, row: EmailOutbox) -> SendOutcome:
        """Record a send the mail server accepted. If the connection that holds the row died meanwhile (the backend
        terminated, a failover, a restart), the row is still pending and would be sent again by the relay: it is
        marked sent over a new connection instead, unless another send got to it first. While the database is still
        away, that is tried again until it answers (for at most ``MARK_SENT_PATIENCE_SECONDS``).
        """
        row_id, attempts = row.id, row.attempts
        payload = {key: value for key, value in row.payload.items() if key not in SECRET_PAYLOAD_KEYS}
        try:
            return self._finish(row, EmailStatus.SENT, None)
        except SQLAlchemyError as exc:
            if not connection_lost(exc):
                raise
            logger.warning("email %s: sent, but the database connection was lost; marking it sent again", row_id)
        session = self.repository.session
        give_up_at = time.monotonic() + MARK_SENT_PATIENCE_SECONDS
        pause = MARK_SENT_FIRST_PAUSE_SECONDS
        while True:
            session.rollback()
            now = datetime.now(UTC)
            try:
                session.execute(
                    update(EmailOutbox)
                    .where(EmailOutbox.id == row_id, EmailOutbox.status == EmailStatus.PENDING)
                    .values(
                        status=EmailStatus.SENT,
                        attempts=attempts,
                        last_error=None,
                        sent_at=now,
                        updated_at=now,
                        payload=payload,
                    )
                )
                session.commit()
            except OperationalError as exc:
                if time.monotonic() + pause > give_up_at:
                    raise
                logger.warning("email %s: the database is still away (%s); trying again in %.1fs", row_id, exc, pause)
                time.sleep(pause)
                pause = min(pause * 2, MARK_SENT_MAX_PAUSE_SECONDS)
                continue
            return SendOutcome(status="sent")

    def _after_transient_failure(self, row: EmailOutbox, error: str) -> SendOutcome:
        if row.attempts >= self.settings.email_max_attempts:
            return self._finish(row, EmailStatus.FAILED, f"gave up after {row.attempts} attempts: {error}")
        delay = self._backoff(row.attempts)
        row.last_error = error
        # The relay leaves the row alone until the worker's own retry is due, plus the usual grace.
        row.next_attempt_at = datetime.now(UTC) + timedelta(seconds=delay) + self._relay_after
        self.repository.session.commit()
        return SendOutcome(status="retry", detail=error, retry_in=delay)

    def _backoff(self, attempts: int) -> float:
        """Exponential backoff with equal jitter: half the step is fixed, half random, so retries spread out."""
        step = min(
            self.settings.email_retry_backoff_max_seconds,
            self.settings.email_retry_backoff_seconds * 2.0 ** (attempts - 1),
        )
        return step / 2 + random.uniform(0, step / 2)  # noqa: S311  (jitter, not a secret)

    def _finish(self, row: EmailOutbox, status: EmailStatus, error: str | None) -> SendOutcome:
        row.status = status
        row.last_error = error
        if status is EmailStatus.SENT:
            row.sent_at = datetime.now(UTC)
            row.payload = {key: value for key, value in row.payload.items() if key not in SECRET_PAYLOAD_KEYS}
        self.repository.session.commit()
        return SendOutcome(status="sent" if status is EmailStatus.SENT else "failed", detail=error or "")

    def claim_due(self, limit: int) -> list[QueuedEmail]:
        """Pending rows whose ``next_attempt_at`` has passed, pushed one grace period ahead so the next relay run
        does not enqueue them again while they wait in the queue. Committed; returns their ids and request ids.
        """
        session = self.repository.session
        now = datetime.now(UTC)
        due = [
            QueuedEmail(outbox_id, request_id)
            for outbox_id, request_id in session.execute(
                select(EmailOutbox.id, EmailOutbox.request_id)
                .where(EmailOutbox.status == EmailStatus.PENDING, EmailOutbox.next_attempt_at <= now)
                .order_by(EmailOutbox.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ]
        if due:
            ids = [email.id for email in due]
            session.execute(
                update(EmailOutbox).where(EmailOutbox.id.in_(ids)).values(next_attempt_at=now + self._relay_after)
            )
        session.commit()
        return due

    def list_page(
        self, page: PageRequest, status: EmailStatus | None = None, updated_since: datetime | None = None
    ) -> Listing[EmailOutbox]:
        """Rows newest first, optionally of one ``status`` and changed at or after ``updated_since`` (for a failed
        row, ``updated_at`` is when it failed: nothing changes it afterwards but a retry)."""
        filters: list[Any] = [
            page.filter,
            OrderBy(field_name="created_at", sort_order="desc"),
            OrderBy(field_name="id", sort_order="desc"),
        ]
        if status is not None:
            filters.append(EmailOutbox.status == status)
        if updated_since is not None:
            filters.append(OnBeforeAfter(field_name="updated_at", on_or_before=None, on_or_after=updated_since))
        rows, total = self.get_many_and_count(*filters)
        return page.build(rows, total)

    def retry(self, outbox_id: uuid.UUID) -> EmailOutbox:
        """Put one failed row back to pending with a fresh attempt budget, commit, and enqueue it.

        Raises:
            NotFoundError: no such row.
            ConflictError: the row is not failed (a pending row is already on its way, a sent one went out).
        """
        session = self.repository.session
        query = select(EmailOutbox).where(EmailOutbox.id == outbox_id).with_for_update()
        row: EmailOutbox | None = session.scalars(query).one_or_none()
        if row is None:
            session.rollback()
            raise NotFoundError(f"no email {outbox_id}")
        if row.status != EmailStatus.FAILED:
            session.rollback()
            raise ConflictError(f"The email is {row.status}; only failed emails can be retried")
        self._reset(row)
        session.commit()
        self.dispatch_added()
        return row

    def retry_failed(self, failed_since: datetime | None = None) -> int:
        """Retry every failed row, or those that failed at or after ``failed_since``; return how many.

        In committed batches of ``OUTBOX_RELAY_BATCH_SIZE``, each enqueued after its commit, walking the ids
        upwards: a row that fails again meanwhile is not picked up twice, so the walk ends however busy the workers.
        """
        session = self.repository.session
        retried, after = 0, None
        while True:
            query = select(EmailOutbox).where(EmailOutbox.status == EmailStatus.FAILED)
            if failed_since is not None:
                query = query.where(EmailOutbox.updated_at >= failed_since)
            if after is not None:
                query = query.where(EmailOutbox.id > after)
            batch = list(
                session.scalars(
                    # Locked, not skipped: a row another retry holds is rechecked once free, and no longer matches.
                    query.order_by(EmailOutbox.id).limit(self.settings.outbox_relay_batch_size).with_for_update()
                )
            )
            if not batch:
                session.rollback()
                return retried
            for row in batch:
                self._reset(row)
            after = batch[-1].id
            session.commit()
            self.dispatch_added()
            retried += len(batch)

    def _reset(self, row: EmailOutbox) -> None:
        row.status = EmailStatus.PENDING
        row.attempts = 0
        row.last_error = None
        # As for a new row: the task published after the commit sends it, else the relay after its grace period.
        row.next_attempt_at = datetime.now(UTC) + self._relay_after
        self._added.append(QueuedEmail(row.id, row.request_id))
