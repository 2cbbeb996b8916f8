"""Runs the real ``Procfile``'s commands the way Heroku does: each through a shell with the platform's variables,
in a process group of its own, stopped by SIGTERM to the whole group (every process of the dyno) and SIGKILL 30 s later.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from tests.servers import REPO_ROOT

PROCFILE = REPO_ROOT / "Procfile"
HEROKU_STOP_SECONDS = 30


def read_procfile(path: Path = PROCFILE) -> dict[str, str]:
    """``{process type: command}``, as a platform reads it: ``name: command`` lines, comments and blanks ignored."""
    processes: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, command = line.partition(":")
        processes[name.strip()] = command.strip()
    return processes


# What every production dyno a test runs is given: production's settings, two web and two worker processes, and a
# cheap argon2 (sign-ins in milliseconds: these runs are about the processes, not hashing).
PRODUCTION_DYNO = {
    "APP_ENV": "production",
    "WEB_CONCURRENCY": "2",
    "WORKER_CONCURRENCY": "2",
    "FRONTEND_URL": "https://inkwell.example",
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_COST_KIB": "1024",
    "ARGON2_PARALLELISM": "1",
}


def platform_env(**variables: str) -> dict[str, str]:
    """The test's environment with this virtualenv's commands first on PATH, plus ``variables``."""
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", **variables}


def dyno_env(**variables: str) -> dict[str, str]:
    """:func:`platform_env` for a production dyno: ``PRODUCTION_DYNO``, then ``variables`` (which may override it)."""
    return platform_env(**{**PRODUCTION_DYNO, **variables})


class ProcfileProcess:
    """One Procfile process; its output (stdout and stderr) is collected line by line."""

    def __init__(self, name: str, command: str, env: Mapping[str, str], cwd: Path) -> None:
        self.name = name
        self.lines: list[str] = []
        self.stopped_in: float | None = None
        self.popen = subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=cwd,
            # Heroku names each dyno's process after its type and number.
            env={"DYNO": f"{name}.1", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, name=f"{name}-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if needle in line:
                    return line
            assert self.popen.poll() is None, f"{self.name} exited with {self.popen.returncode}:\n{self.output}"
            time.sleep(0.1)
        raise AssertionError(f"{self.name} printed no line with {needle!r} within {timeout} s:\n{self.output}")

    def signal_group(self, signum: int) -> None:
        """Signal every process of the group (the shell's exec'd command and its children), as a platform does."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)

    def wait(self, timeout: float) -> int:
        exit_code = self.popen.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return exit_code


def run_to_completion(name: str, command: str, env: Mapping[str, str], cwd: Path, timeout: float = 120) -> str:
    """Run a one-off process (``release``); return its output, failing with it if the exit code is not 0."""
    process = ProcfileProcess(name, command, env, cwd)
    try:
        exit_code = process.wait(timeout)
    finally:
        stop_all([process])
    assert exit_code == 0, f"{name} exited with {exit_code}:\n{process.output}"
    return process.output


def stop_all(processes: list[ProcfileProcess]) -> dict[str, int | None]:
    """SIGTERM every group at once, give them 30 s, SIGKILL what is left; return the exit codes (None: killed).

    Each process's ``stopped_in`` is set to the seconds it took to exit.
    """
    started = time.monotonic()
    running = [process for process in processes if process.popen.poll() is None]
    for process in running:
        process.signal_group(signal.SIGTERM)
    while running and time.monotonic() - started < HEROKU_STOP_SECONDS:
        for process in [process for process in running if process.popen.poll() is not None]:
            process.stopped_in = time.monotonic() - started
            running.remove(process)
        time.sleep(0.05)
    for process in running:
        process.signal_group(signal.SIGKILL)
    exit_codes: dict[str, int | None] = {}
    for process in processes:
        exit_code = process.wait(10)
        exit_codes[process.name] = None if process in running else exit_code
        # Whatever the command left behind in its group (it should be nothing) goes too.
        process.signal_group(signal.SIGKILL)
    return exit_codes


def wait_for(
    condition: Callable[[], Any], what: str, timeout: float = 60, detail: Callable[[], object] = lambda: None
) -> Any:
    """Poll ``condition`` until it returns something true (a server not answering yet counts as false)."""
    deadline = time.monotonic() + timeout
    result: Any = None
    while time.monotonic() < deadline:
        try:
            result = condition()
        except httpx.TransportError as exc:
            result = exc
        if result and not isinstance(result, Exception):
            return result
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s (last: {result!r}, {detail()!r})")


def json_lines(process: ProcfileProcess) -> Iterator[dict[str, Any]]:
    """The JSON log lines ``process`` printed so far."""
    for line in process.lines:
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
