"""A userspace ICMP/ICMPv6 echo responder for the lab, with kernel-stamped ground truth.

Run it inside a namespace whose kernel does not answer echo requests
(``net.ipv4.icmp_echo_ignore_all=1``, ``net.ipv6.icmp.echo_ignore_all=1``)::

    python -m tests.lab.icmp_responder CONTROL_SOCKET

It answers every echo request to any local address of its namespace, from that address,
after a hold drawn from the configured delay and jitter, and records per request
(destination, identifier, sequence) the hold it really applied: the kernel transmit stamp
of its first good reply minus the kernel receive stamp of the request. A prober's RTT
minus that hold is the prober's own error (plus a few microseconds on the veth).

Tests drive it through a Unix socket, one JSON object per line, one answer per request:

- ``{"op": "configure", "delay_ms": 2, "jitter_ms": 1, "seed": 7, "drop_every": 0,
  "actions": {"3": ["wrong_id", "reply"]}}`` forgets all records and sets the behaviour.
  Requests are numbered per destination address from 0; ``actions`` scripts what request
  N gets, in order: ``reply``, ``wrong_id``, ``bad_checksum``, ``truncated`` (half the
  payload), ``runt`` (4 bytes of ICMP header). ``[]`` drops it, ``["reply", "reply"]``
  duplicates it. ``drop_every: n`` drops requests n-1, 2n-1, ... Unscripted: ``["reply"]``.
- ``{"op": "records"}`` answers ``{"records": [{"dst", "src", "id", "seq", "index",
  "rx_ns", "ttl", "hold_ns", "replies", "actions"}, ...]}`` in arrival order; ``hold_ns`` is null
  when no good reply went out, ``replies`` counts the good ones.
- ``{"op": "ping"}`` answers ``{"ok": true}`` (readiness).
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
import random
import select
import socket
import struct
import sys
import time
from dataclasses import asdict, dataclass, field

from netstats.wire.icmp import checksum, decode_echo_request, echo_reply
from netstats.wire.timestamping import StampedSocket

IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
SOL_RAW, ICMP_FILTER, ICMP6_FILTER = 255, 1, 1
ACTIONS = {"reply", "wrong_id", "bad_checksum", "truncated", "runt"}


@dataclass
class Record:
    """Ground truth of one echo request."""

    dst: str
    src: str
    id: int
    seq: int
    index: int
    rx_ns: int
    ttl: int | None
    actions: list[str]
    hold_ns: int | None = None
    replies: int = 0


@dataclass
class Config:
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    seed: int = 0
    drop_every: int = 0
    actions: dict[int, list[str]] = field(default_factory=dict)


class Responder:
    """The raw sockets, the schedule of replies and the records."""

    def __init__(self) -> None:
        self.v4 = self._open(socket.AF_INET)
        self.v6 = self._open(socket.AF_INET6)
        self.v6_hdrinc = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.config = Config()
        self.random = random.Random(0)
        self.records: list[Record] = []
        self.counters: dict[str, int] = {}
        self.due: list[tuple[int, int, socket.AddressFamily, Record, bytes]] = []
        self.order = itertools.count()
        self.first_reply_key: dict[tuple[int, int], Record] = {}

    @staticmethod
    def _open(family: int) -> StampedSocket:
        if family == socket.AF_INET:
            sock = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", ~(1 << 8) & 0xFFFFFFFF))
        else:
            sock = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
            blocked = [0xFFFFFFFF] * 8
            blocked[128 >> 5] &= ~(1 << (128 & 31))
            sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("=8I", *blocked))
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
        sock.setsockopt(socket.SOL_SOCKET, 33, 8 * 1024 * 1024)  # SO_RCVBUFFORCE: keep up
        sock.setblocking(False)
        stamped = StampedSocket(sock)
        if not stamped.kernel:
            sys.exit("icmp_responder: the kernel gives no timestamps; no ground truth")
        return stamped

    def configure(self, raw: dict) -> None:
        actions = {int(k): list(v) for k, v in raw.get("actions", {}).items()}
        unknown = {a for v in actions.values() for a in v} - ACTIONS
        if unknown:
            raise ValueError(f"unknown actions {sorted(unknown)}")
        self.config = Config(
            delay_ms=float(raw.get("delay_ms", 0)),
            jitter_ms=float(raw.get("jitter_ms", 0)),
            seed=int(raw.get("seed", 0)),
            drop_every=int(raw.get("drop_every", 0)),
            actions=actions,
        )
        self.random = random.Random(self.config.seed)
        self.records.clear()
        self.counters.clear()

    # --- requests in, replies out ----------------------------------------------------------

    def read_requests(self, stamped: StampedSocket, family: int) -> None:
        while (received := stamped.receive()) is not None:
            if family == socket.AF_INET:
                request = decode_echo_request(family, received.data, ip_header=True)
                dst = socket.inet_ntop(family, received.data[16:20]) if request else None
                ttl = request.ttl if request else None
            else:
                request = decode_echo_request(family, received.data, ip_header=False)
                dst = _ancillary_v6(received.ancillary, IPV6_PKTINFO)
                ttl = _ancillary_v6(received.ancillary, IPV6_HOPLIMIT)
            if request is None or dst is None:
                continue
            index = self.counters.get(dst, 0)
            self.counters[dst] = index + 1
            cfg = self.config
            dropped = cfg.drop_every and (index + 1) % cfg.drop_every == 0
            actions = cfg.actions.get(index, [] if dropped else ["reply"])
            record = Record(
                dst,
                received.address[0],
                request.ident,
                request.seq,
                index,
                received.ns,
                ttl,
                actions,
            )
            self.records.append(record)
            hold = cfg.delay_ms + self.random.uniform(-cfg.jitter_ms, cfg.jitter_ms)
            at = received.ns + int(max(0.0, hold) * 1e6)
            heapq.heappush(self.due, (at, next(self.order), family, record, request.payload))

    def send_due(self) -> None:
        now = time.time_ns()
        while self.due and self.due[0][0] <= now:
            _at, _n, family, record, payload = heapq.heappop(self.due)
            for action in record.actions:
                self._send(family, record, payload, action)

    def _send(self, family: int, record: Record, payload: bytes, action: str) -> None:
        ident = record.id ^ 0x5555 if action == "wrong_id" else record.id
        if action == "truncated":
            payload = payload[: len(payload) // 2]
        packet = bytearray(echo_reply(family, ident, record.seq, payload))
        if action == "runt":
            packet = bytearray(packet[:4])
            struct.pack_into("!H", packet, 2, 0)
            struct.pack_into("!H", packet, 2, checksum(bytes(packet)))
        if action == "bad_checksum":
            self._send_bad_checksum(family, record, packet)
            return
        stamped = self.v4 if family == socket.AF_INET else self.v6
        try:
            sent = stamped.send(bytes(packet), (record.src, 0), _source(family, record.dst))
        except OSError as exc:
            print(f"icmp_responder: send to {record.src}: {exc}", file=sys.stderr)
            return
        if action == "reply":
            record.replies += 1
            if record.replies == 1:
                self.first_reply_key[(family, sent.key)] = record

    def _send_bad_checksum(self, family: int, record: Record, packet: bytearray) -> None:
        if family == socket.AF_INET:
            good = struct.unpack_from("!H", packet, 2)[0]
            struct.pack_into("!H", packet, 2, good ^ 0x00FF)
            self.v4.send(bytes(packet), (record.src, 0), _source(family, record.dst))
            return
        # ICMPv6 raw sockets always get their checksum from the kernel; a wrong one needs the
        # whole IPv6 packet written by hand.
        src = socket.inet_pton(family, record.dst)
        dst = socket.inet_pton(family, record.src)
        pseudo = src + dst + struct.pack("!I3xB", len(packet), socket.IPPROTO_ICMPV6)
        struct.pack_into("!H", packet, 2, checksum(pseudo + bytes(packet)) ^ 0x00FF)
        header = struct.pack("!IHBB", 6 << 28, len(packet), socket.IPPROTO_ICMPV6, 64)
        self.v6_hdrinc.sendto(header + src + dst + bytes(packet), (record.src, 0))

    def read_stamps(self) -> None:
        for family, stamped in ((socket.AF_INET, self.v4), (socket.AF_INET6, self.v6)):
            for stamp in stamped.read_tx_stamps():
                record = self.first_reply_key.pop((family, stamp.key), None)
                if record is not None:
                    record.hold_ns = stamp.ns - record.rx_ns

    # --- control -------------------------------------------------------------------------

    def answer(self, line: bytes) -> dict:
        try:
            request = json.loads(line)
            op = request.get("op")
            if op == "configure":
                self.configure(request)
                return {"ok": True}
            if op == "records":
                self.read_stamps()
                return {"records": [asdict(r) for r in self.records]}
            if op == "ping":
                return {"ok": True}
            return {"error": f"unknown op {op!r}"}
        except (ValueError, TypeError, AttributeError) as exc:
            return {"error": str(exc)}


def _source(family: int, address: str) -> list[tuple[int, int, bytes]]:
    """Control message that makes a reply leave from the address the request went to."""
    packed = socket.inet_pton(family, address)
    if family == socket.AF_INET:
        return [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("=I4s4s", 0, packed, bytes(4)))]
    return [(socket.IPPROTO_IPV6, IPV6_PKTINFO, packed + struct.pack("=I", 0))]


def _ancillary_v6(ancillary: list[tuple[int, int, bytes]], wanted: int):
    """The request's destination (IPV6_PKTINFO) or hop limit (IPV6_HOPLIMIT), if present."""
    for level, kind, data in ancillary:
        if level != socket.IPPROTO_IPV6 or kind != wanted:
            continue
        if kind == IPV6_PKTINFO and len(data) >= 16:
            return socket.inet_ntop(socket.AF_INET6, data[:16])
        if kind == IPV6_HOPLIMIT and len(data) >= 4:
            return struct.unpack_from("=i", data)[0]
    return None


