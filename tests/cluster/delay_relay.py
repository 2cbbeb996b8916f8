"""A TCP relay that can hold what its clients send for a while: latency on one path, where the kernel has no netem.

``python -m tests.cluster.delay_relay LISTEN_HOST PORT TARGET_HOST TARGET_PORT DELAY_MS`` relays at once; after
SIGUSR1 every chunk a client sends waits ``DELAY_MS`` before it goes on (so each request-response round trip of a
client such as PostgreSQL's is that much longer), after SIGUSR2 none does. Answers go back at once: one direction.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
import time
from types import FrameType

HELD = threading.Event()


def _pump(source: socket.socket, destination: socket.socket, delay: float) -> None:
    try:
        while data := source.recv(65536):
            if delay and HELD.is_set():
                time.sleep(delay)
            destination.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, destination):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _relay(client: socket.socket, target: tuple[str, int], delay: float) -> None:
    try:
        upstream = socket.create_connection(target, timeout=5)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    threading.Thread(target=_pump, args=(upstream, client, 0.0), daemon=True).start()
    _pump(client, upstream, delay)


def _hold(signum: int, _: FrameType | None) -> None:
    if signum == signal.SIGUSR1:
        HELD.set()
    else:
        HELD.clear()


def main() -> None:
    listen_host, port, target_host, target_port, delay_ms = sys.argv[1:6]
    signal.signal(signal.SIGUSR1, _hold)
    signal.signal(signal.SIGUSR2, _hold)
    listener = socket.create_server((listen_host, int(port)), reuse_port=True, backlog=128)
    print(f"relaying {listen_host}:{port} to {target_host}:{target_port}", flush=True)  # noqa: T201
    target = (target_host, int(target_port))
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_relay, args=(client, target, int(delay_ms) / 1000), daemon=True).start()


if __name__ == "__main__":
    main()
