"""The benchmark's database ``inkwell_bench``: created fresh, migrated, seeded, grown to each scaling size."""

from __future__ import annotations

import math
import os
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import psycopg
from advanced_alchemy.alembic.commands import AlembicCommands
from psycopg import sql
from psycopg.rows import TupleRow

from app.auth.account_security import build_users_service
from app.core.database import build_sqlalchemy_config
from app.core.security import PasswordHashing
from app.posts.cli import DEMO_PASSWORD, seed
from app.users.profiles import ProfileService
from app.users.schemas import ProfileUpdate, UserAdminCreate

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from app.core.settings import Settings

__all__ = (
    "BENCH_AVATAR_URL",
    "BENCH_BIO",
    "BENCH_DATABASE",
    "BENCH_EMAIL",
    "BENCH_PASSWORD",
    "Database",
    "secondary_indexes_dropped",
)

# Another name in BENCH_DATABASE lets two checkouts measure on one server without dropping each other's data set.
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "inkwell_bench")
BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = DEMO_PASSWORD
BENCH_BIO = "Writes posts, reads them back."
BENCH_AVATAR_URL = "https://example.com/bench.png"
SEED = 20_260_130  # the same content every run
BENCH_SESSION_LIFETIME = timedelta(days=1)  # longer than any run


@contextmanager
def secondary_indexes_dropped(conn: psycopg.Connection[TupleRow], table: str) -> Iterator[None]:
    """Bulk-load ``table`` without its secondary indexes: they are dropped, then built again from their own
    definitions, which is many times faster than keeping them up to date row by row."""
    conn.execute("SET maintenance_work_mem = '512MB'")
    indexes = conn.execute(
        """
        SELECT i.relname, pg_get_indexdef(x.indexrelid)
        FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid
        WHERE x.indrelid = %s::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = x.indexrelid)
        """,
        (table,),
    ).fetchall()
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    yield
    for _, definition in indexes:
        conn.execute(definition)


