"""``python -m tests.benchmark.soak``: the Procfile's processes under a mixed load while parts of them fail.

It creates the PostgreSQL database ``inkwell_soak`` (``SOAK_DATABASE`` names another; dropped at the end) on the
server of ``BENCH_POSTGRES_URL``, starts a Redis server of its own on a free port and an SMTP server in this
process, runs ``release``, then ``web`` (two granian workers), ``worker`` and ``beat`` as a platform does. Client
threads register, sign in, rotate refresh tokens, read and write posts for ``--duration`` seconds while a schedule
drawn from ``--seed`` kills a granian worker, the Celery worker's dyno as it sends an email, beat, Redis, and the
database's connections. After a drain it checks the books and prints the report; it exits 1 when a check fails.
See the README's "Chaos soak".
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psycopg

from tests.benchmark.run import DEFAULT_ADMIN_URL
from tests.benchmark.soak_books import (
    RECOVERY_MARGIN_SECONDS,
    Check,
    answer_checks,
    email_checks,
    family_checks,
    idempotency_checks,
    in_window,
    rss_check,
)
from tests.benchmark.soak_chaos import Chaos, Fault, Platform, RedisServer, children, schedule
from tests.benchmark.soak_clients import Answer, Client, Shared
from tests.mail import SMTPServer
from tests.procfile import dyno_env, run_to_completion, stop_all, wait_for
from tests.servers import REPO_ROOT, free_port

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("main",)

SOAK_DATABASE = os.environ.get("SOAK_DATABASE", "inkwell_soak")
SECRET_KEY = "inkwell-soak-secret-key-not-for-production-0123"
# The outbox settles in seconds: beat relays every 2 s the rows still pending 5 s after their last attempt, and a
# failed send is retried after 1 s, doubling up to 5 s.
FAST_OUTBOX = {
    "OUTBOX_RELAY_INTERVAL_SECONDS": "2",
    "OUTBOX_RELAY_AFTER_SECONDS": "5",
    "EMAIL_RETRY_BACKOFF_SECONDS": "1",
    "EMAIL_RETRY_BACKOFF_MAX_SECONDS": "5",
}
# A row is stuck when still pending this long after it was written (relay interval + grace, plus a retry's wait).
STUCK_AFTER_SECONDS = 2 + 5 + 5 + 30
# The mail server holds each reply this long, so that a send is under way long enough to kill the worker in it.
SMTP_REPLY_DELAY_SECONDS = 0.1
RSS_SAMPLE_SECONDS = 5.0
CLIENT_JOIN_SECONDS = 30.0


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def _drop_database(admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{SOAK_DATABASE}" WITH (FORCE)')


def _create_database(admin_url: str) -> str:
    _drop_database(admin_url)  # what an interrupted run left
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{SOAK_DATABASE}"')
    return f"{admin_url.rsplit('/', 1)[0]}/{SOAK_DATABASE}"


def _rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


class Sampler(threading.Thread):
    """The RSS of each dyno (its main process and their children) every few seconds."""

    def __init__(self, platform: Platform, shared: Shared) -> None:
        super().__init__(name="soak-rss", daemon=True)
        self.platform, self.shared = platform, shared
        self.samples: dict[str, list[tuple[float, float]]] = {"web": [], "worker": []}

    def run(self) -> None:
        while time.monotonic() < self.shared.deadline:
            at = time.monotonic() - self.shared.started
            for name, samples in self.samples.items():
                main = self.platform.processes[name].popen.pid
                samples.append((at, _rss_mib([main, *children(main)])))
            time.sleep(RSS_SAMPLE_SECONDS)


def _drain(database_url: str, timeout: float) -> float:
    """Wait until no outbox row is pending; return how long that took."""
    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as conn:

        def settled() -> bool:
            row = conn.execute("SELECT count(*) FROM email_outbox WHERE status = 'pending'").fetchone()
            return bool(row and row[0] == 0)

        wait_for(settled, "the outbox drained", timeout=timeout)
    return time.monotonic() - started


def _fault_table(faults: list[Fault], answers: list[Answer]) -> list[str]:
    lines = [
        f"| # | fault | window (s from start; end + {RECOVERY_MARGIN_SECONDS:g} s margin) | what happened "
        "| answers in the window | by status | transport errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, fault in enumerate(faults, 1):
        seen = [a for a in answers if in_window(a.at, [fault]) is fault]
        statuses = Counter(a.status for a in seen if a.status is not None)
        errors = Counter(a.error for a in seen if a.status is None)
        by_status = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
        if fault.start is None or fault.end is None:
            lines.append(f"| {number} | {fault.kind} | - | {fault.detail} | | | |")
            continue
        lines.append(
            f"| {number} | {fault.kind} | {fault.start:.1f} to {fault.end:.1f} (+{RECOVERY_MARGIN_SECONDS:g}) "
            f"| {fault.detail} | {len(seen)} | {by_status} | "
            + (", ".join(f"{name}: {count}" for name, count in errors.items()) or "0")
            + " |"
        )
    return lines


def _route_table(answers: list[Answer]) -> list[str]:
    lines = [
        "| route | answers | 2xx | 401 | 409 | 503 | 500 | transport errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for route in sorted({a.route for a in answers}):
        mine = [a for a in answers if a.route == route]
        count = Counter(a.status for a in mine)
        ok = sum(n for status, n in count.items() if status is not None and 200 <= status < 300)
        lines.append(
            f"| {route} | {len(mine)} | {ok} | {count[401]} | {count[409]} | {count[503]} | {count[500]} "
            f"| {count[None]} |"
        )
    return lines


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmark.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load and faults (600)")
    parser.add_argument("--seed", type=int, default=18, help="draws the faults' order and times (18)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (4)")
    parser.add_argument("--drain", type=float, default=120.0, help="at most this many s for the outbox to settle")
    options = parser.parse_args(argv)
    if options.duration < 30 or options.clients < 1:
        parser.error("--duration must be at least 30 and --clients at least 1")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    redis_binary = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/sbin")
    if redis_binary is None:
        _log("redis-server is not installed (Debian: apt-get install redis-server)")
        return 2
    admin_url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)
    database_url = _create_database(admin_url)
    smtp = SMTPServer()
    smtp.mailbox.delay = SMTP_REPLY_DELAY_SECONDS
    smtp.start()
    with tempfile.TemporaryDirectory(prefix="inkwell-soak-") as tmp:
        workdir = Path(tmp)
        redis_server = RedisServer(redis_binary, free_port(), workdir)
        redis_server.start()
        port = free_port()
        env = dyno_env(
            PORT=str(port),
            DATABASE_URL=database_url.replace("postgresql://", "postgres://", 1),
            REDIS_URL=redis_server.url,
            SECRET_KEY=SECRET_KEY,
            SMTP_URL=smtp.url,
            PROMETHEUS_MULTIPROC_DIR=str(workdir / "prometheus"),
            # One client address makes every request: the per-address limits would answer 429, not the app.
            RATE_LIMITS_ENABLED="false",
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            **FAST_OUTBOX,
        )
        try:
            return _soak(options, env, workdir, database_url, redis_server, smtp, port)
        finally:
            redis_server.kill()
            smtp.stop()
            _drop_database(admin_url)


def _soak(
    options: argparse.Namespace,
    env: dict[str, str],
    workdir: Path,
    database_url: str,
    redis_server: RedisServer,
    smtp: SMTPServer,
    port: int,
) -> int:
    platform = Platform(env, workdir, time.monotonic())
    _log("release…")
    run_to_completion("release", platform.commands["release"], env, workdir)
    for name in ("web", "worker", "beat"):
        platform.start(name)
    faults = schedule(options.duration, options.seed)
    chaos: Chaos | None = None
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base_url}/health", timeout=2).status_code == 200, "web answers")
        platform.processes["worker"].wait_for_line(" ready.")
        _log(f"load for {options.duration:g} s, {len(faults)} faults…")
        load_started = time.monotonic()
        platform.started = load_started
        shared = Shared(started=load_started, deadline=load_started + options.duration)
        clients = [Client(i, base_url, shared, options.seed) for i in range(options.clients)]
        chaos = Chaos(
            faults,
            platform,
            redis_server,
            smtp.mailbox,
            database_url,
            options.seed,
            margin=RECOVERY_MARGIN_SECONDS,
            latest_start=options.duration - 2 * RECOVERY_MARGIN_SECONDS,
        )
        sampler = Sampler(platform, shared)
        for thread in (*clients, chaos, sampler):
            thread.start()
        for client in clients:
            client.join(options.duration + CLIENT_JOIN_SECONDS)
        sampler.join(RSS_SAMPLE_SECONDS * 2)
        _log("drain…")
        drained_in = _drain(database_url, options.drain)
        chaos.stop.set()
        chaos.join(60)
        if chaos.error is not None:
            raise chaos.error
        checks = [
            *email_checks(database_url, list(smtp.mailbox.messages), STUCK_AFTER_SECONDS),
            *family_checks(database_url),
            *idempotency_checks(database_url),
            *answer_checks(shared.answers, faults),
            *(rss_check(name, samples, options.duration) for name, samples in sampler.samples.items()),
        ]
    except BaseException:
        for process in platform.all():
            _log(f"----- {process.name} (last lines) -----\n" + "\n".join(process.lines[-30:]))
        raise
    finally:
        if chaos is not None:
            chaos.stop.set()
        stop_all(platform.all())
    _report(options, shared, faults, checks, platform, sampler, drained_in, sum(c.registered for c in clients))
    return 0 if all(check.ok is not False for check in checks) else 1


def _report(
    options: argparse.Namespace,
    shared: Shared,
    faults: list[Fault],
    checks: list[Check],
    platform: Platform,
    sampler: Sampler,
    drained_in: float,
    registered: int,
) -> None:
    answers = shared.answers
    _out(
        f"soak: {options.duration:g} s, {options.clients} clients, seed {options.seed}, "
        f"{len(answers):,} answers ({len(answers) / options.duration:.0f}/s), {registered} registrations, "
        f"outbox drained {drained_in:.1f} s after the load"
    )
    _out()
    _out("\n".join(_fault_table(faults, answers)))
    _out()
    _out("\n".join(_route_table(answers)))
    _out()
    if platform.unplanned_exits:
        _out("processes that exited on their own (started again): " + "; ".join(platform.unplanned_exits))
        _out()
    for name, samples in sampler.samples.items():
        mib = [value for _, value in samples]
        if mib:
            _out(f"{name} RSS (all its processes): median {statistics.median(mib):.0f} MiB, max {max(mib):.0f} MiB")
    _out()
    _out("| check | measured | result |")
    _out("|---|---|---|")
    for check in checks:
        result = "reported" if check.ok is None else ("PASS" if check.ok else "FAIL")
        _out(f"| {check.name} | {check.measured} | {result} |")


if __name__ == "__main__":
    sys.exit(main())
