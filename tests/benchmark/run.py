"""``python -m tests.benchmark.run``: Inkwell and the no-framework floor under granian and wrk, one table.

The server is pinned to one core and wrk to another; every cell gets a warm-up and then ``--runs``
measured runs, and the table quotes medians. See the README's "Performance" section.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from app.auth.access_tokens import AccessTokenIssuer
from app.core.cursors import Position, listing_fingerprint, page_cursors
from app.core.settings import Settings, load_settings
from tests.benchmark.dataset import BENCH_AVATAR_URL, BENCH_BIO, BENCH_EMAIL, BENCH_PASSWORD, Database
from tests.benchmark.load import Request, Wrk, WrkError
from tests.benchmark.report import Cell, Context, Run, checks, render_checks, render_table
from tests.benchmark.server import App, Server, ServerError, cpu_seconds, find_importable

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence
    from types import FrameType

__all__ = ("main",)

REPO_ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"
SECRET_KEY = "inkwell-benchmark-secret-key-not-for-production!"  # 48 characters; the server listens on loopback only
LOGIN_CONNECTIONS = 4
# Growth comes with requests served; 4 connections keep every app state answering for the whole soak.
SOAK_CONNECTIONS = 4
SOAK_SAMPLE_SECONDS = 5.0
POST_SAMPLE = 200
PAGE_SIZE = 20
# An ORM write of the values already stored issues no UPDATE: each profile sent differs from the one before it.
PROFILE_VERSIONS = 4
# Long enough for a login or a page at a million posts; a server that needs longer is stuck.
PREFLIGHT_TIMEOUT_SECONDS = 10
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
JSON = "application/json"

ENTRIES = {"asgi": "app.main:app", "wsgi": "app.wsgi:application"}
FLOORS = {"asgi": "tests.benchmark.floor:asgi_app", "wsgi": "tests.benchmark.floor:wsgi_app"}


@dataclass(frozen=True)
class Workload:
    key: str
    label: str
    connections: tuple[int, ...]
    on_floor: bool = False
    writes: bool = False
    during_logins: bool = False


WORKLOADS = {
    w.key: w
    for w in (
        Workload("health", "GET /health", (4, 32), on_floor=True),
        Workload("me", "GET /users/me", (4, 32), on_floor=True),
        Workload("posts", f"GET /posts?page=1&size={PAGE_SIZE}", (4, 32)),
        Workload("post", "GET /posts/{id}", (4, 32), on_floor=True),
        Workload("user-posts", f"GET /users/{{id}}/posts?page=1&size={PAGE_SIZE}", (4, 32)),
        Workload("create", "POST /posts", (4, 32), writes=True),
        Workload("update", "PATCH /posts/{id}", (4, 32), writes=True),
        Workload("profile", "PUT /users/me/profile", (4, 32), writes=True),
        Workload("login", "POST /auth/login", (LOGIN_CONNECTIONS,), writes=True),
        Workload("health-login", f"GET /health while {LOGIN_CONNECTIONS} clients log in", (32,), during_logins=True),
        # Pages by cursor, at 4 connections as the page 1 they are judged against: halfway and at the very end.
        Workload("deep", f"GET /posts?size={PAGE_SIZE}&cursor= (middle)", (4,)),
        Workload("deep-end", f"GET /posts?size={PAGE_SIZE}&cursor= (last page)", (4,)),
    )
}
DEEP_WORKLOADS = ("deep", "deep-end")
SCALING_WORKLOADS = ("posts", *DEEP_WORKLOADS)
# The listing of the feed as its cursors name it: (listing, order, author_id, q), as PostRepository.read_published.
FEED_LISTING = ("posts", "-published_at", None, None)


@dataclass(frozen=True)
class Options:
    duration: float
    warmup: float
    runs: int
    workloads: tuple[str, ...]
    entries: tuple[str, ...]
    workers: tuple[int, ...]
    posts: tuple[int, ...]
    users: int
    soak: float
    timeout: int
    json_path: Path | None
    admin_url: str


class ServerWedgedError(RuntimeError):
    """The request sent before a cell got no answer at all: the previous load left the server stuck."""


@dataclass(frozen=True)
class Defaults:
    duration: float
    warmup: float
    entries: tuple[str, ...]
    workers: tuple[int, ...]
    posts: tuple[int, ...]
    soak: float


FULL = Defaults(5.0, 2.0, ("asgi", "wsgi"), (1, 2), (10_000, 1_000_000), 300.0)
# --quick: a smoke run of a minute or two, for CI; the figures mean little at these durations.
QUICK = Defaults(2.0, 1.0, ("asgi",), (1,), (10_000,), 0.0)


def _strings(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _integers(text: str) -> tuple[int, ...]:
    return tuple(int(item) for item in _strings(text))


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmark.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 s warm-up, 2 s runs, 10k posts, 1 worker, asgi"
    )
    parser.add_argument("--duration", type=float, help=f"seconds of each measured run ({FULL.duration:g})")
    parser.add_argument("--warmup", type=float, help=f"seconds of warm-up before each cell ({FULL.warmup:g})")
    parser.add_argument("--runs", type=int, default=2, help="measured runs per cell; the table shows medians")
    parser.add_argument("--workloads", type=_strings, default=tuple(WORKLOADS), help=",".join(WORKLOADS))
    parser.add_argument("--entries", type=_strings, help="asgi,wsgi")
    parser.add_argument("--workers", type=_integers, help="granian worker counts (1,2)")
    parser.add_argument("--posts", type=_integers, help="data set sizes (10000,1000000); the first carries every row")
    parser.add_argument("--users", type=int, default=100, help="seeded demo users")
    parser.add_argument("--soak", type=float, help=f"seconds of the memory soak, 0 = none ({FULL.soak:g})")
    parser.add_argument("--timeout", type=int, default=2, help="wrk counts a request unanswered after this many s")
    parser.add_argument("--json", type=Path, dest="json_path", help="also write every figure here")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    options = Options(
        duration=defaults.duration if args.duration is None else args.duration,
        warmup=defaults.warmup if args.warmup is None else args.warmup,
        runs=args.runs,
        workloads=args.workloads,
        entries=args.entries or defaults.entries,
        workers=args.workers or defaults.workers,
        posts=args.posts or defaults.posts,
        users=args.users,
        soak=defaults.soak if args.soak is None else args.soak,
        timeout=args.timeout,
        json_path=args.json_path,
        admin_url=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL),
    )
    unknown = [w for w in options.workloads if w not in WORKLOADS] + [e for e in options.entries if e not in ENTRIES]
    if unknown:
        parser.error(f"unknown workload or entry: {', '.join(unknown)}")
    if options.runs < 1 or options.duration < 1:
        parser.error("--runs and --duration must be at least 1")
    return options


def _server_environment(database_url: str) -> tuple[dict[str, str], dict[str, str]]:
    """The server's environment, and its app settings alone; nothing inherited may change either."""
    # Rate limits off: from one client address the login cells would otherwise measure 429s, not logins.
    app_vars = {
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "RATE_LIMITS_ENABLED": "false",
    }
    setting_names = {f.encode_name for f in msgspec.structs.fields(Settings)}
    inherited = {k: v for k, v in os.environ.items() if k not in setting_names and not k.startswith("GRANIAN_")}
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {**inherited, **app_vars, "PYTHONPATH": python_path}, app_vars


