"""The load generator: wrk on its own core, configured through ``lua/requests.lua``, read through ``lua/report.lua``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ("LUA_DIR", "Request", "Wrk", "WrkError", "WrkResult")

LUA_DIR = Path(__file__).resolve().parent / "lua"
RESULT_PREFIX = "BENCH_RESULT "


class WrkError(RuntimeError):
    """wrk failed or printed no result line."""


@dataclass(frozen=True)
class Request:
    """One workload's request. With ``paths``, wrk asks for each in turn instead of ``path``; with ``bodies``
    (one line each), it sends each in turn instead of ``body``, which the preflight sends."""

    path: str
    method: str = "GET"
    token: str | None = None
    body: str | None = None
    content_type: str | None = None
    paths: tuple[str, ...] = ()
    bodies: tuple[str, ...] = ()


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    timeouts: int
    socket_errors: int
    # None when no answer came within the timeout: wrk keeps late answers out of its latency histogram.
    p50_ms: float | None
    p99_ms: float | None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class Wrk:
    """Runs ``wrk -t1`` pinned to ``core``: one thread is enough for one server core and leaves the load core calm."""

    def __init__(self, core: int | None, workdir: Path, timeout_seconds: int) -> None:
        self.core = core
        self.workdir = workdir
        self.timeout_seconds = timeout_seconds
        self._running: set[subprocess.Popen[str]] = set()

    def _env(self, request: Request) -> dict[str, str]:
        env = {**os.environ, "BENCH_LUA_DIR": str(LUA_DIR), "BENCH_METHOD": request.method}
        for name, value in (
            ("BENCH_TOKEN", request.token),
            ("BENCH_BODY", request.body),
            ("BENCH_CONTENT_TYPE", request.content_type),
        ):
            if value is not None:
                env[name] = value
        for name, lines in (("BENCH_PATHS_FILE", request.paths), ("BENCH_BODIES_FILE", request.bodies)):
            if lines:
                env[name] = str(self._lines_file(lines))
        return env

    def _lines_file(self, lines: tuple[str, ...]) -> Path:
        """A file of ``lines`` for the Lua script, named by its content so that the cells of a workload share one."""
        text = "\n".join(lines) + "\n"
        path = self.workdir / f"lines-{hashlib.sha256(text.encode()).hexdigest()[:12]}.txt"
        path.write_text(text)
        return path

    def start(self, base_url: str, request: Request, connections: int, seconds: float) -> subprocess.Popen[str]:
        command = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={self.timeout_seconds}s",
            f"--script={LUA_DIR / 'requests.lua'}",
            base_url + request.path,
        ]
        if self.core is not None:
            command = ["taskset", "-c", str(self.core), *command]
        process = subprocess.Popen(
            command, env=self._env(request), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._running.add(process)
        return process

    def collect(self, process: subprocess.Popen[str], connections: int) -> WrkResult:
        """Read the result line. wrk counts as a timeout an answer that took longer than ``--timeout`` (it is
        a completed request, but not in the latency percentiles) and a request its periodic check finds
        waiting longer; a run too short for that check, with no answer at all, counts each connection."""
        output, _ = process.communicate()
        self._running.discard(process)
        line = next((line for line in output.splitlines() if line.startswith(RESULT_PREFIX)), None)
        if process.returncode != 0 or line is None:
            raise WrkError(f"wrk exited with status {process.returncode}:\n{output[-2000:]}")
        raw = json.loads(line.removeprefix(RESULT_PREFIX))
        return WrkResult(
            requests=raw["requests"],
            seconds=raw["duration_us"] / 1e6,
            non_2xx=raw["non_2xx"],
            timeouts=raw["timeouts"] if raw["requests"] else max(raw["timeouts"], connections),
            socket_errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"],
            p50_ms=raw["p50_us"] / 1000 if raw["p99_us"] else None,
            p99_ms=raw["p99_us"] / 1000 if raw["p99_us"] else None,
        )

    def close(self) -> None:
        """Kill the wrk processes still running: a run interrupted must not leave load behind it."""
        for process in self._running:
            process.kill()
            process.wait()
        self._running.clear()

    def run(self, base_url: str, request: Request, connections: int, seconds: float) -> WrkResult:
        return self.collect(self.start(base_url, request, connections, seconds), connections)
