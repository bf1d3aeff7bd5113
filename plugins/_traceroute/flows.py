"""Which flow a trace takes: identifiers derived from a stable key, so runs repeat one path.

Per-flow load balancers pick among equal-cost paths by a hash of the addresses, the protocol
and the ports (for ICMP, often the type, code, checksum and identifier). A trace holds its
flow constant (Paris traceroute); for the traces of one job to one destination to follow one
path from run to run as well, the flow must not change between runs either. So the UDP/TCP
source port or the ICMP identifier comes from the target's flow key (``Target.flow_key``):
candidate 0 of the key's sequence, and while that one is taken (a trace with the same key
running at the same moment, another program on that port), candidates 1, 2, ... of the same
sequence, the same on every run.

Source ports are taken above the kernel's ephemeral range (``net.ipv4.ip_local_port_range``,
Linux's default 32768-60999, hence 61000-65535): the kernel hands those to no ``connect()`` or
``bind(port 0)``, so a key's port is free unless a program chose it explicitly. Pure, but for
reading that sysctl.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from pathlib import Path

EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"  # IPv6 uses it too
LINUX_DEFAULT = (32768, 60999)
FIRST_UNPRIVILEGED = 1024
ENOUGH_PORTS = 1024  # a side of the ephemeral range with fewer is too crowded to hash into
ICMP_IDS = range(1, 0x10000)
ATTEMPTS = 64  # candidates tried before a trace gives up (each a bind or a lookup)


def candidates(key: str, space: range) -> Iterator[int]:
    """The identifiers ``key`` may take from ``space``, in the order to try them."""
    for attempt in itertools.count():
        digest = hashlib.blake2b(f"{attempt}:{key}".encode(), digest_size=8).digest()
        yield space[int.from_bytes(digest, "big") % len(space)]


def source_ports(path: str = EPHEMERAL_RANGE) -> range:
    """The source ports traces take: above the ephemeral range, else below it, else any.

    Read for the calling thread's network namespace (each has its own setting).
    """
    try:
        low, high = (int(n) for n in Path(path).read_text().split())
    except (OSError, ValueError):
        low, high = LINUX_DEFAULT
    above = range(max(high + 1, FIRST_UNPRIVILEGED), 0x10000)
    below = range(FIRST_UNPRIVILEGED, max(low, FIRST_UNPRIVILEGED))
    for ports in (above, below):
        if len(ports) >= ENOUGH_PORTS:
            return ports
    return range(FIRST_UNPRIVILEGED, 0x10000)