def _cores() -> tuple[int | None, int | None]:
    cores = sorted(os.sched_getaffinity(0))
    return (cores[0], cores[1]) if len(cores) >= 2 else (None, None)


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _cpu_by_pid(pids: list[int]) -> dict[int, float]:
    return {pid: cpu_seconds([pid]) for pid in pids}


class Bench:
    def __init__(self, options: Options, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.server_core, self.load_core = _cores()
        self.db = Database(options.admin_url)
        self.env, app_vars = _server_environment(self.db.sqlalchemy_url)
        self.settings = load_settings(app_vars, env_file=None)
        self.tokens = AccessTokenIssuer(self.settings)
        self.wrk = Wrk(self.load_core, workdir, options.timeout)
        self.cells: list[Cell] = []
        self.hash_rates: dict[tuple[str, int], float] = {}
        self.soak_rss_mib: list[float] = []
        self.notes: list[str] = []
        self.failures: list[str] = []
        self.bench_user: uuid.UUID | None = None
        self.bench_session: uuid.UUID | None = None
        self.post_paths: tuple[str, ...] = ()
        self.draft_ids: tuple[uuid.UUID, ...] = ()
        self.user_posts_path = ""
        self.deep_paths: dict[str, str] = {}

    # -- requests --------------------------------------------------------------------------------------

    @property
    def _user(self) -> uuid.UUID:
        if self.bench_user is None:
            raise RuntimeError("the database is not prepared yet")
        return self.bench_user

    @property
    def _session(self) -> uuid.UUID:
        """The bench user's session, which every access token the harness signs names."""
        if self.bench_session is None:
            raise RuntimeError("the database is not prepared yet")
        return self.bench_session

    def _request(self, workload: str) -> Request:
        token = self.tokens.issue(self._user, self._session)  # fresh per cell: a whole run outlives one token
        login_form = urllib.parse.urlencode({"username": BENCH_EMAIL, "password": BENCH_PASSWORD})
        post_body = {"title": "A benchmark post", "content": "Measured, not admired. " * 40, "is_published": True}
        draft_paths = tuple(f"{API}/posts/{i}" for i in self.draft_ids)
        profiles = tuple(
            json.dumps({"bio": f"{BENCH_BIO} Version {n}.", "avatar_url": BENCH_AVATAR_URL})
            for n in range(PROFILE_VERSIONS)
        )
        mixed = (f"{API}/users/me", f"{API}/posts?page=1&size={PAGE_SIZE}", *self.post_paths[:8])
        requests = {
            "health": Request("/health"),
            "health-login": Request("/health"),
            "me": Request(f"{API}/users/me", token=token),
            "posts": Request(f"{API}/posts?page=1&size={PAGE_SIZE}"),
            "deep": Request(self.deep_paths.get("deep", "")),
            "deep-end": Request(self.deep_paths.get("deep-end", "")),
            "post": Request(self.post_paths[0], paths=self.post_paths),
            "user-posts": Request(self.user_posts_path),
            "create": Request(f"{API}/posts", "POST", token, json.dumps(post_body), JSON),
            "update": Request(
                draft_paths[0], "PATCH", token, json.dumps({"title": "A draft, edited"}), JSON, paths=draft_paths
            ),
            "profile": Request(f"{API}/users/me/profile", "PUT", token, profiles[0], JSON, bodies=profiles),
            "login": Request(f"{API}/auth/login", "POST", None, login_form, "application/x-www-form-urlencoded"),
            "soak": Request(mixed[0], token=token, paths=mixed),
        }
        return requests[workload]

    def _feed_cursor(self, offset: int) -> str:
        """The cursor of the feed's page after its row ``offset``, as a ``next`` link carries it: sealed by the app's
        own code under the server's ``SECRET_KEY`` (paging there by ``next`` links would take 25,000 requests)."""
        position = Position(self.db.feed_row_at(offset), backward=False)
        return page_cursors(self.settings.secret_key).seal(listing_fingerprint(FEED_LISTING), position)

    def _deep_paths(self) -> dict[str, str]:
        """The feed's page halfway through it and its last page, by cursor."""
        published = self.db.published_count()
        offsets = {"deep": published // 2, "deep-end": max(0, published - PAGE_SIZE - 1)}
        return {key: f"{API}/posts?size={PAGE_SIZE}&cursor={self._feed_cursor(at)}" for key, at in offsets.items()}

    @staticmethod
    def _preflight(base_url: str, request: Request) -> str | None:
        """Send the cell's request once: an error answer is returned (the harness is wrong, not the load)."""
        headers = {"Authorization": f"Bearer {request.token}"} if request.token else {}
        if request.content_type:
            headers["Content-Type"] = request.content_type
        data = request.body.encode() if request.body is not None else None
        outgoing = urllib.request.Request(base_url + request.path, data, headers, method=request.method)  # noqa: S310
        try:
            with urllib.request.urlopen(outgoing, timeout=PREFLIGHT_TIMEOUT_SECONDS) as response:  # noqa: S310
                response.read()
        except urllib.error.HTTPError as exc:
            return f"{request.method} {request.path} answered {exc.code}: {exc.read()[:200]!r}"
        except (urllib.error.URLError, TimeoutError) as exc:
            raise ServerWedgedError(f"{request.method} {request.path}: no answer ({exc})") from exc
        return None

    # -- measuring ------------------------------------------------------------------------------------

    def _hash_rate(self) -> float:
        command = [sys.executable, "-m", "tests.benchmark.hashrate", str(self.options.duration)]
        if self.server_core is not None:
            command = ["taskset", "-c", str(self.server_core), *command]
        output = subprocess.run(
            command, env=self.env, cwd=self.workdir, capture_output=True, text=True, check=True
        ).stdout
        rate: float = json.loads(output)["rate"]
        return rate

    def _measure(self, server: Server, request: Request, connections: int, workload: Workload) -> Run:
        server.settle()
        logins = None
        if workload.during_logins:
            logins = self.wrk.start(
                server.base_url, self._request("login"), LOGIN_CONNECTIONS, self.options.duration + 2
            )
            time.sleep(1)  # let the hashing start before the measured run does
        db_before = _cpu_by_pid(self.db.backend_pids())
        cpu_before = server.cpu_seconds()
        server.reset_peak_rss()
        result = self.wrk.run(server.base_url, request, connections, self.options.duration)
        cpu = server.cpu_seconds() - cpu_before
        db_cpu = sum(after - db_before.get(pid, 0.0) for pid, after in _cpu_by_pid(self.db.backend_pids()).items())
        peak = server.peak_rss_mib()
        if logins is not None:
            self.wrk.collect(logins, LOGIN_CONNECTIONS)
        server.check_alive()
        # With logins running beside it, the CPU is theirs as much as the probe's: no per-request figure.
        per_request = result.requests and not workload.during_logins
        return Run(
            result=result,
            cpu_us_per_request=cpu / result.requests * 1e6 if per_request else None,
            db_cpu_us_per_request=db_cpu / result.requests * 1e6 if per_request else None,
            peak_rss_mib=peak,
        )

    def _cell(self, server: Server, workload: Workload, connections: int, posts: int) -> None:
        request = self._request(workload.key)
        refused = self._preflight(server.base_url, request)
        label = workload.label
        cell = Cell(workload.key, label, server.app.label, server.workers, connections, posts, error=refused)
        self.cells.append(cell)
        try:
            if workload.key == "login" and not refused:
                self.hash_rates[(server.app.label, server.workers)] = self._hash_rate()
            if not refused:
                self.wrk.run(server.base_url, request, connections, self.options.warmup)
                for _ in range(self.options.runs):
                    run = self._measure(server, request, connections, workload)
                    cell.runs.append(run)
        except (WrkError, ServerError) as exc:
            cell.error = str(exc).splitlines()[0]
            if isinstance(exc, ServerError):
                raise
        finally:
            if workload.writes:
                self.db.reset_bench_user(self._user, keep=self.draft_ids, session_id=self._session)
        outcome = "error: " + cell.error if cell.error else f"{cell.rps or 0:,.0f} req/s"
        _log(f"  {label} c{connections}: {outcome}")

    def _soak(self, server: Server) -> None:
        request = self._request("soak")
        cell = Cell(
            "soak", "mixed GETs (soak)", server.app.label, server.workers, SOAK_CONNECTIONS, self.options.posts[0]
        )
        self.cells.append(cell)
        _log(f"  soak: {self.options.soak:.0f} s of mixed GETs, RSS sampled every {SOAK_SAMPLE_SECONDS:.0f} s")
        self.wrk.run(server.base_url, request, SOAK_CONNECTIONS, self.options.warmup)
        server.settle()
        cpu_before = server.cpu_seconds()
        server.reset_peak_rss()
        process = self.wrk.start(server.base_url, request, SOAK_CONNECTIONS, self.options.soak)
        while process.poll() is None:
            self.soak_rss_mib.append(server.rss_mib())
            time.sleep(SOAK_SAMPLE_SECONDS)
        result = self.wrk.collect(process, SOAK_CONNECTIONS)
        cpu = server.cpu_seconds() - cpu_before
        cell.runs.append(
            Run(result, cpu / result.requests * 1e6 if result.requests else None, None, server.peak_rss_mib())
        )

    def _serve(self, app: App, workers: int, workloads: list[Workload], posts: int, *, soak: bool = False) -> None:
        _log(f"{app.label}, {workers} worker(s), {posts:,} posts")
        server = None
        try:
            server = Server(app, workers, self.server_core, self.env, self.workdir)
            for workload in workloads:
                for connections in workload.connections:
                    try:
                        self._cell(server, workload, connections, posts)
                    except ServerWedgedError as exc:
                        # One stuck cell must not spoil the rest: note it, start afresh, try the cell once more.
                        note = f"{app.label} {workers}w stopped answering before {workload.label} c{connections}: {exc}"
                        self.notes.append(note + "; restarted")
                        _log(note)
                        server.stop()
                        server = Server(app, workers, self.server_core, self.env, self.workdir)
                        self._cell(server, workload, connections, posts)
            if soak:
                self._soak(server)
        except (ServerError, ServerWedgedError, WrkError) as exc:
            self.failures.append(f"{app.label} {workers}w: {str(exc).splitlines()[0]}")
            _log(str(exc))
        finally:
            if server is not None:
                server.stop()

    # -- the run -------------------------------------------------------------------------------------

    def run(self) -> int:
        options = self.options
        started = time.monotonic()
        load_before = os.getloadavg()
        commit = subprocess.run(  # read first: the code measured is the code checked out now
            ["git", "describe", "--always", "--dirty"],  # noqa: S607  (git from PATH, as a developer runs it)
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        small = options.posts[0]
        _log(f"database {self.db.url.rsplit('/', 1)[-1]}: migrating, seeding {options.users} users, {small:,} posts")
        self.db.recreate()
        self.bench_user = self.db.prepare(self.settings, users=options.users, posts=small)
        self.bench_session = self.db.open_session(self.settings, self.bench_user)
        self.post_paths = tuple(f"{API}/posts/{i}" for i in self.db.sample_published_ids(POST_SAMPLE))
        self.draft_ids = tuple(self.db.bench_drafts(self.bench_user, POST_SAMPLE))
        self.user_posts_path = f"{API}/users/{self.db.most_published_author()}/posts?page=1&size={PAGE_SIZE}"
        self.deep_paths = self._deep_paths()

        # A WSGI server's threads are its concurrency: both WSGI servers get as many as the app's pools are sized for.
        threads = {"wsgi": ("--blocking-threads", str(self.settings.web_threads))}
        wanted = [App(f"floor {e}", FLOORS[e], e, threads.get(e, ()), is_floor=True) for e in options.entries]
        wanted += [App(f"inkwell {e}", ENTRIES[e], e, threads.get(e, ())) for e in options.entries]
        apps, skipped = find_importable(wanted, self.env, self.workdir)
        self.notes += skipped
        for line in skipped:
            _log(line)
        inkwell = [app for app in apps if not app.is_floor]
        selected = [WORKLOADS[key] for key in WORKLOADS if key in options.workloads]

        for workers in options.workers:
            for entry in options.entries:
                for app in (a for a in apps if a.interface == entry):
                    workloads = [w for w in selected if w.on_floor or not app.is_floor]
                    first = bool(inkwell) and app == inkwell[0] and workers == options.workers[0]
                    if not first:  # the deep pages are scaling rows: one server is enough
                        workloads = [w for w in workloads if w.key not in DEEP_WORKLOADS]
                    self._serve(app, workers, workloads, small, soak=first and options.soak > 0)

        scaling = [WORKLOADS[key] for key in SCALING_WORKLOADS if key in options.workloads]
        for posts in options.posts[1:]:
            if not (inkwell and scaling):
                break
            _log(f"database: growing to {posts:,} posts")
            grow_started = time.monotonic()
            self.db.grow_posts(posts)
            self.deep_paths = self._deep_paths()
            self.notes.append(f"grew the data set to {posts:,} posts in {time.monotonic() - grow_started:.0f} s")
            self._serve(inkwell[0], options.workers[0], scaling, posts)

        context = Context(
            posts=list(options.posts),
            workers=list(options.workers),
            inkwell_apps=[app.label for app in inkwell],
            hash_rates=self.hash_rates,
            soak_rss_mib=self.soak_rss_mib,
        )
        found = checks(self.cells, context)
        elapsed = time.monotonic() - started
        print(self._header(commit, load_before, elapsed))  # noqa: T201  (the report is the program's output)
        print(render_table(self.cells))  # noqa: T201
        print()  # noqa: T201
        print(render_checks(found))  # noqa: T201
        if options.json_path:
            report = {
                "options": {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(options).items()},
                "hash_rates": {f"{app} {workers}w": rate for (app, workers), rate in self.hash_rates.items()},
                "soak_rss_mib": self.soak_rss_mib,
                "notes": self.notes,
                "failures": self.failures,
                "cells": [dataclasses.asdict(cell) for cell in self.cells],
                "checks": [dataclasses.asdict(check) for check in found],
            }
            options.json_path.write_text(json.dumps(report, indent=2, default=str))
        return 1 if self.failures or any(not cell.ok for cell in self.cells) else 0

    def _header(self, commit: str, load_before: tuple[float, float, float], elapsed: float) -> str:
        options, settings = self.options, self.settings
        rates = ", ".join(f"{rate:.1f}/s" for rate in self.hash_rates.values()) or "not measured"
        pinning = (
            f"server on core {self.server_core}, wrk on core {self.load_core}"
            if self.server_core is not None
            else "NOT pinned (fewer than 2 cores available)"
        )
        lines = [
            f"## Inkwell benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit or 'unknown'}",
            "",
            f"- {pinning}; PostgreSQL unpinned; python {platform.python_version()}, granian {version('granian')}",
            f"- warm-up {options.warmup:g} s, then {options.runs} runs of {options.duration:g} s per cell, medians "
            f"(non-2xx and timeouts summed, peak RSS the largest); wrk timeout {options.timeout} s; "
            f"whole run {elapsed / 60:.1f} min",
            f"- load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} (other work on the machine "
            "moves absolute figures; ratios within the run count)",
            f"- argon2id t={settings.argon2_time_cost} m={settings.argon2_memory_cost_kib} KiB "
            f"p={settings.argon2_parallelism}; bare argon2 rate on the server core: {rates}",
            *(f"- {note}" for note in self.notes),
            *(f"- FAILED: {failure}" for failure in self.failures),
            "",
        ]
        return "\n".join(lines)


def _exit_on_sigterm(signum: int, _: FrameType | None) -> None:
    # SystemExit unwinds through every ``finally``: servers and wrk are stopped, not orphaned.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="inkwell-bench-") as workdir:
        bench = Bench(options, Path(workdir))
        try:
            return bench.run()
        finally:
            bench.wrk.close()


if __name__ == "__main__":
    sys.exit(main())
