"""The sockets of one traceroute call and the loop that drives its traces.

Probes leave through a raw ``IPPROTO_RAW`` socket per family (the whole IP packet is ours, as
scapy built it: TTL, identification, flow label); answers arrive on a raw ICMP socket per
family, plus a raw TCP socket per family for method tcp. Every socket is a
``netstats.wire.timestamping.StampedSocket``: an RTT is the kernel's receive stamp of the
answer minus the kernel's transmit stamp of the probe, so neither scapy's packet building nor
a busy interpreter lands in the figure.

All traces of one call share these sockets and one ``poll`` loop; each trace has its own
flow (a bound source port, or an ICMP identifier reserved in this process), derived from its
flow key (see ``flows``), which is how answers find their trace. Calls running at once in one
process each have their own sockets and see each other's answers, which they ignore: the flows
differ. Raw sockets have no ports, so nothing keeps another process from tracing the same
destination with the same ICMP identifier at the same moment (the same job and destination
traced twice at once): the udp and tcp methods are immune, their ports are bound.
"""

from __future__ import annotations

import errno
import itertools
import math
import secrets
import select
import socket
import struct
import threading
import time

from netstats.collectors import CollectorError
from netstats.wire.timestamping import Received, StampedSocket, TxStamp
from netstats_plugins._traceroute.flows import ATTEMPTS, ICMP_IDS, candidates, source_ports
from netstats_plugins._traceroute.probes import Flow, build_probe
from netstats_plugins._traceroute.replies import (
    ICMP6_ECHO_REPLY,
    ICMP6_TIME_EXCEEDED,
    ICMP6_UNREACH,
    ICMP_ECHO_REPLY,
    ICMP_TIME_EXCEEDED,
    ICMP_UNREACH,
    FlowId,
    Reply,
    parse_icmp4,
    parse_icmp6,
    parse_tcp,
)
from netstats_plugins._traceroute.trace import ProbeRecord, Trace

SOL_RAW, ICMP_FILTER, ICMP6_FILTER = 255, 1, 1
FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}
ICMP_PROTOCOLS = {4: socket.IPPROTO_ICMP, 6: socket.IPPROTO_ICMPV6}
NEEDS_RAW = (
    "traceroute needs raw sockets: run netstats as root or grant it CAP_NET_RAW "
    "(for example: setcap cap_net_raw+ep on the Python interpreter of its virtualenv)"
)
# ICMP identifiers in use by this process's traces, as (family, destination, identifier):
# replies find their trace by those three, so two traces at once must differ in one.
_icmp_ids_held: set[tuple[int, str, int]] = set()
_icmp_ids_lock = threading.Lock()


class FlowError(Exception):
    """A trace cannot start towards this destination (no route, family unavailable)."""


