"""The traceroute lab: a chain of routers and an equal-cost pair, built from netns primitives.

::

    client ── r1 ── r2 (silent) ── r3 (rate-limited) ── target        10.92.3.2  fd00:92:3::2
               │
               ├── pa ──┐
               └── pb ──┴── etarget (10.93.100.1, fd00:93:100::1 on its loopback)

- r2 forwards but never sends time-exceeded: an nftables rule drops them on output.
- r3 keeps Linux's default ICMP rate limit: a burst of six per peer, then one error every
  ``net.ipv4.icmp_ratelimit`` (1000 ms) or ``net.ipv6.icmp.ratelimit`` (100 ms since 6.18.y
  stable; 1000 ms scaled down by the prefix length of the route to the peer before). Every
  other node has ICMP rate limiting switched off, so only r3 can lose answers.
- r1 reaches etarget over a multipath route through pa and pb, hashed on L4
  (``fib_multipath_hash_policy=1``): UDP and TCP flows spread by ports. Linux's L4 hash sees
  no ports in ICMP (every echo to one address hashes alike), so for ICMP r1 also behaves like
  the per-flow balancers of the Paris traceroute paper: nftables hashes the first six octets
  of the ICMP header (type, code, checksum, identifier) into a firewall mark that picks the
  path. Without that, an ICMP Paris test could not fail: a classic traceroute, whose ICMP
  checksum moves with the sequence number, spreads over both paths here.
- Clients are made per test (``RouterLab.client()``): ICMP rate limits are kept per peer
  address, so each test starts with r3's full burst allowance instead of what earlier tests
  left over.

No node has a default route or any route outside 10.91-93/16 and fd00:91-93::/32.
"""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from tests.lab.netns import Lab, Namespace, ip

T = TypeVar("T")

CLIENTS_V4, CLIENTS_V6 = "10.91.0.0/16", "fd00:91::/32"
LAB_V4 = ("10.92.0.0/16", "10.93.0.0/16")
LAB_V6 = ("fd00:92::/32", "fd00:93::/32")

SILENT_RULES = """
table inet lab {
    chain output {
        type filter hook output priority 0; policy accept;
        icmp type time-exceeded drop
        icmpv6 type time-exceeded drop
    }
}
"""

# The mark picks the routing table (1: via pa, 2: via pb); ``@th,0,48`` is the first six
# octets of the transport header, for ICMP type, code, checksum and identifier.
ICMP_BALANCER_RULES = """
table inet lab {
    chain balance {
        meta mark set jhash @th,0,48 mod 2 offset 1
    }
    chain prerouting {
        type filter hook prerouting priority mangle; policy accept;
        ip daddr 10.93.100.1 ip protocol icmp jump balance
        ip6 daddr fd00:93:100::1 meta l4proto icmpv6 jump balance
    }
}
"""


@dataclass(frozen=True)
class Hop:
    """A router as traceroute must report it: its address on the side facing the clients."""

    name: str
    v4: str
    v6: str


@dataclass(frozen=True)
class Client:
    """A client namespace and r1 as that client sees it (r1 answers from the client's link)."""

    ns: Namespace
    gateway: Hop
    v4: str
    v6: str