def serve(control_path: str) -> None:
    """Answer echo requests and control requests until killed."""
    responder = Responder()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(control_path):
        os.unlink(control_path)
    server.bind(control_path)
    server.listen()
    server.setblocking(False)
    epoll = select.epoll()
    sockets = {
        responder.v4.fileno(): ("icmp", socket.AF_INET, responder.v4),
        responder.v6.fileno(): ("icmp", socket.AF_INET6, responder.v6),
        server.fileno(): ("server", None, server),
    }
    for fd in sockets:
        epoll.register(fd, select.EPOLLIN)
    buffers: dict[int, bytearray] = {}
    while True:
        wait = max(0.0, (responder.due[0][0] - time.time_ns()) / 1e9) if responder.due else -1
        for fd, _mask in epoll.poll(wait):
            role, family, obj = sockets[fd]
            if role == "icmp":
                responder.read_requests(obj, family)
            elif role == "server":
                conn, _ = obj.accept()
                conn.setblocking(False)
                sockets[conn.fileno()] = ("client", None, conn)
                buffers[conn.fileno()] = bytearray()
                epoll.register(conn.fileno(), select.EPOLLIN)
            else:
                _serve_client(responder, epoll, sockets, buffers, fd, obj)
            responder.send_due()
        responder.send_due()
        responder.read_stamps()


def _serve_client(responder, epoll, sockets, buffers, fd, conn) -> None:
    try:
        chunk = conn.recv(65536)
    except BlockingIOError:
        return
    if not chunk:
        epoll.unregister(fd)
        del sockets[fd], buffers[fd]
        conn.close()
        return
    buffers[fd] += chunk
    while b"\n" in buffers[fd]:
        line, _, rest = bytes(buffers[fd]).partition(b"\n")
        buffers[fd] = bytearray(rest)
        conn.setblocking(True)
        conn.sendall(json.dumps(responder.answer(line)).encode() + b"\n")
        conn.setblocking(False)


if __name__ == "__main__":
    serve(sys.argv[1])
