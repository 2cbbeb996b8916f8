"""Debian's PgBouncer in transaction mode in front of the tests' PostgreSQL server, as managed offers run it: its own
configuration in a temporary directory, a free port on 127.0.0.1, trust authentication, and no
``ignore_startup_parameters`` (so, like them, it refuses a connection that sends ``options``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from tests.servers import free_port, stop

READY_SECONDS = 10
STOP_SECONDS = 10
# A client waiting longer than this for a server connection gets an error, rather than the test hanging.
QUERY_WAIT_SECONDS = 20


class PgBouncer:
    """A running PgBouncer; :meth:`url` is a database behind it, :meth:`admin` runs a command on its console."""

    def __init__(self, port: int, user: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.user = user
        self.process = process
        self.log = log

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def admin(self, command: str) -> list[dict[str, Any]]:
        """Run ``command`` (``SHOW POOLS``, ``RECONNECT``...) on the admin console; return its rows, if any."""
        conninfo = f"host=127.0.0.1 port={self.port} user={self.user} dbname=pgbouncer"
        # The console speaks the simple query protocol only: a client-side-binding cursor sends that.
        with psycopg.connect(conninfo, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
            cursor = conn.execute(command)
            if cursor.description is None:
                return []
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _config(upstream: str, database: str, port: int, pool_size: int, directory: Path) -> str:
    server = urlsplit(upstream)
    user = server.username or "postgres"
    (directory / "users.txt").write_text(f'"{user}" ""\n')
    return f"""\
[databases]
{database} = host={server.hostname} port={server.port or 5432} dbname={database} pool_size={pool_size}

[pgbouncer]
pool_mode = transaction
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory / "users.txt"}
admin_users = {user}
max_client_conn = 200
query_wait_timeout = {QUERY_WAIT_SECONDS}
"""


def _wait_until_ready(bouncer: PgBouncer) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if bouncer.process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited with {bouncer.process.returncode}\n{bouncer.log_text()}")
        try:
            with socket.create_connection(("127.0.0.1", bouncer.port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"pgbouncer did not listen within {READY_SECONDS} s\n{bouncer.log_text()}")


@contextmanager
def pgbouncer(binary: str, upstream: str, database: str, *, pool_size: int) -> Iterator[PgBouncer]:
    """Run ``binary`` (the ``pgbouncer_binary`` fixture) pooling ``database`` of the server at ``upstream`` (an
    admin URL) in transaction mode, with at most ``pool_size`` server connections."""
    with tempfile.TemporaryDirectory(prefix="inkwell-pgbouncer-") as tmp:
        directory = Path(tmp)
        port = free_port()
        (directory / "pgbouncer.ini").write_text(_config(upstream, database, port, pool_size, directory))
        # PgBouncer refuses to run as root; it reads its files before it switches user.
        as_user = ["-u", "nobody"] if os.geteuid() == 0 else []
        log = directory / "pgbouncer.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [binary, *as_user, str(directory / "pgbouncer.ini")], stdout=output, stderr=subprocess.STDOUT
            )
        bouncer = PgBouncer(port, urlsplit(upstream).username or "postgres", process, log)
        try:
            _wait_until_ready(bouncer)
            yield bouncer
        finally:
            stop(process, STOP_SECONDS)
