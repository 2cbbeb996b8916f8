"""The bare argon2 rate: password checks per second with the app's parameters, nothing else.

Run by the runner as ``taskset -c <server core> python -m tests.benchmark.hashrate SECONDS`` in the
server's environment, so it uses the cores and the ``ARGON2_*`` settings the server has. A login spends
exactly one such check, so this is the ceiling of the login rate. Prints one JSON object.
"""

from __future__ import annotations

import json
import sys
import time

from app.core.security import PasswordHashing
from app.core.settings import load_settings
from tests.benchmark.dataset import BENCH_PASSWORD


def main() -> None:
    seconds = float(sys.argv[1])
    passwords = PasswordHashing(load_settings(env_file=None))
    hashed = passwords.hash(BENCH_PASSWORD)
    checks = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        passwords.verify(hashed, BENCH_PASSWORD)
        checks += 1
    sys.stdout.write(json.dumps({"checks": checks, "seconds": elapsed, "rate": checks / elapsed}) + "\n")


if __name__ == "__main__":
    main()
