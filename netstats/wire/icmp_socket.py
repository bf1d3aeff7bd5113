"""One ICMP or ICMPv6 socket for echo probes: raw where allowed, else the datagram kind.

A raw socket needs root or CAP_NET_RAW and sees every ICMP packet of its network namespace,
so the prober must pick its own replies out (the engine does: identifier, sequence, source
and payload). Without the capability Linux offers ICMP datagram sockets ("ping sockets") to
the groups in ``net.ipv4.ping_group_range`` (one setting for IPv4 and IPv6, per network
namespace): the kernel then chooses the echo identifier, fills in the checksum and delivers
only the replies that carry that identifier.
"""

from __future__ import annotations

import os
import random
import socket
import struct
from dataclasses import dataclass

from netstats.wire.timestamping import Received, StampedSocket

# <linux/in.h>, <linux/icmp.h>, <linux/icmpv6.h>, <asm-generic/socket.h>
IP_TTL = 2
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
SOL_RAW = 255
ICMP_FILTER = 1  # a bit set per ICMP type to drop
ICMP6_FILTER = 1  # 256 bits, a bit set per ICMPv6 type to drop
SO_RCVBUFFORCE = 33
ECHO_REPLY_V4 = 0
ECHO_REPLY_V6 = 129
_INT = struct.Struct("@i")
# Room for the replies of a large round arriving while the engine is busy; stamps of sent
# packets queue on the same budget.
RECEIVE_BUFFER = 4 * 1024 * 1024
PING_GROUP_RANGE = "/proc/sys/net/ipv4/ping_group_range"


class IcmpPermissionError(PermissionError):
    """Neither a raw nor a datagram ICMP socket may be opened by this process."""


@dataclass
class IcmpSocket:
    """An open, timestamping ICMP socket of one family and the echo identifier it uses."""

    family: int
    kind: str  # "raw" | "datagram"
    stamped: StampedSocket
    ident: int

    @property
    def ip_header(self) -> bool:
        """Received packets start with the IPv4 header (IPv4 raw sockets only)."""
        return self.family == socket.AF_INET and self.kind == "raw"

    def ttl_ancillary(self, ttl: int) -> list[tuple[int, int, bytes]]:
        """The control message that sets one packet's TTL (hop limit) on send."""
        if self.family == socket.AF_INET:
            return [(socket.IPPROTO_IP, IP_TTL, _INT.pack(ttl))]
        return [(socket.IPPROTO_IPV6, IPV6_HOPLIMIT, _INT.pack(ttl))]

    def reply_ttl(self, received: Received) -> int | None:
        """The TTL (hop limit) a reply arrived with, from its control messages."""
        wanted = (
            (socket.IPPROTO_IP, IP_TTL)
            if self.family == socket.AF_INET
            else (socket.IPPROTO_IPV6, IPV6_HOPLIMIT)
        )
        for level, kind, data in received.ancillary:
            if (level, kind) == wanted and len(data) >= _INT.size:
                return _INT.unpack_from(data)[0]
        return None

    def close(self) -> None:
        self.stamped.close()


def open_icmp_socket(family: int) -> IcmpSocket:
    """A raw ICMP socket of ``family`` or, without CAP_NET_RAW, a datagram one.

    Raises ``IcmpPermissionError`` saying what to grant when neither is allowed.
    """
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    try:
        sock = socket.socket(family, socket.SOCK_RAW, proto)
        kind = "raw"
    except PermissionError:
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM, proto)
            kind = "datagram"
        except PermissionError:
            raise IcmpPermissionError(_permission_message()) from None
    try:
        ident = _prepare(sock, family, kind)
    except BaseException:
        sock.close()
        raise
    return IcmpSocket(family, kind, StampedSocket(sock), ident)


def _prepare(sock: socket.socket, family: int, kind: str) -> int:
    sock.setblocking(False)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
    elif kind == "datagram":
        sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    if kind == "datagram":
        # Binding picks the identifier the kernel will write into every request.
        # Wildcard address: a socket that only sends and reads its replies.
        sock.bind(("0.0.0.0", 0) if family == socket.AF_INET else ("::", 0))  # noqa: S104
        return sock.getsockname()[1]
    if family == socket.AF_INET:
        sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", ~(1 << ECHO_REPLY_V4) & 0xFFFFFFFF))
    else:
        blocked = [0xFFFFFFFF] * 8
        blocked[ECHO_REPLY_V6 >> 5] &= ~(1 << (ECHO_REPLY_V6 & 31))
        sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("=8I", *blocked))
    return random.randrange(1, 0x10000)  # noqa: S311 (an identifier, not a secret)


def _permission_message() -> str:
    try:
        with open(PING_GROUP_RANGE) as f:
            current = " ".join(f.read().split())
    except OSError:
        current = "unreadable"
    return (
        "ping needs a raw ICMP socket (root or CAP_NET_RAW, e.g. "
        "`setcap cap_net_raw+ep` on the Python interpreter) or an ICMP datagram socket, "
        f"which needs the process group id {os.getgid()} inside the sysctl "
        f"net.ipv4.ping_group_range (now {current!r}, e.g. "
        f"`sysctl -w net.ipv4.ping_group_range='0 {os.getgid()}'`)"
    )