class TraceEngine:
    """Opens the sockets a call needs, reserves flows, and runs traces to completion."""

    def __init__(self, method: str) -> None:
        self.method = method
        self._senders: dict[int, StampedSocket] = {}
        self._receivers: dict[int, tuple[int, StampedSocket]] = {}  # fd -> (family, socket)
        self._reserved: list[socket.socket] = []
        self._icmp_ids: list[tuple[int, str, int]] = []
        self._ports: range | None = None

    def __enter__(self) -> TraceEngine:
        return self

    def __exit__(self, *exc_info) -> None:
        for sock in [*self._senders.values(), *(s for _, s in self._receivers.values())]:
            sock.close()
        for sock in self._reserved:
            sock.close()
        with _icmp_ids_lock:
            _icmp_ids_held.difference_update(self._icmp_ids)

    def flow(self, family: int, dst: str, dport: int, key: str) -> Flow:
        """The flow of ``key`` to ``dst``: source address by routing, source port or ICMP id
        the first free candidate of ``key`` (see ``flows``), held until the engine closes."""
        self._open(family)
        af = FAMILIES[family]
        try:
            with socket.socket(af, socket.SOCK_DGRAM) as probe:
                probe.connect((dst, dport or 9))  # a route lookup; sends nothing
                src = probe.getsockname()[0]
        except OSError as exc:
            raise FlowError(f"no route to {dst}: {exc.strerror or exc}") from None
        if self.method == "icmp":
            return Flow("icmp", family, src, dst, self._hold_icmp_id(family, dst, key), 0)
        sport = self._bind_port(af, src, key)
        return Flow(self.method, family, src, dst, sport, dport, secrets.randbits(32))

    def _hold_icmp_id(self, family: int, dst: str, key: str) -> int:
        with _icmp_ids_lock:
            for ident in itertools.islice(candidates(key, ICMP_IDS), ATTEMPTS):
                if (family, dst, ident) not in _icmp_ids_held:
                    _icmp_ids_held.add((family, dst, ident))
                    self._icmp_ids.append((family, dst, ident))
                    return ident
        raise FlowError(f"{ATTEMPTS} ICMP identifiers of flow key {key!r} are all in use")

    def _bind_port(self, af: int, src: str, key: str) -> int:
        # A bound socket holds the source port for the trace, so no other program (or
        # concurrent trace) sends from it and their answers cannot be mistaken for ours.
        if self._ports is None:
            self._ports = source_ports()
        kind = socket.SOCK_DGRAM if self.method == "udp" else socket.SOCK_STREAM
        for port in itertools.islice(candidates(key, self._ports), ATTEMPTS):
            holder = socket.socket(af, kind)
            try:
                holder.bind((src, port))
            except OSError as exc:
                holder.close()
                if exc.errno == errno.EADDRINUSE:
                    continue
                raise FlowError(
                    f"cannot reserve source port {port}: {exc.strerror or exc}"
                ) from None
            self._reserved.append(holder)
            return port
        raise FlowError(f"{ATTEMPTS} source ports of flow key {key!r} are all in use")

    def run(self, traces: list[Trace]) -> None:
        """Send, receive and time until every trace is done."""
        by_flow = {FlowId(t.flow.method, t.flow.dst, t.flow.sport, t.flow.dport): t for t in traces}
        pending: dict[tuple[int, int], ProbeRecord] = {}  # (family, tx key) -> probe
        poller = select.poll()
        for fd in self._receivers:
            poller.register(fd, select.POLLIN)
        for sender in self._senders.values():
            poller.register(sender, select.POLLERR)  # transmit stamps on the error queue
        while True:
            # Everything waiting is read before any probe is given up on: an answer that came
            # in time but finds the process busy (another thread holding the GIL) still counts.
            for family, sock in self._receivers.values():
                self._receive(family, sock, by_flow)
            self._collect_tx_stamps(pending)
            now = time.monotonic()
            live = []
            for trace in traces:
                trace.expire(now)
                self._send_due(trace, pending)
                if not trace.done:
                    live.append(trace)
                elif trace.finished_at is None:
                    trace.finished_at = now
            if not live:
                break
            wake = min(e for e in (t.next_event() for t in live) if e is not None)
            poller.poll(max(0, math.ceil((wake - time.monotonic()) * 1000)))

    def _open(self, family: int) -> None:
        if family in self._senders:
            return
        af = FAMILIES[family]
        protocols = [ICMP_PROTOCOLS[family]]
        if self.method == "tcp":
            protocols.append(socket.IPPROTO_TCP)
        try:
            sender = socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_RAW)
            receivers = [socket.socket(af, socket.SOCK_RAW, proto) for proto in protocols]
        except PermissionError:
            raise CollectorError(NEEDS_RAW) from None
        except OSError as exc:
            if exc.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
                raise FlowError(f"IPv{family} is not available on this host") from None
            raise
        _filter_icmp(receivers[0], family)
        self._senders[family] = StampedSocket(sender)
        for sock in receivers:
            sock.setblocking(False)
            self._receivers[sock.fileno()] = (family, StampedSocket(sock))

    def _send_due(self, trace: Trace, pending: dict[tuple[int, int], ProbeRecord]) -> None:
        sender = self._senders[trace.flow.family]
        while (ttl := trace.next_ttl(time.monotonic())) is not None:
            probe = build_probe(trace.flow, ttl, len(trace.records))
            try:
                sent = sender.send(probe.packet, (trace.flow.dst, 0))
            except OSError as exc:
                trace.error = f"cannot send to {trace.flow.dst}: {exc.strerror or exc}"
                return
            trace.sent(probe, time.monotonic(), sent.user_ns)
            pending[(trace.flow.family, sent.key)] = trace.records[-1]

    def _receive(self, family: int, sock: StampedSocket, by_flow: dict[FlowId, Trace]) -> None:
        while (received := sock.receive()) is not None:
            reply = _parse(family, sock.sock.proto, received)
            trace = by_flow.get(reply.flow) if reply is not None else None
            if trace is not None:
                trace.answer(reply, received.ns, received.kernel)

    def _collect_tx_stamps(self, pending: dict[tuple[int, int], ProbeRecord]) -> None:
        for family, sender in self._senders.items():
            for stamp in sender.read_tx_stamps():
                record = _stamped_probe(family, stamp, pending)
                if record is not None:
                    record.tx_ns, record.tx_kernel = stamp.ns, True


def _stamped_probe(
    family: int, stamp: TxStamp, pending: dict[tuple[int, int], ProbeRecord]
) -> ProbeRecord | None:
    """The probe a transmit stamp belongs to: by key, checked against the returned copy.

    A send that failed may or may not have consumed a key, so the copy of the packet is the
    authority; the search by content is the rare path.
    """
    record = pending.get((family, stamp.key))
    if record is not None and record.probe.transport in stamp.packet:
        return pending.pop((family, stamp.key))
    for key, candidate in pending.items():
        if key[0] == family and candidate.probe.transport in stamp.packet:
            return pending.pop(key)
    return None


def _parse(family: int, proto: int, received: Received) -> Reply | None:
    source = received.address[0].partition("%")[0]  # an IPv6 scope suffix is no part of it
    if proto == socket.IPPROTO_TCP:
        return parse_tcp(received.data, source if family == 6 else None)
    if family == 4:
        return parse_icmp4(received.data)
    return parse_icmp6(received.data, source)


def _filter_icmp(sock: socket.socket, family: int) -> None:
    """Let the kernel drop ICMP types that cannot answer a probe (a bit set means drop)."""
    if family == 4:
        wanted = (1 << ICMP_ECHO_REPLY) | (1 << ICMP_UNREACH) | (1 << ICMP_TIME_EXCEEDED)
        sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("I", ~wanted & 0xFFFFFFFF))
        return
    words = [0xFFFFFFFF] * 8
    for kind in (ICMP6_UNREACH, ICMP6_TIME_EXCEEDED, ICMP6_ECHO_REPLY):
        words[kind >> 5] &= ~(1 << (kind & 31)) & 0xFFFFFFFF
    sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("8I", *words))
