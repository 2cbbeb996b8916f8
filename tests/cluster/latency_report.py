"""What 100 ms between the web hosts and the database does to latency: p50 and p99 of a fixed set of calls through
the load balancer-like client, before and with the data host's relay holding everything a web host sends to
PostgreSQL for 100 ms (one direction, so each round trip to the database is 100 ms longer).

``python -m tests.cluster.latency_report [--calls N]`` (as root) builds the cluster, measures and prints the table.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from tests.cluster.balancer import API, Balancer, percentiles
from tests.cluster.hosts import DELAY_MS, Cluster, cluster

POSTS = 20


@dataclass
class Row:
    call: str
    before: tuple[float, float]
    delayed: tuple[float, float]
    statuses: Counter[int]


def _calls(lb: Balancer) -> dict[str, Callable[[], httpx.Response]]:
    """The measured calls, each for a reader signed in with a few posts of their own."""
    email, password = f"latency-{id(lb)}@example.com", "latency-password-31415"
    assert lb.request("POST", f"{API}/auth/register", json={"email": email, "password": password}).status_code == 201
    login = lb.request("POST", f"{API}/auth/login", data={"username": email, "password": password})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    for number in range(POSTS):
        post = {"title": f"Post {number}", "content": "Measured.", "is_published": True}
        assert lb.request("POST", f"{API}/posts", json=post, headers=headers).status_code == 201
    return {
        "GET /users/me": lambda: lb.request("GET", f"{API}/users/me", headers=headers),
        "GET /posts (feed page)": lambda: lb.request("GET", f"{API}/posts"),
    }


def measure(hosts: Cluster, lb: Balancer, calls: int) -> list[Row]:
    measured = _calls(lb)
    before = {name: percentiles(call, calls) for name, call in measured.items()}
    hosts.delay_web_database(held=True)
    try:
        delayed = {name: percentiles(call, calls) for name, call in measured.items()}
    finally:
        hosts.delay_web_database(held=False)
    return [Row(name, before[name][:2], delayed[name][:2], before[name][2] + delayed[name][2]) for name in measured]


def render(rows: list[Row]) -> str:
    lines = [f"| call | p50 / p99 before (ms) | p50 / p99 with {DELAY_MS} ms (ms) |", "|---|---|---|"]
    lines += [
        f"| `{row.call}` | {row.before[0]:.1f} / {row.before[1]:.1f} | {row.delayed[0]:.1f} / {row.delayed[1]:.1f} |"
        for row in rows
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls of each kind, before and with the delay")
    arguments = parser.parse_args()
    # Stopped by SIGTERM (a timeout), the cluster is still torn down: the blocks below exit as on an error.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with cluster() as hosts:
        lb = Balancer([hosts.url(web) for web in hosts.webs], client_ip="203.0.113.250")
        try:
            rows = measure(hosts, lb, arguments.calls)
        finally:
            lb.close()
    print(render(rows))  # noqa: T201


if __name__ == "__main__":
    main()
