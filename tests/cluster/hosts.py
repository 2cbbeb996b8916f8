"""A small Inkwell cluster on the virtual network of :mod:`tests.cluster.network`.

- ``data``: its own PostgreSQL 15 (a fresh ``initdb``, run as ``postgres``) on ``.10`` and its own Redis on ``.11``,
  two addresses so that either can be cut alone; the web hosts reach PostgreSQL through ``.12``, a relay on the same
  host (:mod:`tests.cluster.delay_relay`) that can add latency to that path alone;
- ``web1``, ``web2``: the Procfile's ``web`` each (``.21``, ``.22``, port 8000);
- ``worker``: the Procfile's ``release`` once, then ``worker`` and ``beat`` (``.31``);
- the test process on the bridge (``.1``): the clients, the load balancer and the SMTP server the worker delivers to.

Every process runs in its host through ``ip netns exec``, as :class:`tests.procfile.ProcfileProcess` (a process group
of its own, stopped as a platform stops it).
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from tests.cluster import delay_relay
from tests.cluster.network import Host, Network, network
from tests.mail import SMTPServer
from tests.procfile import ProcfileProcess, dyno_env, read_procfile, run_to_completion, stop_all, wait_for

RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
WEB_PORT = 8000
DATABASE = "inkwell"
SERVERS = ("postgres", "redis", "relay")
DELAY_MS = 100
SECRET_KEY = "cluster-" + "k" * 40
# What the web and worker processes are given beside the addresses: the real settings, with timeouts short enough
# for a test to watch an outage end (the README's outage settings), a relay every second, limits small enough to hit.
CLUSTER_SETTINGS = {
    "PORT": str(WEB_PORT),
    "WEB_CONCURRENCY": "1",
    "SECRET_KEY": SECRET_KEY,
    "DATABASE_CONNECT_TIMEOUT_SECONDS": "2",
    "DATABASE_POOL_TIMEOUT_SECONDS": "2",
    "RATE_LIMITS_ENABLED": "true",
    "RATE_LIMIT_LOGIN_IP": "6/minute",
    "RATE_LIMIT_REGISTER_IP": "10000/hour",
    # The test process is the load balancer: it appends the client's address to X-Forwarded-For.
    "TRUSTED_PROXY_HOPS": "1",
    "SIGN_IN_DELAY_AFTER_FAILURES": "100",
    "SIGN_IN_LOCKOUT_FAILURES": "4",
    "SIGN_IN_LOCKOUT_SECONDS": "60",
    "OUTBOX_RELAY_INTERVAL_SECONDS": "1",
    "OUTBOX_RELAY_AFTER_SECONDS": "3",
    "EMAIL_RETRY_BACKOFF_SECONDS": "1",
    "EMAIL_RETRY_BACKOFF_MAX_SECONDS": "2",
}


def in_host(host: Host, command: str) -> str:
    """``command`` (a shell command line) run inside ``host``."""
    return f"exec {host.exec_prefix()} /bin/sh -c {shlex.quote(command)}"


@dataclass
class Cluster:
    net: Network
    directory: Path
    smtp: SMTPServer
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, ProcfileProcess] = field(default_factory=dict)

    @property
    def data(self) -> Host:
        return self.net.hosts["data"]

    @property
    def postgres_address(self) -> str:
        return self.data.addresses[0]

    @property
    def redis_address(self) -> str:
        return self.data.addresses[1]

    @property
    def web_database_address(self) -> str:
        """Where the web hosts reach PostgreSQL: the delay relay."""
        return self.data.addresses[2]

    @property
    def webs(self) -> list[Host]:
        return [self.net.hosts["web1"], self.net.hosts["web2"]]

    @property
    def worker(self) -> Host:
        return self.net.hosts["worker"]

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@{self.postgres_address}:5432/{DATABASE}"

    def delay_web_database(self, held: bool) -> None:
        """Hold every chunk the web hosts send to PostgreSQL for ``DELAY_MS`` (``held``), or none."""
        self.processes["relay"].signal_group(signal.SIGUSR1 if held else signal.SIGUSR2)

    def url(self, web: Host) -> str:
        return f"http://{web.address}:{WEB_PORT}"

    def start(self, name: str, host: Host, command: str, ready_line: str, **env: str) -> ProcfileProcess:
        process = ProcfileProcess(name, in_host(host, command), {**self.env, **env}, self.directory)
        self.processes[name] = process
        process.wait_for_line(ready_line)
        return process

    def stop(self, name: str) -> None:
        stop_all([self.processes.pop(name)])

    def start_postgres(self) -> None:
        data = self.directory / "postgres"
        self.start(
            "postgres",
            self.data,
            f"exec {RUNUSER} -u postgres -- {POSTGRES_BIN / 'postgres'} -D {data} -c port=5432"
            f" -c listen_addresses={self.postgres_address} -c unix_socket_directories={data}"
            " -c fsync=off -c max_connections=200",
            "database system is ready to accept connections",
        )

    def start_redis(self) -> None:
        self.start(
            "redis",
            self.data,
            f"exec redis-server --bind {self.redis_address} --port 6379 --save '' --appendonly no"
            f" --protected-mode no --dir {self.directory}",
            "Ready to accept connections",
        )

    def start_relay(self) -> None:
        relay = f"{sys.executable} {Path(delay_relay.__file__)}"
        target = f"{self.postgres_address} 5432"
        self.start("relay", self.data, f"exec {relay} {self.web_database_address} 5432 {target} {DELAY_MS}", "relaying")

    def start_web(self, web: Host) -> None:
        variables = {
            "PROMETHEUS_MULTIPROC_DIR": str(self.directory / f"{web.name}-prometheus"),
            "DATABASE_URL": self.database_url.replace(self.postgres_address, self.web_database_address),
        }
        process = self.start(web.name, web, read_procfile()["web"], "Started worker", **variables)
        wait_for(lambda: httpx.get(f"{self.url(web)}/health", timeout=2).status_code == 200, f"{web.name} serves")
        assert process.popen.poll() is None

    def processes_alive(self) -> dict[str, int | None]:
        return {name: process.popen.poll() for name, process in self.processes.items()}

    def outbox(self) -> dict[str, int]:
        """``{status: rows}`` of the outbox, read over the network from the test process."""
        with psycopg.connect(self.database_url, connect_timeout=5) as connection:
            rows = connection.execute("SELECT status, count(*) FROM email_outbox GROUP BY status").fetchall()
        return {str(status): int(count) for status, count in rows}

    def logs(self) -> str:
        return "\n".join(f"----- {name} -----\n{process.output}" for name, process in self.processes.items())


def _initdb(directory: Path) -> None:
    data = directory / "postgres"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    subprocess.run(
        [RUNUSER, "-u", "postgres", "--", str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U", "postgres",
         "-A", "trust", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    """Build the cluster, run ``release``, start every process; tear all of it down afterwards, also on failure."""
    directory = Path(tempfile.mkdtemp(prefix="inkwell-cluster-"))
    directory.chmod(0o755)  # the postgres user reaches its data directory through it
    smtp: SMTPServer | None = None
    built: Cluster | None = None
    try:
        with network() as net:
            try:
                net.add_host("data", 10, 11, 12)
                for name, number in (("web1", 21), ("web2", 22), ("worker", 31)):
                    net.add_host(name, number)
                smtp = SMTPServer(host=net.gateway)
                smtp.start()
                built = Cluster(net=net, directory=directory, smtp=smtp)
                _start(built)
                yield built
            finally:
                if built is not None:
                    # The application first, then the servers it was connected to.
                    stop_all([p for name, p in built.processes.items() if name not in SERVERS])
                    stop_all([p for name, p in built.processes.items() if name in SERVERS])
    finally:
        if smtp is not None:
            smtp.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _start(built: Cluster) -> None:
    """The data host's servers, the database, ``release``, then the web and worker hosts' processes."""
    assert built.smtp is not None
    built.env = dyno_env(
        **CLUSTER_SETTINGS,
        DATABASE_URL=built.database_url,
        REDIS_URL=f"redis://{built.redis_address}:6379/0",
        SMTP_URL=built.smtp.url,
    )
    _initdb(built.directory)
    with (built.directory / "postgres" / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {built.net.subnet} trust\n")
    built.start_postgres()
    built.start_redis()
    built.start_relay()
    with psycopg.connect(built.database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {DATABASE}")
    procfile = read_procfile()
    run_to_completion("release", in_host(built.worker, procfile["release"]), built.env, built.directory)
    for web in built.webs:
        built.start_web(web)
    built.start("worker", built.worker, procfile["worker"], "ready.")
    built.start("beat", built.worker, procfile["beat"], "beat: Starting...")
