"""``python -m tests.benchmark.instructions``: the machine instructions one request costs the app, counted by
valgrind's callgrind, for comparing two versions of a small change.

CPU time per request, as the harness measures it, moves by tens of percent from one server process to the next; an
instruction count does not depend on the machine's load or clock. The app runs in process, driven as an ASGI app
(lifespan included) on a prepared ``inkwell_bench`` database, one request at a time so that thread interleaving
does not change the count. Two runs, of ``N`` and ``2 N`` requests after the same warm-up, differ by exactly ``N``
requests: their difference over ``N`` is the count per request. Only the app's process is counted, not
PostgreSQL's.

Compare versions by running it from each checkout (``PYTHONPATH=<checkout>/src``) on the same prepared database
(``--prepare`` once: the bench user and a session of it, whose access tokens the requests carry).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
from litestar import Litestar

from app.core.settings import Settings, load_settings
from tests.benchmark.dataset import BENCH_EMAIL, Database
from tests.benchmark.run import DEFAULT_ADMIN_URL, _server_environment

__all__ = ("main",)

BENCH_SESSION = """
SELECT u.id, s.id FROM user_account AS u JOIN login_session AS s ON s.user_id = u.id
WHERE u.email = %s AND s.ended_at IS NULL ORDER BY s.created_at DESC LIMIT 1
"""
TOTAL = re.compile(r"Collected : (\d+)")


async def _serve(app: Litestar, path: str, token: str, warmup: int, requests: int) -> None:
    """Run the lifespan, ``warmup`` then ``requests`` GETs of ``path`` with ``token``, one at a time."""
    startup: asyncio.Queue[Any] = asyncio.Queue()
    sent: asyncio.Queue[Any] = asyncio.Queue()

    # ASGI messages are plain dicts here; Litestar types each kind of them.
    async def lifespan_receive() -> Any:
        return await startup.get()

    async def lifespan_send(message: Any) -> None:
        await sent.put(message)

    await startup.put({"type": "lifespan.startup"})
    lifespan_scope: Any = {"type": "lifespan", "asgi": {"version": "3.0"}}
    lifespan = asyncio.create_task(app(lifespan_scope, lifespan_receive, lifespan_send))
    if (await sent.get())["type"] != "lifespan.startup.complete":
        raise SystemExit("the app did not start")
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
    statuses: list[int] = []
    route, _, query = path.partition("?")

    async def request() -> None:
        scope: Any = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": route, "raw_path": route.encode(), "query_string": query.encode(), "root_path": "",
            "headers": headers, "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000), "state": {},
        }  # fmt: skip
        body = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> Any:
            return body.pop() if body else {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)

    for _ in range(warmup + requests):
        await request()
    if set(statuses) != {200}:
        raise SystemExit(f"{path} answered {sorted(set(statuses))}, not only 200")
    await startup.put({"type": "lifespan.shutdown"})
    await lifespan


def _bench_session(database: Database) -> tuple[uuid.UUID, uuid.UUID]:
    with database.connect() as conn:
        row = conn.execute(BENCH_SESSION, (BENCH_EMAIL,)).fetchone()
    if row is None:
        raise SystemExit("no prepared database: run once with --prepare")
    return row[0], row[1]


def _drive(options: argparse.Namespace, database: Database) -> None:
    """The child: build the app from the environment and serve the requests."""
    from app.main import app

    user_id, session_id = _bench_session(database)
    now = int(time.time())
    # Signed here rather than by the app's issuer, so that a checkout from before sessions reads it too (its token
    # class keeps the claim it does not know as an extra).
    claims = {"sub": str(user_id), "exp": now + 3600, "iat": now, "jti": uuid.uuid4().hex, "type": "access"}
    token = jwt.encode(claims | {"sid": str(session_id)}, load_settings(env_file=None).secret_key, algorithm="HS256")
    asyncio.run(_serve(app, options.path, token, options.warmup, options.requests))


def _count(options: argparse.Namespace, requests: int, env: dict[str, str], workdir: Path) -> int:
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir / f'callgrind.{requests}'}",
        sys.executable, "-m", "tests.benchmark.instructions", "--drive", "--path", options.path,
        "--warmup", str(options.warmup), "--requests", str(requests),
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=workdir)
    found = TOTAL.search(result.stderr)
    if result.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run failed:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmark.instructions", description=__doc__)
    parser.add_argument(
        "--path", default="/api/v1/users/me", help="the GET to count, query string included (/api/v1/users/me)"
    )
    parser.add_argument("--requests", type=int, default=300, help="N: the runs serve N and 2 N requests (300)")
    parser.add_argument("--warmup", type=int, default=100, help="requests before the counted ones (100)")
    parser.add_argument("--prepare", action="store_true", help="recreate and seed inkwell_bench first")
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    database = Database(os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL))
    if options.drive:
        _drive(options, database)
        return 0
    env, app_vars = _server_environment(database.sqlalchemy_url)
    if options.prepare:
        settings: Settings = load_settings(app_vars, env_file=None)
        database.recreate()
        user_id = database.prepare(settings, users=10, posts=200)
        database.open_session(settings, user_id)
    _bench_session(database)
    with tempfile.TemporaryDirectory(prefix="inkwell-instructions-") as directory:
        workdir = Path(directory)
        single, double = (_count(options, n, env, workdir) for n in (options.requests, 2 * options.requests))
    per_request = (double - single) / options.requests
    sys.stdout.write(f"GET {options.path}: {per_request:,.0f} instructions per request ({options.requests} requests)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
