"""The database connection of a keyed request dies after its work committed and before its answer was stored (the
backend terminated, a failover): the answer is stored over a new connection, so a repeat gets it instead of being
told for the key's whole lifetime that the first request is still in progress."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from advanced_alchemy.exceptions import RepositoryError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.core.database import build_engine
from app.idempotency.service import Answer, IdempotencyService
from tests.conftest import make_settings


def _terminate(database_url: str, backend_pid: int) -> None:
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (backend_pid,)).fetchone() == (True,)


def test_an_answer_whose_connection_died_after_the_work_committed_is_replayed(postgres_url: str) -> None:
    settings = make_settings(postgres_url, IDEMPOTENCY_WAIT_SECONDS="0.5")
    engine = build_engine(settings)
    created = Answer(201, b'{"id": "made once"}', "/api/v1/posts/made-once")
    works: list[str] = []
    try:
        with Session(engine) as session:
            service = IdempotencyService(session, settings)
            request = service.identify(str(uuid.uuid4()), uuid.uuid4(), b"POST /api/v1/posts {}")

            def work() -> Answer:
                # The work commits (and the key's reservation with it), then the connection goes.
                backend_pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
                session.commit()
                works.append("done")
                _terminate(postgres_url, backend_pid)
                return created

            assert service.answer_once(request, work) == (created, False)

        with Session(engine) as session:
            repeat = IdempotencyService(session, settings).answer_once(request, lambda: Answer(500, b"twice"))
        assert repeat == (created, True)
        assert works == ["done"]
    finally:
        engine.dispose()


def test_an_answer_whose_work_was_lost_with_the_connection_is_not_stored(postgres_url: str) -> None:
    """A work that left its commit to the answer's: the connection takes both, so the error stands and a repeat
    does the work."""
    settings = make_settings(postgres_url)
    engine = build_engine(settings)
    answer = Answer(201, b'{"id": "lost"}', "/api/v1/posts/lost")
    try:
        with Session(engine) as session:
            service = IdempotencyService(session, settings)
            request = service.identify(str(uuid.uuid4()), uuid.uuid4(), b"POST /api/v1/posts {}")

            def work() -> Answer:
                _terminate(postgres_url, session.execute(text("SELECT pg_backend_pid()")).scalar_one())
                return answer

            with pytest.raises(RepositoryError):
                service.answer_once(request, work)

        with Session(engine) as session:
            again = Answer(201, b'{"id": "made"}', "/api/v1/posts/made")
            assert IdempotencyService(session, settings).answer_once(request, lambda: again) == (again, False)
    finally:
        engine.dispose()