class Database:
    """The benchmark database, reached through ``admin_url``'s server; only ``inkwell_bench`` is touched."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.url = f"{admin_url.rsplit('/', 1)[0]}/{BENCH_DATABASE}"

    @property
    def sqlalchemy_url(self) -> str:
        return self.url.replace("postgresql://", "postgresql+psycopg://", 1)

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection[TupleRow]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            yield conn

    def recreate(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')

    def prepare(self, settings: Settings, *, users: int, posts: int) -> uuid.UUID:
        """Migrate to head, seed demo users and posts with the app's ``posts seed``, add the bench user.

        Returns the bench user's id. It has a profile (``GET /users/me`` then carries one, as real
        accounts do) and no posts yet: its own drafts come from :meth:`bench_drafts`, and whatever else
        it writes can be deleted without touching the seed.
        """
        db_config = build_sqlalchemy_config(settings)
        AlembicCommands(sqlalchemy_config=db_config).upgrade("head")
        passwords = PasswordHashing(settings)
        with db_config.get_session() as session:
            seed(session, passwords, users=users, posts=posts, random_seed=SEED)
            service = build_users_service(session, passwords, settings)
            user = service.create_by_admin(
                UserAdminCreate(
                    email=BENCH_EMAIL, password=BENCH_PASSWORD, first_name="Bench", last_name="Mark", is_verified=True
                )
            )
            ProfileService(session=session).replace(user.id, ProfileUpdate(bio=BENCH_BIO, avatar_url=BENCH_AVATAR_URL))
            user_id = user.id
        db_config.get_engine().dispose()
        self.vacuum()
        return user_id

    def open_session(self, settings: Settings, user_id: uuid.UUID) -> uuid.UUID:
        """A session of ``user_id`` for the access tokens the harness signs itself: a login's, without the login."""
        # Imported here, so that this module imports against a checkout from before sessions existed, which
        # tests.benchmark.instructions measures for comparison.
        from app.auth.sessions import SessionService

        db_config = build_sqlalchemy_config(settings)
        with db_config.get_session() as session:
            opened = SessionService(session=session).open(user_id, BENCH_SESSION_LIFETIME)
            session.commit()
        db_config.get_engine().dispose()
        return opened.id

    def post_count(self) -> int:
        with self.connect() as conn:
            row = conn.execute("SELECT count(*) FROM post").fetchone()
        return int(row[0]) if row else 0

    def grow_posts(self, target: int) -> None:
        """Add posts until there are ``target``: copies of the seeded ones, each at a random new date.

        ``posts seed`` writes about 4,000 posts a second, so a million would take minutes; here
        PostgreSQL copies the seeded rows itself (new random ids, same titles and texts, so the same
        words for full-text search) with the secondary indexes dropped, then builds them again from
        their own definitions. Most of the time goes into the full-text GIN index.
        """
        current = self.post_count()
        if target <= current:
            return
        copies = math.ceil((target - current) / current)
        with self.connect() as conn, conn.transaction(), secondary_indexes_dropped(conn, "post"):
            conn.execute(
                """
                INSERT INTO post (id, title, content, is_published, published_at, author_id, created_at, updated_at)
                SELECT gen_random_uuid(), p.title, p.content, p.is_published,
                       CASE WHEN p.is_published THEN t.created + (p.published_at - p.created_at) END,
                       p.author_id, t.created, t.created
                FROM post AS p
                CROSS JOIN LATERAL (
                    SELECT now() - random() * interval '365 days' AS created FROM generate_series(1, %s)
                ) AS t
                LIMIT %s
                """,
                (copies, target - current),
            )
        self.vacuum()

    def vacuum(self) -> None:
        # A freshly loaded table has no visibility map: COUNT(*) would read the heap instead of the index,
        # which no long-lived production table does.
        with self.connect() as conn:
            conn.execute("VACUUM (ANALYZE) post")
            conn.execute("VACUUM (ANALYZE) user_account")

    def published_count(self) -> int:
        with self.connect() as conn:
            row = conn.execute("SELECT count(*) FROM post WHERE is_published").fetchone()
        return int(row[0]) if row else 0

    def sample_published_ids(self, count: int) -> list[uuid.UUID]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT id FROM post TABLESAMPLE BERNOULLI (10) REPEATABLE (1) WHERE is_published LIMIT %s", (count,)
            ).fetchall()
        return [uuid.UUID(str(row[0])) for row in rows]

    def bench_drafts(self, user_id: uuid.UUID, count: int) -> list[uuid.UUID]:
        """Ids of ``count`` drafts by the bench user, for it to edit; those missing are created first.

        Each copies a seeded post's title and text, so an edit answers a body of the usual size. Drafts, so
        that no public listing, count or search reads them.
        """
        with self.connect() as conn:
            conn.execute(
                """
                INSERT INTO post (id, title, content, is_published, published_at, author_id, created_at, updated_at)
                SELECT gen_random_uuid(), p.title, p.content, false, NULL, %(user)s, now(), now()
                FROM post AS p
                WHERE p.author_id <> %(user)s
                ORDER BY p.id
                LIMIT greatest(0, %(count)s - (SELECT count(*) FROM post WHERE author_id = %(user)s))
                """,
                {"user": user_id, "count": count},
            )
            rows = conn.execute(
                "SELECT id FROM post WHERE author_id = %s ORDER BY id LIMIT %s", (user_id, count)
            ).fetchall()
        self.vacuum()
        return [uuid.UUID(str(row[0])) for row in rows]

    def most_published_author(self) -> uuid.UUID:
        """The seeded author with the most published posts: their first page of a listing is a full one."""
        with self.connect() as conn:
            row = conn.execute(
                """
                SELECT author_id FROM post WHERE is_published
                GROUP BY author_id ORDER BY count(*) DESC, author_id LIMIT 1
                """
            ).fetchone()
        if row is None:
            raise RuntimeError("no published posts: the database is not seeded")
        return uuid.UUID(str(row[0]))

    def reset_bench_user(self, user_id: uuid.UUID, keep: Sequence[uuid.UUID], session_id: uuid.UUID) -> None:
        """Undo the write workloads, so every later row reads the data set as prepared: the bench user's posts
        go but ``keep`` (its drafts, which only its edits read), its sessions go but ``session_id`` (the one the
        harness's tokens name), its profile is put back."""
        with self.connect() as conn:
            conn.execute("DELETE FROM post WHERE author_id = %s AND id <> ALL(%s)", (user_id, list(keep)))
            conn.execute("DELETE FROM login_session WHERE user_id = %s AND id <> %s", (user_id, session_id))
            conn.execute(
                "UPDATE profile SET bio = %s, avatar_url = %s WHERE user_id = %s",
                (BENCH_BIO, BENCH_AVATAR_URL, user_id),
            )
        self.vacuum()

    def backend_pids(self) -> list[int]:
        """The server processes of the connections open to the benchmark database."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
                (BENCH_DATABASE,),
            ).fetchall()
        return [int(row[0]) for row in rows]

    def feed_row_at(self, offset: int) -> tuple[datetime, uuid.UUID]:
        """The sort key (``published_at``, ``id``) of the published post ``offset`` rows into the newest-first feed."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT published_at, id FROM post WHERE is_published ORDER BY published_at DESC, id DESC "
                "OFFSET %s LIMIT 1",
                (offset,),
            ).fetchone()
        if row is None:
            raise RuntimeError(f"the feed has no row {offset}: the database is not seeded")
        return row[0], uuid.UUID(str(row[1]))
