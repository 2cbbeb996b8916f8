"""Cells (one workload on one server, several measured runs), the table, and the targets checked against them."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.benchmark.load import WrkResult

__all__ = ("Cell", "Check", "Run", "checks", "render_checks", "render_table")


@dataclass(frozen=True)
class Run:
    """One measured wrk run and what the server (and the database's backends) spent on it."""

    result: WrkResult
    cpu_us_per_request: float | None
    db_cpu_us_per_request: float | None
    peak_rss_mib: float


@dataclass
class Cell:
    workload: str
    label: str
    app: str
    workers: int
    connections: int
    posts: int
    runs: list[Run] = field(default_factory=list)
    error: str | None = None

    def _median(self, value: Callable[[Run], float | None]) -> float | None:
        values = [v for run in self.runs if (v := value(run)) is not None]
        return statistics.median(values) if values else None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.runs)

    @property
    def rps(self) -> float | None:
        return self._median(lambda run: run.result.rps)

    @property
    def p50_ms(self) -> float | None:
        return self._median(lambda run: run.result.p50_ms)

    @property
    def p99_ms(self) -> float | None:
        return self._median(lambda run: run.result.p99_ms)

    @property
    def cpu_us(self) -> float | None:
        return self._median(lambda run: run.cpu_us_per_request)

    @property
    def db_cpu_us(self) -> float | None:
        return self._median(lambda run: run.db_cpu_us_per_request)

    @property
    def non_2xx(self) -> int:
        """Summed over the runs (a median would hide a bad run), socket errors included."""
        return sum(run.result.non_2xx + run.result.socket_errors for run in self.runs)

    @property
    def timeouts(self) -> int:
        return sum(run.result.timeouts for run in self.runs)

    @property
    def peak_rss_mib(self) -> float | None:
        return max((run.peak_rss_mib for run in self.runs), default=None)


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _rate(value: float | None) -> str:
    """Rates below 100 keep a decimal: a login rate of 4.6/s is not 5/s."""
    return _number(value, 1 if value is not None and value < 100 else 0)


TABLE_HEADER = (
    "| workload | server | workers | conns | posts | req/s | p50 ms | p99 ms | non-2xx | timeouts "
    "| CPU µs/req | DB CPU µs/req | peak RSS MiB |"
)