@dataclass
class RouterLab:
    """The built lab: the routers in path order and the ways to reach the targets."""

    lab: Lab
    r1: Namespace
    silent: Hop  # r2
    rate_limited: Hop  # r3
    target: Hop  # end of the chain
    ecmp_paths: list[Hop]  # pa, pb
    ecmp_target: Hop
    _clients: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def steer(self, v4: Hop | None = None, v6: Hop | None = None) -> None:
        """Switch r1's routes to the equal-cost target onto one of its paths per family (one
        of ``ecmp_paths``) for every flow and method; a family given None goes back to both
        paths. A router's route changed under the running traces."""
        pa, pb = self.ecmp_paths
        for family, via in ((4, v4), (6, v6)):
            flag = [] if family == 4 else ["-6"]
            dst = self.ecmp_target.v4 if family == 4 else self.ecmp_target.v6
            first, second = (pa.v4, pb.v4) if family == 4 else (pa.v6, pb.v6)
            if via is None:
                multipath = ["nexthop", "via", first, "nexthop", "via", second]
                self.r1.ip(*flag, "route", "replace", dst, *multipath)
                tables = (("101", first), ("102", second))
            else:
                one = via.v4 if family == 4 else via.v6
                self.r1.ip(*flag, "route", "replace", dst, "via", one)
                tables = (("101", one), ("102", one))
            for table, hop in tables:  # the ICMP balancer's marks pick these tables
                self.r1.ip(*flag, "route", "replace", dst, "via", hop, "table", table)

    def chain(self, client: Client) -> list[Hop]:
        """The routers from ``client`` to the chain's target, in order (r1, r2, r3)."""
        return [client.gateway, self.silent, self.rate_limited]

    @contextlib.contextmanager
    def client(self) -> Iterator[Client]:
        """A fresh client namespace linked to r1 (its own subnet and ICMP rate buckets)."""
        n = next(self._clients)
        ns = self.lab.namespace(f"c{n}")
        try:
            _no_dad(ns)
            self.lab.link(
                ns,
                [f"10.91.{n}.2/24", f"fd00:91:{n}::2/64"],
                self.r1,
                [f"10.91.{n}.1/24", f"fd00:91:{n}::1/64"],
            )
            for prefix in LAB_V4:
                ns.ip("route", "add", prefix, "via", f"10.91.{n}.1")
            for prefix in LAB_V6:
                ns.ip("-6", "route", "add", prefix, "via", f"fd00:91:{n}::1")
            _wait_reachable(ns, [self.target, self.ecmp_target])
            gateway = Hop("r1", f"10.91.{n}.1", f"fd00:91:{n}::1")
            yield Client(ns, gateway, f"10.91.{n}.2", f"fd00:91:{n}::2")
        finally:
            self.lab.namespaces.pop(f"c{n}", None)
            ip("netns", "delete", ns.name, check=False)


def build_router_lab(lab: Lab) -> RouterLab:
    """Create every namespace, link and route of the traceroute lab inside ``lab``."""
    nodes = {name: lab.namespace(name) for name in ("r1", "r2", "r3", "tgt", "pa", "pb", "etgt")}
    for name, ns in nodes.items():
        _no_dad(ns)
        ns.sysctl("net.ipv4.ip_forward", 1)
        ns.sysctl("net.ipv6.conf.all.forwarding", 1)
        if name != "r3":
            ns.sysctl("net.ipv4.icmp_ratemask", 0)
            ns.sysctl("net.ipv6.icmp.ratelimit", 0)
            ns.sysctl("net.ipv6.icmp.ratemask", "")

    def link(a: str, b: str, subnet: int, space: int) -> None:
        lab.link(
            nodes[a],
            [f"10.{space}.{subnet}.1/24", f"fd00:{space}:{subnet}::1/64"],
            nodes[b],
            [f"10.{space}.{subnet}.2/24", f"fd00:{space}:{subnet}::2/64"],
        )

    link("r1", "r2", 1, 92)
    link("r2", "r3", 2, 92)
    link("r3", "tgt", 3, 92)
    link("r1", "pa", 1, 93)
    link("r1", "pb", 2, 93)
    link("pa", "etgt", 3, 93)
    link("pb", "etgt", 4, 93)

    # Towards the clients: every node routes 10.91/16 back the way it came.
    _routes(nodes["r2"], CLIENTS_V4, CLIENTS_V6, "10.92.1.1", "fd00:92:1::1")
    _routes(nodes["r3"], CLIENTS_V4, CLIENTS_V6, "10.92.2.1", "fd00:92:2::1")
    _routes(nodes["tgt"], CLIENTS_V4, CLIENTS_V6, "10.92.3.1", "fd00:92:3::1")
    _routes(nodes["pa"], CLIENTS_V4, CLIENTS_V6, "10.93.1.1", "fd00:93:1::1")
    _routes(nodes["pb"], CLIENTS_V4, CLIENTS_V6, "10.93.2.1", "fd00:93:2::1")
    _routes(nodes["etgt"], CLIENTS_V4, CLIENTS_V6, "10.93.3.1", "fd00:93:3::1")
    # Towards the chain's target.
    _routes(nodes["r1"], "10.92.0.0/16", "fd00:92::/32", "10.92.1.2", "fd00:92:1::2")
    _routes(nodes["r2"], "10.92.3.0/24", "fd00:92:3::/64", "10.92.2.2", "fd00:92:2::2")
    # Towards the equal-cost target.
    etgt_v4, etgt_v6 = "10.93.100.1", "fd00:93:100::1"
    nodes["etgt"].ip("addr", "add", f"{etgt_v4}/32", "dev", "lo")
    nodes["etgt"].ip("-6", "addr", "add", f"{etgt_v6}/128", "dev", "lo")
    _routes(nodes["pa"], etgt_v4, etgt_v6, "10.93.3.2", "fd00:93:3::2")
    _routes(nodes["pb"], etgt_v4, etgt_v6, "10.93.4.2", "fd00:93:4::2")
    _equal_cost(nodes["r1"], etgt_v4, etgt_v6)

    _nft(nodes["r2"], SILENT_RULES)
    return RouterLab(
        lab=lab,
        r1=nodes["r1"],
        silent=Hop("r2", "10.92.1.2", "fd00:92:1::2"),
        rate_limited=Hop("r3", "10.92.2.2", "fd00:92:2::2"),
        target=Hop("tgt", "10.92.3.2", "fd00:92:3::2"),
        ecmp_paths=[Hop("pa", "10.93.1.2", "fd00:93:1::2"), Hop("pb", "10.93.2.2", "fd00:93:2::2")],
        ecmp_target=Hop("etgt", etgt_v4, etgt_v6),
    )


