"""A change and the emails it causes commit together: when the outbox insert fails, the registration leaves nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from app.emails.models import EmailOutbox
from app.users.models import User
from tests.factories import API
from tests.problems import problem

TRIGGERS = {
    "sqlite": (
        "CREATE TRIGGER refuse_outbox BEFORE INSERT ON email_outbox BEGIN SELECT RAISE(ABORT, 'outbox refused'); END",
        "DROP TRIGGER refuse_outbox",
    ),
    "postgresql": (
        "ALTER TABLE email_outbox ADD CONSTRAINT refuse_outbox CHECK (false) NOT VALID",
        "ALTER TABLE email_outbox DROP CONSTRAINT refuse_outbox",
    ),
}


@contextmanager
def outbox_refusing_inserts(engine: Engine) -> Iterator[None]:
    create, drop = TRIGGERS[engine.dialect.name]
    with engine.begin() as connection:
        connection.execute(text(create))
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(text(drop))


def test_failed_outbox_insert_rolls_back_the_registration(client: TestClient[Litestar], migrated: Engine) -> None:
    with outbox_refusing_inserts(migrated):
        response = client.post(f"{API}/auth/register", json={"email": "half@example.com", "password": "half-written"})
    assert problem(response)["status"] >= 400
    with Session(migrated) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0
        assert session.scalar(select(func.count()).select_from(EmailOutbox)) == 0
    retried = client.post(f"{API}/auth/register", json={"email": "half@example.com", "password": "half-written"})
    assert retried.status_code == 201
