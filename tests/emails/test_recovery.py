"""Failed email recovered end to end: a real worker gives up while the SMTP server is down, an operator retries
through the API once it is back, and each email arrives exactly once with a link that still works."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from celery import Celery
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine

from tests.emails.outbox import rows_of
from tests.factories import API, Accounts, unique_email
from tests.mail import SMTPServer, token_in

RunWorker = Callable[..., AbstractContextManager[Celery]]
SUBJECTS = ("welcome", "verify", "reset")


def _wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _statuses(engine: Engine, recipients: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    return {email: [row.status for row in rows_of(engine, email)] for email in recipients}


def test_emails_failed_while_smtp_was_down_are_delivered_once_after_a_bulk_retry(
    client: TestClient[Litestar],
    accounts: Accounts,
    migrated: Engine,
    smtp_server: SMTPServer,
    run_worker: RunWorker,
) -> None:
    admin = accounts.superuser()
    emails = [unique_email("down") for _ in range(3)]
    # Subjects each one is sent: a welcome and a verification at registration, and the first asks for a reset.
    expected: dict[str, tuple[str, ...]] = {email: SUBJECTS if email == emails[0] else SUBJECTS[:2] for email in emails}
    smtp_server.stop()
    with run_worker(email_max_attempts=2):
        for email in emails:
            accounts.register(email)
        forgot = client.post(f"{API}/auth/forgot-password", json={"email": emails[0]})
        assert forgot.status_code == 202
        _wait_until(
            lambda: _statuses(migrated, expected) == {email: ["failed"] * len(expected[email]) for email in emails}
        )
        for row in (row for email in emails for row in rows_of(migrated, email)):
            assert row.attempts == 2
            assert (row.last_error or "").startswith("gave up after 2 attempts: ConnectionRefusedError")
        listed = client.get(f"{API}/ops/emails", params={"status": "failed"}, headers=admin.headers).json()
        assert listed["total"] == 7

        smtp_server.start()
        retried = client.post(f"{API}/ops/emails/retry", json={"failed_since": None}, headers=admin.headers)
        assert retried.status_code == 200, retried.text
        assert retried.json() == {"retried": 7}
        for email, subjects in expected.items():
            for subject in subjects:
                smtp_server.wait_for_email(email, subject)
        _wait_until(
            lambda: _statuses(migrated, expected) == {email: ["sent"] * len(expected[email]) for email in emails}
        )
        # The solo worker takes its queue in order: once a later email is in, any duplicate would have been sent.
        sentinel = unique_email("sentinel")
        accounts.register(sentinel)
        smtp_server.wait_for_email(sentinel, "verify")

    for email, subjects in expected.items():
        assert {subject: len(smtp_server.mailbox.to(email, subject)) for subject in SUBJECTS} == {
            subject: int(subject in subjects) for subject in SUBJECTS
        }
        for row in rows_of(migrated, email):
            assert (row.attempts, row.last_error) == (1, None)
            assert "token" not in row.payload  # gone once sent
    (verification,) = smtp_server.mailbox.to(emails[1], "verify")
    verified = client.post(f"{API}/auth/verify-email", json={"token": token_in(verification)})
    assert verified.status_code == 200, verified.text
    assert verified.json()["is_verified"] is True
    (reset,) = smtp_server.mailbox.to(emails[0], "reset")
    new_password = "recovered at last"
    assert (
        client.post(f"{API}/auth/reset-password", json={"token": token_in(reset), "password": new_password}).status_code
        == 204
    )
    accounts.login(emails[0], new_password)
