"""The database connection of a send dies while the mail server holds its reply (PostgreSQL terminating the backend,
a failover, a restart): once the server accepts the message, the row is marked sent over a new connection, waiting
for the database to come back if need be, so the relay does not send it a second time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import psycopg
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.core.database import build_engine
from app.core.settings import Settings
from app.emails.models import EmailKind, EmailStatus
from app.emails.rendering import EmailComposer
from app.emails.service import OutboxService, SendOutcome
from app.emails.transports import SMTPTransport
from tests.conftest import make_settings
from tests.emails.outbox import rows_of
from tests.factories import unique_email
from tests.mail import SMTPServer
from tests.proxy import TcpRelay

SMTP_REPLY_DELAY_SECONDS = 1.0
SEND_TIMEOUT_SECONDS = 30
DATABASE_AWAY_SECONDS = 3.0


class Sending(NamedTuple):
    thread: threading.Thread
    outcomes: list[SendOutcome]


def _terminate_idle_in_transaction(database_url: str) -> int:
    """Terminate the backends of the database waiting inside a transaction (the send's, holding its row lock)."""
    url = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
        ).fetchone()
    return row[0] if row else 0


def _start_send(engine: Engine, settings: Settings, smtp_server: SMTPServer, recipient: str) -> Sending:
    """Write a welcome email's row for ``recipient``, then send it in a thread; return once the mail server holds the
    message (it keeps its reply ``SMTP_REPLY_DELAY_SECONDS``)."""
    with Session(engine) as session:
        row_id = (
            OutboxService(session, settings).add(EmailKind.WELCOME, recipient, user_id=None, payload={"name": "Ada"}).id
        )
        session.commit()
    smtp_server.mailbox.delay = SMTP_REPLY_DELAY_SECONDS
    outcomes: list[SendOutcome] = []

    def send() -> None:
        with Session(engine) as session:
            transport = SMTPTransport(smtp_server.url, timeout=10)
            outcomes.append(OutboxService(session, settings).send(row_id, EmailComposer(settings), transport))

    sender = threading.Thread(target=send)
    sender.start()
    smtp_server.mailbox.wait_for_data(1)
    return Sending(sender, outcomes)


def test_a_send_whose_connection_dies_mid_send_is_marked_sent_once(postgres_url: str, smtp_server: SMTPServer) -> None:
    settings = make_settings(postgres_url)
    engine = build_engine(settings)
    recipient = unique_email("lost-connection")
    try:
        sender, outcomes = _start_send(engine, settings, smtp_server, recipient)
        assert _terminate_idle_in_transaction(postgres_url) == 1
        sender.join(SEND_TIMEOUT_SECONDS)
        assert not sender.is_alive()

        assert [outcome.status for outcome in outcomes] == ["sent"]
        (row,) = rows_of(engine, recipient)
        assert (row.status, row.attempts, row.last_error) == (EmailStatus.SENT, 1, None)
        assert row.sent_at is not None
        assert row.sent_at > datetime.now(UTC) - timedelta(seconds=SEND_TIMEOUT_SECONDS)
        assert len(smtp_server.mailbox.to(recipient)) == 1
    finally:
        engine.dispose()


def test_a_send_that_loses_the_database_for_a_while_marks_its_row_sent_when_it_is_back(
    postgres_url: str, smtp_server: SMTPServer
) -> None:
    url = make_url(postgres_url)
    recipient = unique_email("database-restart")
    with TcpRelay(url.host or "127.0.0.1", url.port or 5432) as relay:
        relayed = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
        settings = make_settings(relayed, DATABASE_CONNECT_TIMEOUT_SECONDS="1")
        engine = build_engine(settings)
        try:
            sender, outcomes = _start_send(engine, settings, smtp_server, recipient)
            # The database goes away while the mail server holds its reply, and stays away past the send.
            relay.cut()
            time.sleep(SMTP_REPLY_DELAY_SECONDS + DATABASE_AWAY_SECONDS)
            assert sender.is_alive()
            relay.restore()
            sender.join(SEND_TIMEOUT_SECONDS)
            assert not sender.is_alive()
        finally:
            engine.dispose()

    assert [outcome.status for outcome in outcomes] == ["sent"]
    direct = build_engine(make_settings(postgres_url))
    try:
        (row,) = rows_of(direct, recipient)
    finally:
        direct.dispose()
    assert (row.status, row.attempts, row.last_error) == (EmailStatus.SENT, 1, None)
    assert len(smtp_server.mailbox.to(recipient)) == 1
