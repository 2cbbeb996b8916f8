"""``litestar posts seed``: demo users and posts in bulk, for trying the API and for benchmarks."""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click
from litestar.plugins import CLIPluginProtocol
from rich.progress import Progress
from sqlalchemy import insert
from uuid_utils.compat import uuid7

from app.posts.models import Post
from app.users.models import User

if TYPE_CHECKING:
    from advanced_alchemy.config import SQLAlchemySyncConfig
    from sqlalchemy.orm import Session

    from app.core.security import PasswordHashing

__all__ = ("DEMO_PASSWORD", "PostsCLIPlugin", "seed")

DEMO_PASSWORD = "inkwell-demo"  # noqa: S105  (published demo credentials, not a secret)
SYLLABLES = ("ka", "lo", "mi", "ren", "sa", "tor", "vi", "nel", "qua", "dor", "pen", "ly", "mar", "es", "ink", "wel")
VOCABULARY_SIZE = 4_000


def _vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    """Pseudo-words with Zipf-like frequencies, so full-text search is as selective as on real prose."""
    words = sorted({"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(VOCABULARY_SIZE)})
    rng.shuffle(words)
    return words, list(itertools.accumulate(1 / rank for rank in range(1, len(words) + 1)))


def _sentence(rng: random.Random, vocabulary: tuple[list[str], list[float]], length: int) -> str:
    words, cumulative_weights = vocabulary
    return " ".join(rng.choices(words, cum_weights=cumulative_weights, k=length)).capitalize() + "."


def _seed_users(session: Session, count: int, hashed_password: str, now: datetime) -> list[uuid.UUID]:
    run = uuid.uuid4().hex[:8]
    ids = [uuid7() for _ in range(count)]
    rows = [
        {
            "id": user_id,
            "email": f"demo-{run}-{index}@example.com",
            "hashed_password": hashed_password,
            "first_name": f"Demo{index}",
            "last_name": "Writer",
            "is_active": True,
            "is_superuser": False,
            "is_verified": True,
            "created_at": now,
            "updated_at": now,
        }
        for index, user_id in enumerate(ids)
    ]
    session.execute(insert(User), rows)
    return ids


def _post_rows(
    rng: random.Random,
    vocabulary: tuple[list[str], list[float]],
    authors: list[uuid.UUID],
    count: int,
    published_ratio: float,
) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = []
    for _ in range(count):
        created = now - timedelta(seconds=rng.randrange(365 * 24 * 3600))
        published = rng.random() < published_ratio
        rows.append(
            {
                "id": uuid7(),
                "title": _sentence(rng, vocabulary, rng.randint(3, 8))[:255],
                "content": " ".join(_sentence(rng, vocabulary, rng.randint(6, 16)) for _ in range(rng.randint(3, 12))),
                "is_published": published,
                "published_at": created + timedelta(minutes=rng.randint(0, 600)) if published else None,
                "author_id": rng.choice(authors),
                "created_at": created,
                "updated_at": created,
            }
        )
    return rows


def seed(
    session: Session,
    passwords: PasswordHashing,
    *,
    users: int,
    posts: int,
    published_ratio: float = 0.9,
    batch_size: int = 5_000,
    random_seed: int | None = None,
    progress: Progress | None = None,
) -> list[uuid.UUID]:
    """Insert ``users`` demo users (password :data:`DEMO_PASSWORD`) and ``posts`` posts among them, in batches."""
    rng = random.Random(random_seed)  # noqa: S311  (demo data, not security)
    vocabulary = _vocabulary(rng)
    authors = _seed_users(session, users, passwords.hash(DEMO_PASSWORD), datetime.now(UTC))
    session.commit()
    task = progress.add_task("posts", total=posts) if progress else None
    for start in range(0, posts, batch_size):
        rows = _post_rows(rng, vocabulary, authors, min(batch_size, posts - start), published_ratio)
        session.execute(insert(Post), rows)
        session.commit()
        if progress is not None and task is not None:
            progress.advance(task, len(rows))
    return authors


class PostsCLIPlugin(CLIPluginProtocol):
    """Adds the ``posts`` command group to the Litestar CLI."""

    __slots__ = ("db_config", "passwords")

    def __init__(self, db_config: SQLAlchemySyncConfig, passwords: PasswordHashing) -> None:
        self.db_config = db_config
        self.passwords = passwords

    def on_cli_init(self, cli: click.Group) -> None:
        @cli.group(name="posts")
        def posts_group() -> None:
            """Manage Inkwell posts."""

        @posts_group.command(name="seed")
        @click.option("--users", default=100, show_default=True, type=click.IntRange(min=1))
        @click.option("--posts", "post_count", default=10_000, show_default=True, type=click.IntRange(min=0))
        @click.option("--published-ratio", default=0.9, show_default=True, type=click.FloatRange(0, 1))
        @click.option("--batch-size", default=5_000, show_default=True, type=click.IntRange(min=1))
        @click.option("--seed", "random_seed", default=None, type=int, help="make the content reproducible")
        def seed_command(
            users: int, post_count: int, published_ratio: float, batch_size: int, random_seed: int | None
        ) -> None:
            """Insert demo users (password `inkwell-demo`) and posts spread over the last year."""
            with self.db_config.get_session() as session, Progress() as progress:
                seed(
                    session,
                    self.passwords,
                    users=users,
                    posts=post_count,
                    published_ratio=published_ratio,
                    batch_size=batch_size,
                    random_seed=random_seed,
                    progress=progress,
                )
            click.echo(f"seeded {users} users and {post_count} posts (demo password: {DEMO_PASSWORD})")
