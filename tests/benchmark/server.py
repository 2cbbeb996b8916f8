"""A granian server pinned to one core, and what its processes spend: CPU time and peak memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ("App", "Server", "ServerError", "cpu_seconds", "find_importable")

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
# Idle means under 5 % of a core over 0.2 s; a login started by the previous run takes up to seconds.
SETTLE_WINDOW_SECONDS, SETTLE_IDLE_FRACTION, SETTLE_TIMEOUT_SECONDS = 0.2, 0.05, 15.0
# /proc/<pid>/clear_refs: writing 5 resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0).
RESET_PEAK_RSS = "5"


class ServerError(RuntimeError):
    """The server did not start, or died; the message ends with the tail of its log."""


@dataclass(frozen=True)
class App:
    """What granian serves: ``label`` in the table, ``target`` for granian, its ``interface``, further options."""

    label: str
    target: str
    interface: str
    options: tuple[str, ...] = ()
    is_floor: bool = False

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]


def find_importable(apps: list[App], env: dict[str, str], cwd: Path) -> tuple[list[App], list[str]]:
    """Split ``apps`` into those whose module imports in the server's environment and why the others don't.

    The import runs in a child process: it builds the app from the environment, as the server will.
    """
    importable, problems = [], []
    for app in apps:
        result = subprocess.run(
            [sys.executable, "-c", f"import {app.module}"],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode == 0:
            importable.append(app)
        else:
            last_line = (result.stderr.strip().splitlines() or ["exit status " + str(result.returncode)])[-1]
            problems.append(f"skipped {app.label}: `import {app.module}` failed: {last_line}")
    return importable, problems


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid``, read from /proc (granian's workers and anything they start)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        parents.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in parents.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of ``pids`` (all their threads); a process that is gone counts 0."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        # utime and stime are fields 14 and 15 of stat(5); the split starts at field 3.
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


def _start_time(pid: int) -> int:
    """When the process started (field 22 of stat(5)): with the pid, it names one process for good."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19])
    except OSError:
        return -1


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


class Server:
    """``python -m granian`` on ``core``, started in an empty directory (so no ``.env`` changes its settings)."""

    def __init__(self, app: App, workers: int, core: int | None, env: dict[str, str], workdir: Path) -> None:
        self.app = app
        self.workers = workers
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"granian-{app.label.replace(' ', '-')}-{workers}w.log"
        command = [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            app.interface,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            *app.options,
            app.target,
        ]
        if core is not None:
            command = ["taskset", "-c", str(core), *command]
        self._log: IO[str] = self.log_path.open("w")
        self._start_times: dict[int, int] = {}
        self.process = subprocess.Popen(command, cwd=workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.worker_pids = self._wait_ready()
        self._start_times = {pid: _start_time(pid) for pid in self.worker_pids}

    def _log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:])

    def _wait_ready(self) -> list[int]:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            self.check_alive()
            workers = _children(self.process.pid)
            if len(workers) >= self.workers and self._answers_health():
                return workers
            time.sleep(0.2)
        self.stop()
        raise ServerError(
            f"{self.app.label} did not answer /health within {READY_TIMEOUT_SECONDS:.0f} s:\n{self._log_tail()}"
        )

    def _answers_health(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as response:  # noqa: S310  (our own loopback URL)
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise ServerError(f"{self.app.label} exited with status {self.process.returncode}:\n{self._log_tail()}")

    def pids(self) -> list[int]:
        return [self.process.pid, *self.worker_pids]

    def cpu_seconds(self) -> float:
        """CPU time of the whole process tree: granian's main process and its workers."""
        return cpu_seconds(self.pids())

    def settle(self) -> None:
        """Wait until the server is idle: wrk walks away from the requests still in flight when a run ends,
        and the server finishing them must not be counted against the next run."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
        before = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(SETTLE_WINDOW_SECONDS)
            after = self.cpu_seconds()
            if after - before < SETTLE_WINDOW_SECONDS * SETTLE_IDLE_FRACTION:
                return
            before = after

    def reset_peak_rss(self) -> None:
        for pid in self.worker_pids:
            Path(f"/proc/{pid}/clear_refs").write_text(RESET_PEAK_RSS)

    def peak_rss_mib(self) -> float:
        """The largest peak RSS of one worker since :meth:`reset_peak_rss`."""
        return max(_status_kib(pid, "VmHWM") for pid in self.worker_pids) / 1024

    def rss_mib(self) -> float:
        """The largest current RSS of one worker."""
        return max(_status_kib(pid, "VmRSS") for pid in self.worker_pids) / 1024

    def stop(self) -> None:
        """SIGINT to granian, which stops its workers; a worker still there afterwards is killed.

        A worker is killed only while its pid still names the process we started (same start time).
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid, started in self._start_times.items():
            if _start_time(pid) == started:
                os.kill(pid, signal.SIGKILL)
        self._log.close()
