"""SIGTERM to the web process: requests already in flight finish, then it exits well within Heroku's 30 s."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import migrate, process_environment
from tests.procfile import HEROKU_STOP_SECONDS, ProcfileProcess, platform_env, read_procfile, stop_all
from tests.servers import free_port, granian_process, wait_until_serving

API = "/api/v1"
SLOW_ARGON2 = {"ARGON2_TIME_COST": "200", "ARGON2_MEMORY_COST_KIB": "8192", "ARGON2_PARALLELISM": "1"}


class InFlightRegistrations:
    """Three registrations, each hashing a password with deliberately slow argon2: started here, and certain to
    be still running when the caller sends its signal."""

    def __init__(self, base_url: str, prefix: str) -> None:
        self.statuses: list[int] = []
        self.threads = [
            threading.Thread(target=self._register, args=(base_url, f"{prefix}{index}@example.com"))
            for index in range(3)
        ]
        for thread in self.threads:
            thread.start()
        time.sleep(0.3)
        assert self.statuses == [], "the requests must still be in flight when the signal arrives"

    def _register(self, base_url: str, email: str) -> None:
        response = httpx.post(
            f"{base_url}{API}/auth/register", json={"email": email, "password": "slow-password"}, timeout=30
        )
        self.statuses.append(response.status_code)

    def finish(self) -> list[int]:
        for thread in self.threads:
            thread.join(timeout=30)
        return self.statuses


def test_sigterm_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    env = process_environment(migrate(f"sqlite:///{tmp_path / 'shutdown.sqlite3'}"), **SLOW_ARGON2)

    with granian_process("app.main:app", "asgi", env, "--workers-kill-timeout", "25") as server:
        started = time.monotonic()
        registrations = InFlightRegistrations(server.url, "slow")
        server.process.send_signal(signal.SIGTERM)
        statuses = registrations.finish()
        exit_code = server.process.wait(timeout=30)
        elapsed = time.monotonic() - started

    assert statuses == [201, 201, 201]
    assert exit_code == 0
    assert elapsed < 30


def test_the_procfile_web_process_finishes_in_flight_requests_when_the_whole_dyno_gets_sigterm(
    tmp_path: Path,
) -> None:
    """Heroku signals every process of the dyno, granian's workers included, not only the main process."""
    database_url = f"sqlite:///{tmp_path / 'dyno.sqlite3'}"
    settings = migrate(database_url)
    port = free_port()
    env = platform_env(
        DATABASE_URL=database_url,
        SECRET_KEY=settings.secret_key,
        PORT=str(port),
        WEB_CONCURRENCY="2",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
        REDIS_URL="",
        **SLOW_ARGON2,
    )
    web = ProcfileProcess("web", read_procfile()["web"], env, tmp_path)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/health", web.popen)
        registrations = InFlightRegistrations(f"http://127.0.0.1:{port}", "dyno")
    finally:
        exit_codes = stop_all([web])
    statuses = registrations.finish()
    assert statuses == [201, 201, 201], web.output
    assert exit_codes == {"web": 0}, web.output
    assert web.stopped_in is not None
    assert web.stopped_in < HEROKU_STOP_SECONDS
