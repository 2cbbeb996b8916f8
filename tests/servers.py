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


@contextmanager
def granian(target: str, interface: str, env: Mapping[str, str], *extra: str) -> Iterator[str]:
    """Serve ``target`` with granian; yields the base URL and stops the server (SIGTERM) afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "granian", "--interface", interface, "--port", str(port), *extra, target]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **env})
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base_url}/health", process)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)
