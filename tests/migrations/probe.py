"""A busy site's queries, run beside a migration: how long they took and waited, and which locks that block
them the migration held (sampled from pg_locks)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg.rows import TupleRow

__all__ = ("BLOCKING_MODES", "Busy", "Held", "Traffic")

PROBE = "inkwell-migration-probe"  # the probes' application_name: the sampler tells them from the migration by it
# The lock modes that make INSERT, UPDATE and DELETE wait; the last one makes SELECT wait too.
BLOCKING_MODES = ("ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")
PAUSE_SECONDS = 0.02  # between a probe's statements
SAMPLE_SECONDS = 0.01  # between two looks at pg_locks


@dataclass(frozen=True)
class Held:
    """A lock that blocks writes, held by the migration on one table: for how long (to the sampling's 10 ms), and
    what the migration was running when the lock was first seen."""

    table: str
    mode: str
    seconds: float
    statement: str


@dataclass
class Traffic:
    """What the probes met while one migration step ran."""

    statements: int = 0
    samples: int = 0  # looks at pg_locks
    slowest: float = 0.0
    slowest_statement: str = ""
    longest_wait: float = 0.0  # a probe's longest wait for a lock, sampled
    held: list[Held] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def longest_hold(self, tables: frozenset[str]) -> Held | None:
        return max((held for held in self.held if held.table in tables), key=lambda held: held.seconds, default=None)


@dataclass
class _Spans:
    """Keys seen in consecutive samples: how long each was seen in one stretch, the longest stretch kept."""

    open: dict[tuple[str, ...], tuple[float, str]] = field(default_factory=dict)
    longest: dict[tuple[str, ...], tuple[float, str]] = field(default_factory=dict)

    def seen(self, now: float, current: dict[tuple[str, ...], str]) -> None:
        for key in list(self.open):
            if key not in current:
                self._close(key, now)
        for key, detail in current.items():
            self.open.setdefault(key, (now, detail))

    def close(self, now: float) -> None:
        for key in list(self.open):
            self._close(key, now)

    def _close(self, key: tuple[str, ...], now: float) -> None:
        since, detail = self.open.pop(key)
        seconds = now - since
        if seconds > self.longest.get(key, (0.0, ""))[0]:
            self.longest[key] = (seconds, detail)


class Busy:
    """Reads and writes of ``post`` and ``user_account`` by rows that ``url``'s database holds, as requests would
    make them: each statement its own transaction, on connections of their own."""

    def __init__(self, url: str) -> None:
        self.url = url
        with psycopg.connect(url, autocommit=True) as conn:
            self.posts = [row[0] for row in conn.execute("SELECT id FROM post TABLESAMPLE SYSTEM (1) LIMIT 2000")]
            self.users = [row[0] for row in conn.execute("SELECT id FROM user_account LIMIT 2000")]

    def _statements(self) -> list[Callable[[psycopg.Connection[TupleRow]], object]]:
        def read_post(conn: psycopg.Connection[TupleRow]) -> object:
            return conn.execute("SELECT title FROM post WHERE id = %s", (random.choice(self.posts),)).fetchone()

        def write_post(conn: psycopg.Connection[TupleRow]) -> object:
            conn.execute(
                "INSERT INTO post (id, title, content, is_published, author_id, created_at, updated_at)"
                " VALUES (%s, 'Probe', 'Written during a migration', false, %s, now(), now())",
                (uuid.uuid4(), random.choice(self.users)),
            )
            return conn.execute("UPDATE post SET updated_at = now() WHERE id = %s", (random.choice(self.posts),))

        def read_user(conn: psycopg.Connection[TupleRow]) -> object:
            return conn.execute("SELECT email FROM user_account WHERE id = %s", (random.choice(self.users),)).fetchone()

        def write_user(conn: psycopg.Connection[TupleRow]) -> object:
            conn.execute(
                "INSERT INTO user_account (id, email, hashed_password, is_active, is_superuser, is_verified,"
                " created_at, updated_at) VALUES (%s, %s, 'x', true, false, false, now(), now())",
                (new := uuid.uuid4(), f"probe-{new}@example.com"),
            )
            return conn.execute(
                "UPDATE user_account SET updated_at = now() WHERE id = %s", (random.choice(self.users),)
            )

        return [read_post, write_post, read_user, write_user]

    @contextmanager
    def watching(self) -> Iterator[Traffic]:
        """Run the probes and the sampler for the duration of the block; ``Traffic`` is filled in when it ends."""
        traffic, stop, lock = Traffic(), threading.Event(), threading.Lock()

        def probe(statement: Callable[[psycopg.Connection[TupleRow]], object]) -> None:
            with psycopg.connect(self.url, autocommit=True, application_name=PROBE) as conn:
                while not stop.is_set():
                    started = time.perf_counter()
                    try:
                        statement(conn)
                    except psycopg.Error as exc:
                        with lock:
                            traffic.errors.append(f"{statement.__name__}: {exc}")
                    took = time.perf_counter() - started
                    with lock:
                        traffic.statements += 1
                        if took > traffic.slowest:
                            traffic.slowest, traffic.slowest_statement = took, statement.__name__
                    time.sleep(PAUSE_SECONDS)

        holds, waits = _Spans(), _Spans()

        def sample() -> None:
            with psycopg.connect(self.url, autocommit=True, application_name=PROBE) as conn:
                while not stop.is_set():
                    try:
                        look(conn)
                    except psycopg.Error as exc:
                        with lock:
                            traffic.errors.append(f"sampler: {exc}")
                    time.sleep(SAMPLE_SECONDS)
                holds.close(time.perf_counter())
                waits.close(time.perf_counter())

        def look(conn: psycopg.Connection[TupleRow]) -> None:
            now = time.perf_counter()
            rows = conn.execute(
                """
                SELECT l.relation::regclass::text, l.mode, a.query
                FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid
                WHERE l.locktype = 'relation' AND l.granted AND l.mode = ANY(%s)
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND a.application_name <> %s
                """,
                (list(BLOCKING_MODES), PROBE),
            ).fetchall()
            holds.seen(now, {(table, mode): query for table, mode, query in rows})
            waiting = conn.execute(
                "SELECT pid::text, query FROM pg_stat_activity"
                " WHERE application_name = %s AND wait_event_type = 'Lock'",
                (PROBE,),
            ).fetchall()
            waits.seen(now, {(pid,): query for pid, query in waiting})
            traffic.samples += 1

        threads = [threading.Thread(target=probe, args=(statement,)) for statement in self._statements()]
        threads.append(threading.Thread(target=sample))
        for thread in threads:
            thread.start()
        time.sleep(0.2)  # every probe connected and running before the migration starts
        try:
            yield traffic
            time.sleep(0.2)  # a probe the migration's last lock held up is counted too
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        traffic.held = [
            Held(table, mode, seconds, " ".join(query.split()))
            for (table, mode), (seconds, query) in holds.longest.items()
        ]
        traffic.longest_wait = max((seconds for seconds, _ in waits.longest.values()), default=0.0)
