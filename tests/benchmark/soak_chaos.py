"""The soak's platform and its faults: the Procfile's processes (restarted when they die, as a platform restarts a
crashed dyno), a Redis server of the soak's own, and a schedule of faults, each with the window it was in force."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from tests.procfile import ProcfileProcess, read_procfile
from tests.servers import start_redis

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.mail import Mailbox

__all__ = ("FAULTS", "Chaos", "Fault", "Platform", "RedisServer", "children", "schedule")

FAULTS = ("web-worker", "celery-worker", "beat", "redis", "postgres")
# A crashed dyno is started again after a moment, as a platform does; Redis comes back after a few seconds.
RESTART_PAUSE_SECONDS = 1.0
REDIS_DOWN_SECONDS = 3.0
READY_TIMEOUT_SECONDS = 60.0
# A standby beat takes the lock within its timeout plus a tick interval of the holder's death (README, "One beat").
BEAT_TAKEOVER_TIMEOUT_SECONDS = 45.0
# The worker is killed as a send begins: the mail server is then holding its reply, so the task is mid-send.
MID_SEND_TIMEOUT_SECONDS = 30.0
SUPERVISE_SECONDS = 0.5


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (granian's workers, Celery's pool processes)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class RedisServer:
    """``redis-server`` on ``port`` without persistence, as a managed Redis that loses its data when it restarts."""

    def __init__(self, binary: str, port: int, workdir: Path) -> None:
        self.binary, self.port, self.workdir = binary, port, workdir
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = start_redis(self.binary, self.port, self.workdir, timeout=READY_TIMEOUT_SECONDS)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class Platform:
    """The ``web``, ``worker`` and ``beat`` processes; a process that exits is started again and the exit noted."""

    def __init__(self, env: dict[str, str], cwd: Path, started: float) -> None:
        self.env, self.cwd, self.started = env, cwd, started
        self.commands = read_procfile()
        self.processes: dict[str, ProcfileProcess] = {}
        self.retired: list[ProcfileProcess] = []
        self.unplanned_exits: list[str] = []
        self.lock = threading.Lock()

    def start(self, name: str) -> ProcfileProcess:
        process = ProcfileProcess(name, self.commands[name], self.env, self.cwd)
        with self.lock:
            if name in self.processes:
                self.retired.append(self.processes[name])
            self.processes[name] = process
        return process

    def supervise(self) -> None:
        """Start again every process that exited on its own."""
        for name, process in list(self.processes.items()):
            if process.popen.poll() is not None:
                at = time.monotonic() - self.started
                last = process.lines[-1] if process.lines else ""
                self.unplanned_exits.append(f"{name} exited with {process.popen.returncode} at {at:.0f} s: {last}")
                time.sleep(RESTART_PAUSE_SECONDS)
                self.start(name)

    def kill(self, name: str) -> None:
        """SIGKILL every process of the dyno, as a crash or an out-of-memory kill does."""
        process = self.processes[name]
        process.signal_group(signal.SIGKILL)
        process.wait(timeout=10)

    def all(self) -> list[ProcfileProcess]:
        with self.lock:
            return [*self.retired, *self.processes.values()]


@dataclass
class Fault:
    """One fault: when it was due, when it began and when it was over (None: it did not run)."""

    kind: str
    due: float
    start: float | None = None
    end: float | None = None
    detail: str = ""


def schedule(duration: float, seed: int) -> list[Fault]:
    """Every kind of fault, once per five minutes of run (at least once), in an order and at times drawn from
    ``seed``, between 10 % and 80 % of the run: the last fifth lets the books settle under load."""
    rng = random.Random(seed)
    rounds = max(1, round(duration / 300))
    kinds = []
    for _ in range(rounds):
        batch = list(FAULTS)
        rng.shuffle(batch)
        kinds.extend(batch)
    first, last = 0.1 * duration, 0.8 * duration
    slot = (last - first) / len(kinds)
    return [Fault(kind, first + slot * (i + rng.uniform(0.0, 0.5))) for i, kind in enumerate(kinds)]


class Chaos(threading.Thread):
    """Runs the faults at their times, supervising the processes in between; stops at ``stop``."""

    def __init__(
        self,
        faults: list[Fault],
        platform: Platform,
        redis_server: RedisServer,
        mailbox: Mailbox,
        database_url: str,
        seed: int,
        *,
        margin: float,
        latest_start: float,
    ) -> None:
        super().__init__(name="soak-chaos", daemon=True)
        self.faults, self.platform, self.redis_server = faults, platform, redis_server
        self.mailbox, self.database_url = mailbox, database_url
        self.rng = random.Random(seed + 1)
        self.margin, self.latest_start = margin, latest_start
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.actions: dict[str, Callable[[Fault], None]] = {
            "web-worker": self._kill_web_worker,
            "celery-worker": self._kill_celery_worker,
            "beat": self._kill_beat,
            "redis": self._restart_redis,
            "postgres": self._terminate_connections,
        }

    def _now(self) -> float:
        return time.monotonic() - self.platform.started

    def run(self) -> None:
        try:
            free_from = 0.0
            for fault in self.faults:
                # One fault at a time: the next waits for the previous one's window to close.
                due = max(fault.due, free_from)
                if due > self.latest_start:
                    fault.detail = "not run: the previous faults' windows ran past the schedule"
                    continue
                while self._now() < due:
                    if self.stop.wait(SUPERVISE_SECONDS):
                        return
                    self.platform.supervise()
                fault.start = self._now()
                self.actions[fault.kind](fault)
                if fault.end is None:
                    fault.end = self._now()
                free_from = self._now() + self.margin
            while not self.stop.wait(SUPERVISE_SECONDS):
                self.platform.supervise()
        except Exception as exc:  # noqa: BLE001  (reported by the main thread, which then stops everything)
            self.error = exc

    def _kill_web_worker(self, fault: Fault) -> None:
        main = self.platform.processes["web"].popen.pid
        workers = children(main)
        if not workers:
            fault.detail = "no granian worker found"
            return
        victim = self.rng.choice(workers)
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            now = children(main)
            if victim not in now and len(now) >= len(workers):
                fault.detail = f"killed worker {victim} of {len(workers)}; respawned"
                return
            time.sleep(0.05)
        fault.detail = f"killed worker {victim} of {len(workers)}; not respawned within {READY_TIMEOUT_SECONDS:.0f} s"

    def _kill_celery_worker(self, fault: Fault) -> None:
        before = self.mailbox.data_received
        try:
            self.mailbox.wait_for_data(before + 1, timeout=MID_SEND_TIMEOUT_SECONDS)
            fault.detail = "killed as a send began (the mail server held its reply)"
        except AssertionError:
            fault.detail = "no send began: killed idle"
        fault.start = self._now()
        self.platform.kill("worker")
        time.sleep(RESTART_PAUSE_SECONDS)
        self.platform.start("worker").wait_for_line(" ready.", timeout=READY_TIMEOUT_SECONDS)

    def _kill_beat(self, fault: Fault) -> None:
        self.platform.kill("beat")
        time.sleep(RESTART_PAUSE_SECONDS)
        beat = self.platform.start("beat")
        restarted = self._now()
        fault.detail = "restarted"

        def took_the_lock() -> None:
            # Watched aside, so the next fault need not wait for the dead beat's lock to lapse.
            try:
                beat.wait_for_line("beat: Acquired lock", timeout=BEAT_TAKEOVER_TIMEOUT_SECONDS)
            except AssertionError:
                fault.detail = f"restarted; no lock taken within {BEAT_TAKEOVER_TIMEOUT_SECONDS:g} s"
                return
            fault.detail = f"restarted; took the lock {self._now() - restarted:.0f} s later (the dead one's lapsed)"

        threading.Thread(target=took_the_lock, name="soak-beat-lock", daemon=True).start()

    def _restart_redis(self, fault: Fault) -> None:
        self.redis_server.kill()
        time.sleep(REDIS_DOWN_SECONDS)
        self.redis_server.start()
        fault.detail = f"down {REDIS_DOWN_SECONDS:g} s, back empty"

    def _terminate_connections(self, fault: Fault) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            terminated = conn.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        fault.detail = f"terminated {terminated[0] if terminated else 0} backends"
