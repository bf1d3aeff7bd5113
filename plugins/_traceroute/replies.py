"""Parsing what comes back to a traceroute with scapy: which probe it answers, and how.

Three kinds of packet answer a probe:

- an ICMP error (time exceeded, destination unreachable) from a router or the destination,
  quoting the probe's IP header and at least the first eight octets of its transport header
  (RFC 792; RFC 4443 asks for as much as fits, many routers still send only eight);
- an ICMP echo reply from the destination (method icmp);
- a TCP SYN-ACK or RST from the destination (method tcp).

Raw sockets see every such packet of the host, whoever sent the probe, and anything a
stranger cares to send: a packet that is truncated, malformed or not an answer to a
traceroute probe yields None, never an exception.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass

from scapy.layers.inet import ICMP, IP, TCP, IPerror
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6TimeExceeded, IPerror6
from scapy.packet import Packet

from netstats_plugins._traceroute.probes import PAD, probe_key

log = logging.getLogger(__name__)

TIME_EXCEEDED = "time-exceeded"
ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY, ICMP_UNREACH, ICMP_TIME_EXCEEDED = 8, 0, 3, 11
ICMP6_UNREACH, ICMP6_TIME_EXCEEDED, ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 1, 3, 128, 129
QUOTED_METHODS = {1: "icmp", 58: "icmp", 17: "udp", 6: "tcp"}  # by IP protocol number
TCP_SYN, TCP_RST, TCP_ACK = 0x02, 0x04, 0x10
# Destination unreachable codes, as traceroute(8) prints them (!N, !H, !P, !F, !X).
UNREACHABLE_V4 = {
    0: "net-unreachable",
    1: "host-unreachable",
    2: "protocol-unreachable",
    3: "port-unreachable",
    4: "fragmentation-needed",
    9: "administratively-prohibited",
    10: "administratively-prohibited",
    13: "administratively-prohibited",
}
UNREACHABLE_V6 = {
    0: "net-unreachable",
    1: "administratively-prohibited",
    3: "host-unreachable",
    4: "port-unreachable",
    5: "administratively-prohibited",
    6: "administratively-prohibited",
}


@dataclass(frozen=True)
class FlowId:
    """What a reply says about the probe's flow: enough to find the trace it belongs to."""

    method: str
    dst: str
    sport: int  # UDP/TCP source port, ICMP identifier
    dport: int  # UDP/TCP destination port, 0 for ICMP


@dataclass(frozen=True)
class Reply:
    """An answer to one probe: who sent it, what it is, and the probe's flow and key."""

    address: str
    kind: str  # "time-exceeded", "echo-reply", "syn-ack", "rst" or an unreachable reason
    flow: FlowId
    key: int

    @property
    def final(self) -> bool:
        """True when no hop lies beyond this answer (the destination, or unreachable)."""
        return self.kind != TIME_EXCEEDED


def parse_icmp4(data: bytes) -> Reply | None:
    """An IPv4 packet (header included) from a raw ICMP socket, as a reply, or None."""
    try:
        packet = IP(data)
        icmp = packet.getlayer(ICMP)
        if icmp is None:
            return None
        if icmp.type == ICMP_ECHO_REPLY:
            if PAD not in bytes(icmp.payload):
                return None  # another program's echo (a ping), not a probe of ours
            return Reply(packet.src, "echo-reply", FlowId("icmp", packet.src, icmp.id, 0), icmp.seq)
        if icmp.type == ICMP_TIME_EXCEEDED:
            kind = TIME_EXCEEDED
        elif icmp.type == ICMP_UNREACH:
            kind = UNREACHABLE_V4.get(icmp.code, f"unreachable-code-{icmp.code}")
        else:
            return None
        return _quoted(packet.src, kind, icmp.getlayer(IPerror))
    except Exception as exc:  # scapy raises struct.error, IndexError ... on garbage
        log.debug("ignored an ICMP packet scapy cannot parse: %r", exc)
        return None


def parse_icmp6(data: bytes, source: str) -> Reply | None:
    """An ICMPv6 message (no IPv6 header: raw sockets strip it) from ``source``, or None."""
    try:
        if not data:
            return None
        if data[0] == ICMP6_ECHO_REPLY:
            echo = ICMPv6EchoReply(data)
            if PAD not in echo.data:
                return None
            return Reply(source, "echo-reply", FlowId("icmp", source, echo.id, 0), echo.seq)
        if data[0] == ICMP6_TIME_EXCEEDED:
            kind, message = TIME_EXCEEDED, ICMPv6TimeExceeded(data)
        elif data[0] == ICMP6_UNREACH:
            message = ICMPv6DestUnreach(data)
            kind = UNREACHABLE_V6.get(message.code, f"unreachable-code-{message.code}")
        else:
            return None
        return _quoted(source, kind, message.getlayer(IPerror6))
    except Exception as exc:
        log.debug("ignored an ICMPv6 packet scapy cannot parse: %r", exc)
        return None


def parse_tcp(data: bytes, source: str | None = None) -> Reply | None:
    """A TCP segment from a raw TCP socket, as a destination's answer to a SYN, or None.

    IPv4 raw sockets deliver the IP header (``source`` None: read it from there); IPv6 ones
    deliver the segment alone, from ``source``.
    """
    offset = 13 + ((data[0] & 0x0F) * 4 if source is None and data else 0)
    if len(data) <= offset or not data[offset] & TCP_ACK or not data[offset] & (TCP_SYN | TCP_RST):
        return None  # the common case on a busy host, decided without scapy
    try:
        if source is None:
            packet = IP(data)
            source, segment = packet.src, packet.getlayer(TCP)
        else:
            segment = TCP(data)
        if segment is None:
            return None
        kind = "rst" if segment.flags.R else "syn-ack"
        flow = FlowId("tcp", source, segment.dport, segment.sport)
        return Reply(source, kind, flow, (segment.ack - 1) & 0xFFFFFFFF)
    except Exception as exc:
        log.debug("ignored a TCP segment scapy cannot parse: %r", exc)
        return None


def _quoted(source: str, kind: str, quote: Packet | None) -> Reply | None:
    """The reply an ICMP error makes, from the probe it quotes (None: not one of ours).

    scapy parses the quoted IP header; the eight transport octets after it are read as they
    came (``original``), since scapy gives up on a TCP header cut anywhere but at 8 or 20.
    """
    if quote is None or not quote.payload.original:
        return None
    method = QUOTED_METHODS.get(quote.nh if isinstance(quote, IPerror6) else quote.proto)
    transport = quote.payload.original[:8]
    if method is None or len(transport) < 8:
        return None
    if method == "icmp":
        echo = ICMP6_ECHO_REQUEST if isinstance(quote, IPerror6) else ICMP_ECHO_REQUEST
        if transport[0] != echo:
            return None
        flow = FlowId("icmp", quote.dst, struct.unpack_from("!H", transport, 4)[0], 0)
    else:
        flow = FlowId(method, quote.dst, *struct.unpack_from("!HH", transport))
    return Reply(source, kind, flow, probe_key(method, transport))
