"""``python -m tests.benchmark.mixed_load``: reads, writes and logins at once, then errors and memory over time.

One Inkwell web process (ASGI, pinned to one core) on PostgreSQL with seeded posts; three wrk processes on the
other core share the connections: mixed GETs (the user, the feed, single posts), post creation and logins.
It prints each stream's requests, non-2xx answers, timeouts and socket errors, and the server's RSS sampled
every few seconds, with the values at 10 s and at the end. A benchmark script, not a timed test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from app.auth.access_tokens import AccessTokenIssuer
from app.core.settings import load_settings
from tests.benchmark.dataset import BENCH_EMAIL, BENCH_PASSWORD, Database
from tests.benchmark.load import Request, Wrk
from tests.benchmark.run import API, DEFAULT_ADMIN_URL, ENTRIES, _cores, _server_environment
from tests.benchmark.server import App, Server

__all__ = ("main",)

SAMPLE_SECONDS = 5.0
LOGIN_CONNECTIONS = 4
WRITE_SHARE = 0.25


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _streams(token: str, post_paths: tuple[str, ...], connections: int) -> dict[str, tuple[Request, int]]:
    login_form = urllib.parse.urlencode({"username": BENCH_EMAIL, "password": BENCH_PASSWORD})
    post_body = json.dumps({"title": "Under load", "content": "Written while others read. " * 30})
    reads = (f"{API}/users/me", f"{API}/posts?page=1&size=20", *post_paths)
    writes = max(1, round((connections - LOGIN_CONNECTIONS) * WRITE_SHARE))
    return {
        "reads": (Request(reads[0], token=token, paths=reads), connections - LOGIN_CONNECTIONS - writes),
        "writes": (Request(f"{API}/posts", "POST", token, post_body, "application/json"), writes),
        "logins": (
            Request(f"{API}/auth/login", "POST", None, login_form, "application/x-www-form-urlencoded"),
            LOGIN_CONNECTIONS,
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmark.mixed_load", description=__doc__)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    parser.add_argument("--connections", type=int, default=64, help="connections in all (64)")
    parser.add_argument("--posts", type=int, default=10_000, help="seeded posts (10,000)")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL URL to create the database")
    args = parser.parse_args(argv)

    server_core, load_core = _cores()
    database = Database(args.admin_url)
    env, app_vars = _server_environment(database.sqlalchemy_url)
    settings = load_settings(app_vars, env_file=None)
    database.recreate()
    user_id = database.prepare(settings, users=100, posts=args.posts)
    post_paths = tuple(f"{API}/posts/{i}" for i in database.sample_published_ids(50))
    token = AccessTokenIssuer(settings).issue(user_id, database.open_session(settings, user_id))

    with tempfile.TemporaryDirectory(prefix="inkwell-load-") as workdir:
        wrk = Wrk(load_core, Path(workdir), timeout_seconds=5)
        server = Server(App("inkwell asgi", ENTRIES["asgi"], "asgi"), 1, server_core, env, Path(workdir))
        try:
            started = time.monotonic()
            running = {
                name: (wrk.start(server.base_url, request, count, args.duration), count)
                for name, (request, count) in _streams(token, post_paths, args.connections).items()
            }
            samples: list[tuple[float, float]] = []
            while any(process.poll() is None for process, _ in running.values()):
                samples.append((time.monotonic() - started, server.rss_mib()))
                time.sleep(SAMPLE_SECONDS)
            results = {name: wrk.collect(process, count) for name, (process, count) in running.items()}
        finally:
            wrk.close()
            server.stop()

    errors = 0
    _out(f"{args.connections} connections for {args.duration:g} s, 1 ASGI worker, {args.posts:,} posts")
    _out("| stream | connections | requests | req/s | non-2xx | timeouts | socket errors |")
    _out("|---|---|---|---|---|---|---|")
    for name, result in results.items():
        errors += result.non_2xx + result.timeouts + result.socket_errors
        count = running[name][1]
        _out(
            f"| {name} | {count} | {result.requests:,} | {result.rps:,.0f} | {result.non_2xx} | "
            f"{result.timeouts} | {result.socket_errors} |"
        )
    at_10s = next((rss for seconds, rss in samples if seconds >= 10), samples[-1][1])
    _out(f"errors in all: {errors}")
    _out(f"RSS: {at_10s:.1f} MiB at 10 s, {samples[-1][1]:.1f} MiB at {samples[-1][0]:.0f} s")
    _out("RSS samples (s, MiB): " + ", ".join(f"{s:.0f}:{rss:.1f}" for s, rss in samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