def render_table(cells: list[Cell]) -> str:
    lines = [TABLE_HEADER, "|" + "---|" * TABLE_HEADER.count(" | ") + "---|"]
    for cell in cells:
        prefix = f"| {cell.label} | {cell.app} | {cell.workers} | {cell.connections} | {cell.posts:,} |"
        if not cell.ok:
            lines.append(f"{prefix} error: {cell.error} |" + " |" * 7)
            continue
        lines.append(
            f"{prefix} {_rate(cell.rps)} | {_number(cell.p50_ms, 1)} | {_number(cell.p99_ms, 1)} "
            f"| {cell.non_2xx} | {cell.timeouts} | {_number(cell.cpu_us)} | {_number(cell.db_cpu_us)} "
            f"| {_number(cell.peak_rss_mib)} |"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class Check:
    """One target: ``ok`` is None when a figure it needs was not measured, or when it is reported with no limit."""

    target: str
    measured: str
    limit: str
    ok: bool | None


def _find(cells: list[Cell], workload: str, app: str, workers: int, connections: int, posts: int) -> Cell | None:
    for cell in cells:
        if (cell.workload, cell.app, cell.workers, cell.connections, cell.posts) == (
            workload,
            app,
            workers,
            connections,
            posts,
        ) and cell.ok:
            return cell
    return None


def _ratio_check(
    target: str, numerator: float | None, denominator: float | None, limit: float | None, *, at_most: bool
) -> Check:
    """``numerator / denominator`` against ``limit``; with no limit, the ratio is reported, not judged."""
    limit_text = "none (reported)" if limit is None else f"{'≤' if at_most else '≥'} {limit:.0%}"
    if numerator is None or not denominator:
        return Check(target, "not measured", limit_text, None)
    ratio = numerator / denominator
    ok = None if limit is None else (ratio <= limit if at_most else ratio >= limit)
    return Check(target, f"{_rate(numerator)} / {_rate(denominator)} = {ratio:.0%}", limit_text, ok)


@dataclass(frozen=True)
class Context:
    """What the checks need beyond the cells."""

    posts: list[int]
    workers: list[int]
    inkwell_apps: list[str]
    hash_rates: dict[tuple[str, int], float]
    soak_rss_mib: list[float]


# The issue's conditions: its CPU ratios and the WSGI entry's share are judged at 1 worker and 32 connections.
ISSUE_WORKERS, ISSUE_CONNECTIONS = 1, 32
# Each workload's CPU per request at most this multiple of GET /users/me's, on the same server.
CPU_VS_ME = {
    "post": ("GET /posts/{id}", 1.3),
    "posts": ("GET /posts", 1.5),
    "create": ("POST /posts", 2.5),
    "update": ("PATCH /posts/{id}", 2.5),
    "user-posts": ("GET /users/{id}/posts", 2.5),
    "profile": ("PUT /users/me/profile", 2.5),
}
PEAK_RSS_LIMIT_MIB = 100


def _floor_of(app: str) -> str:
    return app.replace("inkwell", "floor")


def _issue_cpu(cells: list[Cell], workload: str, app: str, posts: int) -> float | None:
    cell = _find(cells, workload, app, ISSUE_WORKERS, ISSUE_CONNECTIONS, posts)
    return cell.cpu_us if cell else None


def _issue_checks(cells: list[Cell], ctx: Context, app: str) -> list[Check]:
    """The issue's CPU targets for one Inkwell server: against the floor, and against ``GET /users/me``."""
    small, floor = ctx.posts[0], _floor_of(app)
    where = f"[{app}, {ISSUE_WORKERS}w] c{ISSUE_CONNECTIONS}"
    me = _issue_cpu(cells, "me", app, small)
    out = [
        _ratio_check(
            f"GET /users/me CPU/req vs floor {where}", me, _issue_cpu(cells, "me", floor, small), 1.4, at_most=True
        ),
        _ratio_check(
            f"GET /posts/{{id}} CPU/req vs floor {where}",
            _issue_cpu(cells, "post", app, small),
            _issue_cpu(cells, "post", floor, small),
            None,
            at_most=True,
        ),
    ]
    for workload, (label, limit) in CPU_VS_ME.items():
        numerator = _issue_cpu(cells, workload, app, small)
        out.append(_ratio_check(f"{label} CPU/req vs GET /users/me {where}", numerator, me, limit, at_most=True))
    return out


def _inkwell_checks(cells: list[Cell], ctx: Context, app: str, workers: int) -> list[Check]:
    small = ctx.posts[0]
    floor = _floor_of(app)
    where = f"[{app}, {workers}w]"
    out: list[Check] = []
    for conns in (4, 32):
        me = _find(cells, "me", app, workers, conns, small)
        floor_me = _find(cells, "me", floor, workers, conns, small)
        out.append(
            _ratio_check(
                f"GET /users/me req/s vs floor {where} c{conns}",
                (me.rps if me else None),
                (floor_me.rps if floor_me else None),
                0.50,
                at_most=False,
            )
        )
        errors = None if me is None else me.timeouts + me.non_2xx
        out.append(
            Check(
                f"GET /users/me timeouts + non-2xx {where} c{conns}",
                "not measured" if errors is None else str(errors),
                "= 0",
                None if errors is None else errors == 0,
            )
        )
        if workers == 1:
            health = _find(cells, "health", app, workers, conns, small)
            floor_health = _find(cells, "health", floor, workers, conns, small)
            out.append(
                _ratio_check(
                    f"GET /health req/s vs floor {where} c{conns}",
                    (health.rps if health else None),
                    (floor_health.rps if floor_health else None),
                    0.25,
                    at_most=False,
                )
            )
    me32 = _find(cells, "me", app, workers, 32, small)
    p99 = me32.p99_ms if me32 else None
    out.append(
        Check(
            f"GET /users/me p99 {where} c32",
            "not measured" if p99 is None else f"{p99:.1f} ms",
            "≤ 50 ms",
            None if p99 is None else p99 <= 50,
        )
    )
    login = _find(cells, "login", app, workers, 4, small)
    out.append(
        _ratio_check(
            f"login req/s vs bare argon2 rate {where} c4",
            (login.rps if login else None),
            ctx.hash_rates.get((app, workers)),
            0.85,
            at_most=False,
        )
    )
    during = _find(cells, "health-login", app, workers, 32, small)
    alone = _find(cells, "health", app, workers, 32, small)
    out.append(
        _ratio_check(
            f"GET /health during logins vs alone {where} c32",
            (during.rps if during else None),
            (alone.rps if alone else None),
            0.50,
            at_most=False,
        )
    )
    return out


def checks(cells: list[Cell], ctx: Context) -> list[Check]:
    """Every performance target, as ratios of figures measured in this run: the issue's at its conditions
    (1 worker, 32 connections), the earlier ones that still stand at theirs."""
    out: list[Check] = []
    for app in ctx.inkwell_apps:
        out.extend(_issue_checks(cells, ctx, app))
    for workers in ctx.workers:
        for app in ctx.inkwell_apps:
            out.extend(_inkwell_checks(cells, ctx, app, workers))
    asgi = _find(cells, "me", "inkwell asgi", ISSUE_WORKERS, ISSUE_CONNECTIONS, ctx.posts[0])
    wsgi = _find(cells, "me", "inkwell wsgi", ISSUE_WORKERS, ISSUE_CONNECTIONS, ctx.posts[0])
    out.append(
        _ratio_check(
            f"WSGI vs ASGI GET /users/me req/s [{ISSUE_WORKERS}w] c{ISSUE_CONNECTIONS}",
            (wsgi.rps if wsgi else None),
            (asgi.rps if asgi else None),
            0.75,
            at_most=False,
        )
    )
    if len(ctx.posts) > 1 and ctx.inkwell_apps:
        app, workers = ctx.inkwell_apps[0], ctx.workers[0]
        for conns in (4, 32):
            small = _find(cells, "posts", app, workers, conns, ctx.posts[0])
            large = _find(cells, "posts", app, workers, conns, ctx.posts[-1])
            out.append(
                _ratio_check(
                    f"GET /posts p50 at {ctx.posts[-1]:,} vs {ctx.posts[0]:,} posts [{app}, {workers}w] c{conns}",
                    (large.p50_ms if large else None),
                    (small.p50_ms if small else None),
                    2.0,
                    at_most=True,
                )
            )
    out.extend(_deep_page_checks(cells, ctx))
    inkwell = [cell for cell in cells if cell.app.startswith("inkwell") and cell.peak_rss_mib is not None]
    worst = max(inkwell, key=lambda cell: cell.peak_rss_mib or 0.0, default=None)
    if worst is not None and worst.peak_rss_mib is not None:
        out.append(
            Check(
                "peak RSS per worker (largest cell)",
                f"{worst.peak_rss_mib:.0f} MiB in {worst.label} [{worst.app}, {worst.workers}w] c{worst.connections}",
                f"≤ {PEAK_RSS_LIMIT_MIB} MiB",
                worst.peak_rss_mib <= PEAK_RSS_LIMIT_MIB,
            )
        )
    out.append(_soak_check(ctx.soak_rss_mib))
    return out


# A page deep in the feed, by cursor, at most this multiple of page 1's p50 (4 connections, the same server).
DEEP_PAGES = {"deep": "middle", "deep-end": "last page"}
DEEP_VS_FIRST = 2.0
DEEP_CONNECTIONS = 4


def _deep_page_checks(cells: list[Cell], ctx: Context) -> list[Check]:
    if not ctx.inkwell_apps:
        return []
    app, workers, out = ctx.inkwell_apps[0], ctx.workers[0], []
    for posts in ctx.posts:
        first = _find(cells, "posts", app, workers, DEEP_CONNECTIONS, posts)
        for workload, where in DEEP_PAGES.items():
            deep = _find(cells, workload, app, workers, DEEP_CONNECTIONS, posts)
            if deep is None:
                continue
            out.append(
                _ratio_check(
                    f"GET /posts p50, {where} by cursor vs page 1, {posts:,} posts [{app}, {workers}w] "
                    f"c{DEEP_CONNECTIONS}",
                    deep.p50_ms,
                    (first.p50_ms if first else None),
                    DEEP_VS_FIRST,
                    at_most=True,
                )
            )
    return out


def _soak_check(samples: list[float]) -> Check:
    """Growth from the first to the last quarter of the soak (medians of each, against allocator noise)."""
    target, limit = "RSS growth over the soak", "≤ 5 %"
    if len(samples) < 8:
        return Check(target, "not measured", limit, None)
    quarter = len(samples) // 4
    first, last = statistics.median(samples[:quarter]), statistics.median(samples[-quarter:])
    growth = (last - first) / first
    return Check(target, f"{first:.0f} → {last:.0f} MiB ({growth:+.1%})", limit, growth <= 0.05)


def render_checks(found: list[Check]) -> str:
    lines = ["| target | measured (same run) | limit | result |", "|---|---|---|---|"]
    for check in found:
        result = "n/a" if check.ok is None else ("PASS" if check.ok else "FAIL")
        lines.append(f"| {check.target} | {check.measured} | {check.limit} | {result} |")
    return "\n".join(lines)
