"""Real servers for tests that must go over HTTP: granian processes on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before serving {url}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen[bytes], seconds: float) -> None:
    """SIGTERM ``process`` and wait up to ``seconds`` for it to exit, then SIGKILL it."""
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_redis(binary: str, port: int, cwd: Path, timeout: float = 10) -> subprocess.Popen[bytes]:
    """``redis-server`` on loopback ``port`` without persistence (a restart starts it empty), once it answers PING."""
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                client.ping()
                return process
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    stop(process, 5)
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
    finally:
        client.close()


class Server:
    """A running server process and the URL it answers on."""

    def __init__(self, url: str, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.process = process


@contextmanager
def granian_process(target: str, interface: str, env: Mapping[str, str], *extra: str) -> Iterator[Server]:
    """Serve ``target`` with granian until the block ends, then SIGTERM it (if the test has not already)."""
    port = free_port()
    command = [sys.executable, "-m", "granian", "--interface", interface, "--port", str(port), *extra, target]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **env})
    server = Server(f"http://127.0.0.1:{port}", process)
    try:
        wait_until_serving(f"{server.url}/health", process)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)


@contextmanager
def granian(target: str, interface: str, env: Mapping[str, str], *extra: str) -> Iterator[str]:
    """Serve ``target`` with granian; yields the base URL."""
    with granian_process(target, interface, env, *extra) as server:
        yield server.url
