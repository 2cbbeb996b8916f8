"""Every revision, applied and undone on PostgreSQL while requests keep reading and writing a million posts and a
hundred thousand accounts: none of them waits on the migration for longer than a moment.

Most of its time goes into loading the rows. README, Deploy, has the figures;
``pytest -s -m migrations`` prints them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine

from app.core.database import build_engine
from app.core.settings import Settings
from tests.benchmark.dataset import secondary_indexes_dropped
from tests.conftest import DATABASE_PREFIX, _postgres_database, make_settings
from tests.migrations.probe import Busy, Traffic
from tests.migrations.steps import Revisions, Step

pytestmark = pytest.mark.migrations

LOADED_AT = "fed620b9c4b2"  # posts and profiles: the first revision with both post and user_account
POSTS = 1_000_000
USERS = 100_000  # ten posts each, and one signed-in session each
BOUND_SECONDS = 1.0  # no request waits on a migration for longer; README, Deploy

# Rows in the columns these tables have at LOADED_AT. The foreign keys are not checked row by row while loading
# (session_replication_role): every author and user is one of the accounts loaded first.
LOAD = {
    "user_account": """
        INSERT INTO user_account (id, email, hashed_password, is_active, is_superuser, is_verified, created_at,
                                  updated_at)
        SELECT md5('user' || n)::uuid, 'user' || n || '@example.com', 'x', true, false, true, now(), now()
        FROM generate_series(1, %(users)s) AS n
    """,
    "post": """
        INSERT INTO post (id, title, content, is_published, published_at, author_id, created_at, updated_at)
        SELECT md5('post' || n)::uuid, 'Post ' || n, 'Notes on topic ' || n %% 1000 || ', written for the feed',
               n %% 2 = 0, CASE WHEN n %% 2 = 0 THEN now() - n * interval '1 minute' END,
               md5('user' || n %% %(users)s + 1)::uuid, now() - n * interval '1 minute', now() - n * interval '1 minute'
        FROM generate_series(1, %(posts)s) AS n
    """,
    "refresh_token": """
        INSERT INTO refresh_token (id, user_id, family_id, token_hash, created_at, expires_at)
        SELECT md5('token' || n)::uuid, md5('user' || n)::uuid, md5('family' || n)::uuid,
               md5('token' || n) || md5('hash' || n), now(), now() + interval '30 days'
        FROM generate_series(1, %(users)s) AS n
    """,
}


def _load(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            for table, insert in LOAD.items():
                with secondary_indexes_dropped(conn, table):
                    conn.execute(insert, {"users": USERS, "posts": POSTS})
        conn.execute(f"VACUUM (ANALYZE) {', '.join(LOAD)}")


@pytest.fixture(scope="module")
def loaded(worker_id_suffix: str) -> Iterator[tuple[Settings, Engine, str]]:
    """A database at LOADED_AT holding the rows: (settings, engine, its psycopg URL)."""
    settings = make_settings(_postgres_database(f"{DATABASE_PREFIX}_migrations_busy{worker_id_suffix}"))
    engine = build_engine(settings)
    Revisions(settings, engine).commands.upgrade(LOADED_AT)
    url = settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    _load(url)
    yield settings, engine, url
    engine.dispose()


def _report(step: Step, traffic: Traffic) -> str:
    held = traffic.longest_hold(step.kept_tables)
    lock = f"{held.mode} on {held.table} {held.seconds * 1000:.0f} ms ({held.statement[:60]})" if held else "-"
    return (
        f"{step!s:<26} {traffic.statements:>5} queries, slowest {traffic.slowest * 1000:>4.0f} ms"
        f" ({traffic.slowest_statement}), longest lock wait {traffic.longest_wait * 1000:>4.0f} ms; held {lock}"
    )


def test_no_revision_makes_requests_wait_on_a_million_posts(loaded: tuple[Settings, Engine, str]) -> None:
    settings, engine, url = loaded
    revisions = Revisions(settings, engine)
    busy = Busy(url)
    steps: list[tuple[Step, Traffic]] = []
    for revision in revisions.after(LOADED_AT):
        with busy.watching() as traffic:
            step = revisions.upgrade(revision)
        steps.append((step, traffic))
    for revision in reversed(revisions.after(LOADED_AT)):
        with busy.watching() as traffic:
            step = revisions.downgrade(revision)
        steps.append((step, traffic))

    print("\n".join(_report(step, traffic) for step, traffic in steps))  # noqa: T201  (the figures, shown with -s)
    assert all(traffic.statements and traffic.samples and not traffic.errors for _, traffic in steps), [
        traffic.errors for _, traffic in steps
    ]
    too_long = [_report(step, traffic) for step, traffic in steps if _blocked(step, traffic) > BOUND_SECONDS]
    assert not too_long, "\n".join(too_long)


def _blocked(step: Step, traffic: Traffic) -> float:
    """How long the step blocked requests: a probe's longest wait for a lock, or the longest the migration held a
    lock that blocks writes on a table in use (which covers tables no probe touches)."""
    held = traffic.longest_hold(step.kept_tables)
    return max(traffic.longest_wait, held.seconds if held else 0.0)


def test_the_probes_see_a_lock_that_blocks_writes(loaded: tuple[Settings, Engine, str]) -> None:
    """The instrument itself: a SHARE lock on post, which a plain CREATE INDEX holds while it builds."""
    *_, url = loaded
    with Busy(url).watching() as traffic, psycopg.connect(url) as migration:
        migration.execute("LOCK TABLE post IN SHARE MODE")
        time.sleep(2 * BOUND_SECONDS)
        migration.rollback()
    held = traffic.longest_hold(frozenset({"post"}))
    assert held is not None, traffic
    assert (held.mode, held.statement) == ("ShareLock", "LOCK TABLE post IN SHARE MODE")
    assert held.seconds > BOUND_SECONDS
    assert traffic.longest_wait > BOUND_SECONDS
    assert traffic.slowest_statement == "write_post"
