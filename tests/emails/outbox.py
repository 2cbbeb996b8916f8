"""Outbox rows made to fail for good the way a dead mail server fails them, and the broker's view of them."""

from __future__ import annotations

from typing import Any, cast

import msgspec
import redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.settings import Settings
from app.core.task_queue import EMAILS_QUEUE
from app.emails.models import EmailKind, EmailOutbox, EmailStatus
from app.emails.rendering import EmailComposer
from app.emails.service import OutboxService
from app.emails.transports import SMTPTransport
from tests.mail import free_port


def rows_of(engine: Engine, recipient: str) -> list[EmailOutbox]:
    with Session(engine) as session:
        query = select(EmailOutbox).where(EmailOutbox.recipient == recipient).order_by(EmailOutbox.id)
        return list(session.scalars(query))


def payloads_of(engine: Engine, recipient: str, kind: EmailKind) -> list[dict[str, Any]]:
    """The payloads of the emails of ``kind`` written for ``recipient``, oldest first."""
    return [row.payload for row in rows_of(engine, recipient) if row.kind == kind]


def tokens_of(engine: Engine, recipient: str, kind: EmailKind) -> list[str]:
    """The tokens of the links mailed to ``recipient`` in emails of ``kind``, oldest first."""
    return [payload["token"] for payload in payloads_of(engine, recipient, kind)]


def fail_for_good(engine: Engine, settings: Settings, recipient: str) -> list[EmailOutbox]:
    """Send ``recipient``'s pending rows once to a port nobody listens on, with one attempt allowed: each ends
    ``failed`` with the connection error, as after a mail-server outage that outlasted every retry."""
    one_attempt = msgspec.structs.replace(settings, email_max_attempts=1)
    composer, closed = EmailComposer(settings), SMTPTransport(f"smtp://127.0.0.1:{free_port()}", timeout=2)
    for row in rows_of(engine, recipient):
        with Session(engine) as session:
            assert OutboxService(session, one_attempt).send(row.id, composer, closed).status == "failed"
    failed = rows_of(engine, recipient)
    assert failed
    assert {row.status for row in failed} == {EmailStatus.FAILED}
    return failed


def published_sends(broker: redis.Redis, outbox_id: object) -> int:
    """How many ``send_email`` messages for this row wait in the emails queue."""
    messages = cast("list[bytes]", broker.lrange(EMAILS_QUEUE, 0, -1))  # redis-py types sync and async clients alike
    return sum(str(outbox_id) in message.decode() for message in messages)
