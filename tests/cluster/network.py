"""A virtual network on this machine: one Linux network namespace per host, each on a bridge in the root namespace
through a veth pair, addressed from 198.18.0.0/15 (the range reserved for benchmarks), and the faults put on it.

Names and the /24 are derived from the process id, so two runs at once never share a namespace, link or subnet.
A path is cut in the sending host by a permanent neighbour entry that gives the destination a hardware address no
host has: its packets go out and nobody takes them, so the sender sees silence, as in a partition (a ``blackhole``
route would answer it at once, and this needs neither a firewall nor netem, which not every kernel has). A link set
down takes a whole host off the network.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

BENCHMARK_RANGE = ipaddress.ip_network("198.18.0.0/15")
# A locally administered unicast address (the 0x02 bit) that no host of the network has.
NOBODY = "02:00:00:00:00:01"
# iproute2's commands live in /usr/sbin, which a user's PATH may lack.
IP = shutil.which("ip") or "/usr/sbin/ip"


def run(*command: str) -> str:
    """Run ``command``; its output, or RuntimeError with its error output."""
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: exit {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def _subnets_in_use() -> set[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    listing = run(IP, "-o", "-4", "addr", "show")
    return {ipaddress.ip_interface(line.split()[3]).network for line in listing.splitlines()}


def names_in_use() -> set[str]:
    """The links of the root namespace and every namespace, by name."""
    links = {line.split(":")[1].strip().split("@")[0] for line in run(IP, "-o", "link").splitlines()}
    return links | {line.split()[0] for line in run(IP, "netns", "list").splitlines()}


def free_subnet(seed: int) -> ipaddress.IPv4Network:
    """A /24 of the benchmark range that no interface of the root namespace uses, starting from ``seed``'s."""
    subnets = [subnet for subnet in BENCHMARK_RANGE.subnets(new_prefix=24) if isinstance(subnet, ipaddress.IPv4Network)]
    in_use = _subnets_in_use()
    for offset in range(len(subnets)):
        subnet = subnets[(seed + offset) % len(subnets)]
        if subnet not in in_use:
            return subnet
    raise RuntimeError("every /24 of 198.18.0.0/15 is in use")


def _tag(number: int) -> str:
    """``number`` in base 36: a pid in at most 5 characters, so link names stay within Linux's 15."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if number == 0:
            return text


@dataclass
class Host:
    """One namespace with one link to the bridge (``outside`` in the root namespace, ``inside`` in the host)."""

    name: str
    namespace: str
    outside: str
    inside: str
    addresses: list[str]

    @property
    def address(self) -> str:
        return self.addresses[0]

    def exec_prefix(self) -> str:
        """The shell words that run a command inside this host."""
        return f"ip netns exec {self.namespace}"


@dataclass
class Network:
    """The bridge, its root-namespace address (the test process: client, load balancer, mail server) and hosts."""

    tag: str
    subnet: ipaddress.IPv4Network
    bridge: str
    hosts: dict[str, Host] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return str(self.subnet.network_address + 1)

    def add_host(self, name: str, *host_numbers: int) -> Host:
        """A namespace on the bridge with the addresses ``subnet.N`` for each N of ``host_numbers``."""
        host = Host(
            name=name,
            namespace=f"inkwell-{self.tag}-{name}",
            outside=f"iw{self.tag}{name[0]}{name[-1]}o",
            inside=f"iw{self.tag}{name[0]}{name[-1]}i",
            addresses=[str(self.subnet.network_address + number) for number in host_numbers],
        )
        self.hosts[name] = host
        run(IP, "netns", "add", host.namespace)
        run(IP, "link", "add", host.outside, "type", "veth", "peer", "name", host.inside)
        run(IP, "link", "set", host.inside, "netns", host.namespace)
        run(IP, "link", "set", host.outside, "master", self.bridge)
        run(IP, "link", "set", host.outside, "up")
        run(IP, "-n", host.namespace, "link", "set", "lo", "up")
        for address in host.addresses:
            run(IP, "-n", host.namespace, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", host.inside)
        run(IP, "-n", host.namespace, "link", "set", host.inside, "up")
        return host

    def cut(self, source: Host, destination: str) -> None:
        """Drop, silently, every packet ``source`` sends to ``destination`` (a partition: no refusal, no reset)."""
        run(IP, "-n", source.namespace, "neigh", "replace", destination, "lladdr", NOBODY, "dev", source.inside,
            "nud", "permanent")  # fmt: skip

    def restore(self, source: Host, destination: str) -> None:
        run(IP, "-n", source.namespace, "neigh", "del", destination, "dev", source.inside)

    def unplug(self, host: Host) -> None:
        """Take ``host`` off the network: its link goes down."""
        run(IP, "link", "set", host.outside, "down")

    def plug(self, host: Host) -> None:
        run(IP, "link", "set", host.outside, "up")

    def tear_down(self) -> None:
        """Delete every namespace (their links go with them) and the bridge; whatever is already gone is skipped."""
        for host in self.hosts.values():
            with contextlib.suppress(RuntimeError):
                run(IP, "netns", "del", host.namespace)
            with contextlib.suppress(RuntimeError):
                run(IP, "link", "del", host.outside)
        with contextlib.suppress(RuntimeError):
            run(IP, "link", "del", self.bridge)


@contextlib.contextmanager
def network() -> Iterator[Network]:
    """A bridge with the gateway address, torn down with every host added to it, also on failure."""
    pid = os.getpid()
    tag = _tag(pid)
    net = Network(tag=tag, subnet=free_subnet(pid), bridge=f"iw{tag}br")
    try:
        run(IP, "link", "add", net.bridge, "type", "bridge")
        run(IP, "addr", "add", f"{net.gateway}/{net.subnet.prefixlen}", "dev", net.bridge)
        run(IP, "link", "set", net.bridge, "up")
        yield net
    finally:
        net.tear_down()
