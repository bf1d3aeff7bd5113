"""Crafting Paris-style probes with scapy.

Per-flow load balancers hash a few header fields (addresses, protocol and, at most, the first
eight octets of the transport header) to choose among equal-cost paths. Classic traceroute
varies exactly those (the UDP destination port, the ICMP sequence number and so the ICMP
checksum), so its probes of one trace spread over every path and draw hops that do not exist.
Paris traceroute holds them constant within a trace and marks each probe elsewhere:

- UDP: ports fixed; a two-octet probe number in the payload, so the UDP checksum (octets 6-7,
  which every router quotes back) tells the probes apart.
- TCP: SYN with ports fixed; the sequence number (octets 4-7) is the probe's key, and the
  destination's SYN-ACK or RST acknowledges it plus one.
- ICMP: echo request with type, code, identifier and checksum fixed; the sequence number is
  the key and a payload word compensates it, so the checksum does not move.

The IPv4 identification field carries the probe number too (it is outside every hash), which
helps anyone reading a capture. The flow label of IPv6 probes is fixed at zero.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.packet import Packet

PAD = b"netstats"  # recognisable in a capture; keeps every probe the same size


@dataclass(frozen=True)
class Flow:
    """What stays constant for every probe of one trace.

    ``sport`` is the UDP/TCP source port or the ICMP identifier; ``dport`` the UDP/TCP
    destination port (0 for ICMP); ``seq_base`` the first TCP sequence number.
    """

    method: str
    family: int  # 4 or 6
    src: str
    dst: str
    sport: int
    dport: int
    seq_base: int = 0


@dataclass(frozen=True)
class Probe:
    """One probe: its TTL, the key its replies are matched by, and its bytes (IP included)."""

    ttl: int
    key: int
    packet: bytes
    transport: bytes  # the first eight octets of the transport header, as routers quote it


def build_probe(flow: Flow, ttl: int, index: int) -> Probe:
    """The ``index``-th probe of ``flow`` (0 <= index < 65535), sent with ``ttl``."""
    ip = _ip_header(flow, ttl, index)
    if flow.method == "udp":
        packet = ip / UDP(sport=flow.sport, dport=flow.dport) / (PAD + struct.pack("!H", index))
    elif flow.method == "tcp":
        seq = (flow.seq_base + index) & 0xFFFFFFFF
        packet = ip / TCP(sport=flow.sport, dport=flow.dport, seq=seq, flags="S", window=1024)
    else:
        seq = index + 1
        # seq + (0xffff - seq) is 0xffff, which one's-complement sums treat as zero: the
        # checksum over the whole message stays what it would be without either word.
        payload = struct.pack("!H", 0xFFFF - seq) + PAD
        echo = (
            ICMP(id=flow.sport, seq=seq)
            if flow.family == 4
            else ICMPv6EchoRequest(id=flow.sport, seq=seq)
        )
        packet = ip / echo / payload
    raw = bytes(packet)
    transport = raw[(20 if flow.family == 4 else 40) :][:8]
    return Probe(ttl, probe_key(flow.method, transport), raw, transport)


def probe_key(method: str, transport: bytes) -> int:
    """The key of a probe from the first eight octets of its transport header."""
    if method == "tcp":
        return struct.unpack_from("!I", transport, 4)[0]  # sequence number
    return struct.unpack_from("!H", transport, 6)[0]  # UDP checksum, ICMP sequence number


def _ip_header(flow: Flow, ttl: int, index: int) -> Packet:
    if flow.family == 4:
        # flags=0: no DF, as classic traceroute; id 0 would let the kernel choose one.
        return IP(src=flow.src, dst=flow.dst, ttl=ttl, id=index + 1, flags=0)
    return IPv6(src=flow.src, dst=flow.dst, hlim=ttl, fl=0)
