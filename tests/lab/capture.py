"""The wire as ground truth: every IP packet through a namespace's interfaces, kernel-stamped.

A packet socket (``AF_PACKET``) sees a namespace's outgoing packets as they are handed to the
driver and its incoming ones as they enter the stack, each with the kernel's software
timestamp: what ``tcpdump -j adapter_unsynced`` would record, without a process to start
and synchronise. Decoding here is deliberately independent of the collector's own parsers.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from netstats.collectors import Measurement
from netstats.wire.timestamping import StampedSocket
from tests.lab.netns import Namespace

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


@dataclass(frozen=True)
class Frame:
    """One IP packet seen on the wire: direction, kernel stamp (ns) and the packet itself."""

    outgoing: bool
    ns: int | None  # None: the kernel gave this one no stamp
    packet: bytes


class Capture:
    """Records every IP packet of ``ns`` from construction until ``frames()`` is read."""

    def __init__(self, ns: Namespace) -> None:
        with ns.entered():
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._sock = StampedSocket(sock)

    def frames(self) -> list[Frame]:
        """The packets captured so far, in arrival order (the socket is closed after)."""
        found = []
        while (received := self._sock.receive()) is not None:
            outgoing = received.address[2] == PACKET_OUTGOING
            found.append(Frame(outgoing, received.ns if received.kernel else None, received.data))
        self._sock.close()
        return found


def wire_errors_us(m: Measurement, frames: list[Frame]) -> list[float]:
    """Per answered probe of a traceroute: its RTT minus the RTT on the wire, in microseconds.

    The wire RTT of a probe is the stamp of the first packet answering it minus the stamp of
    the probe leaving, both found by the probe's key (``details.hops[].probes[].key``).
    """
    method = m.details["method"]
    version = 4 if m.details["family"] == "ipv4" else 6
    mine = [f for f in frames if f.packet and f.packet[0] >> 4 == version]
    sent = {probe_key(method, f.packet): f.ns for f in mine if f.outgoing}
    answered: dict[int | None, int | None] = {}
    for f in mine:
        if not f.outgoing:
            answered.setdefault(answer_key(method, f.packet), f.ns)
    errors = []
    for hop in m.details["hops"]:
        for probe in hop["probes"]:
            if probe["rtt_ms"] is None:
                continue
            left, back = sent.get(probe["key"]), answered.get(probe["key"])
            assert left is not None and back is not None, (
                f"probe {probe} (TTL {hop['ttl']}): no kernel-stamped frame on the wire, "
                f"out {left}, back {back}"
            )
            errors.append(probe["rtt_ms"] * 1000 - (back - left) / 1000)
    return errors


def probe_key(method: str, packet: bytes) -> int | None:
    """The key of an outgoing traceroute probe (see the collector's probes module)."""
    transport = _transport(packet)
    if transport is None or len(transport) < 8:
        return None
    if method == "tcp":
        return struct.unpack_from("!I", transport, 4)[0]
    return struct.unpack_from("!H", transport, 6)[0]


def answer_key(method: str, packet: bytes) -> int | None:
    """The key of the probe an incoming packet answers: quoted, echoed or acknowledged."""
    version = packet[0] >> 4
    proto = packet[9] if version == 4 else packet[6]
    transport = _transport(packet)
    if transport is None:
        return None
    if proto == 6:
        return (struct.unpack_from("!I", transport, 8)[0] - 1) & 0xFFFFFFFF
    if transport[0] in (0, 129):  # echo reply: the sequence number is the key
        return struct.unpack_from("!H", transport, 6)[0]
    if transport[0] in ((3, 11) if version == 4 else (1, 3)):
        return probe_key(method, transport[8:])
    return None


def _transport(packet: bytes) -> bytes | None:
    if not packet:
        return None
    if packet[0] >> 4 == 4:
        return packet[(packet[0] & 0x0F) * 4 :]
    if packet[0] >> 4 == 6:
        return packet[40:]
    return None