def _wait_reachable(ns: Namespace, hops: list[Hop], tries: int = 5) -> None:
    # The first packets over a new path wait for neighbour discovery at every router (and
    # the very first IPv6 one after the lab is built has been seen lost): settle it here so
    # that tests measure routing, not ARP/ND.
    for hop in hops:
        for address in (hop.v4, hop.v6):
            for _ in range(tries):
                if ns.run("ping", "-c1", "-W1", "-q", address, check=False).returncode == 0:
                    break
            else:
                raise RuntimeError(f"[{ns.name}] lab is broken: {hop.name} {address} unreachable")


def _no_dad(ns: Namespace) -> None:
    # Link-local addresses still run duplicate address detection (a second or more) even
    # when the global ones are added "nodad"; until it ends, neighbour discovery stalls.
    ns.sysctl("net.ipv6.conf.default.accept_dad", 0)
    ns.sysctl("net.ipv6.conf.all.accept_dad", 0)


def _routes(ns: Namespace, v4: str, v6: str, via4: str, via6: str) -> None:
    ns.ip("route", "add", v4, "via", via4)
    ns.ip("-6", "route", "add", v6, "via", via6)


def _equal_cost(r1: Namespace, v4: str, v6: str) -> None:
    r1.sysctl("net.ipv4.fib_multipath_hash_policy", 1)
    r1.sysctl("net.ipv6.fib_multipath_hash_policy", 1)
    r1.ip("route", "add", v4, "nexthop", "via", "10.93.1.2", "nexthop", "via", "10.93.2.2")
    r1.ip(
        "-6", "route", "add", v6, "nexthop", "via", "fd00:93:1::2", "nexthop", "via", "fd00:93:2::2"
    )
    for mark, via4, via6 in ((1, "10.93.1.2", "fd00:93:1::2"), (2, "10.93.2.2", "fd00:93:2::2")):
        table = str(100 + mark)
        r1.ip("route", "add", v4, "via", via4, "table", table)
        r1.ip("-6", "route", "add", v6, "via", via6, "table", table)
        r1.ip("rule", "add", "fwmark", str(mark), "table", table)
        r1.ip("-6", "rule", "add", "fwmark", str(mark), "table", table)
    _nft(r1, ICMP_BALANCER_RULES)


def _nft(ns: Namespace, rules: str) -> None:
    proc = subprocess.run(
        ["ip", "netns", "exec", ns.name, "nft", "-f", "-"],
        input=rules,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise RuntimeError(f"[{ns.name}] nft: {proc.stderr.strip()}")


def run_in(ns: Namespace, fn: Callable[..., T], *args, **kwargs) -> T:
    """Call ``fn`` in a thread moved into ``ns`` and return its result (or raise its error)."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            with ns.entered():
                outcome["result"] = fn(*args, **kwargs)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"in-{ns.name}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]
