"""The shared ping engine: one ICMP socket per family per network namespace per process.

A raw ICMP socket sees every echo reply of its network namespace, so one socket per target
(or per call) means every socket reads, and must drop, everybody's replies: the classic cause
of false loss in async pingers under load. Instead every ``ping()`` call of a process, from
any thread, goes through one engine per network namespace (sockets stay in the namespace they
were opened in, and a thread may have entered another namespace, so the engine is keyed by the
calling thread's namespace). One engine thread sends on schedule, reads replies and transmit
stamps, and hands each reply to the probe it answers, identified by

- the echo identifier of the engine's socket,
- the (source address, sequence) of a probe in flight (sequences never repeat per address
  while in flight, across all calls),
- the payload: a marker and a token unique to the probe, which must come back unchanged.

RTT = kernel receive stamp of the reply - kernel transmit stamp of the request (see
``timestamping``), so the engine thread being late (the GIL held by another thread, a loaded
machine) delays only when a reply is read, not the figure. A probe counts as answered when
that RTT is within its ``timeout``; before a probe is declared lost every waiting packet is
read, so a reply that arrived in time but was read late still counts.

A hand-written engine rather than a library: none of the Python ICMP libraries reads kernel
transmit stamps, and their per-call sockets are what the paragraph above warns about.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from netstats.wire.icmp import decode_echo_reply, echo_request
from netstats.wire.icmp_socket import IcmpPermissionError, IcmpSocket, open_icmp_socket
from netstats.wire.pacing import schedule
from netstats.wire.resolve import Resolved
from netstats.wire.timestamping import Received, TxStamp
from netstats_plugins._ping.payload import MARKER, MIN_PAYLOAD, TOKEN, filler

log = logging.getLogger(__name__)

# Room beyond the payload for a received packet's IPv4 header (options included) and ICMP header.
_HEADROOM = 60 + 8


class EngineError(Exception):
    """The engine could not run a round (it was closed, or its thread failed)."""


@dataclass
class ProbeResult:
    """One probe: its identifier and sequence on the wire, RTT (None when lost), reply TTL.

    ``kernel_stamps`` says both ends of the RTT are kernel timestamps.
    """

    ident: int
    seq: int
    rtt_ns: int | None
    ttl: int | None
    kernel_stamps: bool


@dataclass
class TargetResult:
    """The probes of one target in send order, duplicate replies, and the first send error."""

    probes: list[ProbeResult]
    duplicates: int
    error: str | None
    socket_kind: str | None  # "raw" | "datagram", None when no socket could be opened
    duration_s: float


@dataclass(eq=False)
class _Round:
    """One ``ping()`` call: its probes and the event its caller waits on."""

    timeout_ns: int
    remaining: int
    started: float
    duplicates: list[int]
    errors: list[str | None]
    finished_at: list[float]
    schedule: list[tuple[float, _Probe]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    failure: str | None = None


@dataclass(eq=False)
class _Probe:
    """One echo request: where it goes, what it carried, and its stamps as they come in."""

    round: _Round
    target: int
    channel: _Channel
    sockaddr: tuple
    address: str
    size: int
    ancillary: list
    ident: int = 0
    seq: int = 0
    payload: bytes = b""
    token: bytes = b""
    user_tx_ns: int | None = None
    tx_ns: int | None = None
    rx_ns: int | None = None
    rx_kernel: bool = False
    ttl: int | None = None
    rtt_ns: int | None = None
    finished: bool = False


@dataclass(eq=False)
class _Channel:
    """The socket of one family and the probes in flight on it."""

    icmp: IcmpSocket
    next_seq: int
    bufsize: int = 1024
    in_flight: dict[tuple[str, int], _Probe] = field(default_factory=dict)
    by_token: dict[bytes, _Probe] = field(default_factory=dict)

    def allocate_seq(self, address: str) -> int | None:
        """A sequence number not in flight to ``address``; None if all 65536 are."""
        for _ in range(0x10000):
            seq = self.next_seq
            self.next_seq = (seq + 1) & 0xFFFF
            if (address, seq) not in self.in_flight:
                return seq
        return None


class PingEngine:
    """Sends echo requests on schedule and matches replies, for every caller of one namespace.

    Thread-safe: any number of threads may call ``ping`` at once. Sockets are opened on first
    use by the calling thread, so in that thread's network namespace.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[int, _Channel] = {}
        self._by_fd: dict[int, _Channel] = {}
        self._sends: list[tuple[float, int, _Probe]] = []
        self._deadlines: list[tuple[float, int, _Probe]] = []
        self._order = itertools.count()
        self._tokens = itertools.count()
        self._salt = int.from_bytes(os.urandom(4), "big")
        self._epoll = select.epoll()
        self._wake_rx, self._wake_tx = socket.socketpair()
        self._wake_rx.setblocking(False)
        self._wake_tx.setblocking(False)
        self._epoll.register(self._wake_rx.fileno(), select.EPOLLIN)
        self._thread: threading.Thread | None = None
        self._rounds: set[_Round] = set()
        self._incoming: list[_Round] = []  # submitted, not yet scheduled by the engine thread
        self._closed = False
        self.broken: str | None = None

    def ping(
        self,
        targets: Sequence[Resolved],
        *,
        count: int,
        interval: float,
        timeout: float,
        size: int = 56,
        rate: float = 100.0,
        ttl: int | None = None,
    ) -> list[TargetResult]:
        """Probe each target ``count`` times; one ``TargetResult`` per target, in order.

        ``interval`` seconds between probes to one target, at most ``rate`` packets per
        second over the whole call, each probe answered within ``timeout`` seconds or lost;
        ``size`` payload bytes (at least ``MIN_PAYLOAD``), ``ttl`` for the requests.
        Raises ``IcmpPermissionError`` when no ICMP socket may be opened.
        """
        if size < MIN_PAYLOAD:
            raise ValueError(f"size must be at least {MIN_PAYLOAD} bytes")
        channels, unavailable = self._open_channels({t.family for t in targets})
        usable = [i for i, t in enumerate(targets) if t.family in channels]
        slots = schedule(len(usable), count, interval, rate)
        now = time.monotonic()
        rnd = _Round(
            timeout_ns=int(timeout * 1e9),
            remaining=len(slots),
            started=now,
            duplicates=[0] * len(targets),
            errors=[unavailable.get(t.family) for t in targets],
            finished_at=[now] * len(targets),
        )
        probes: list[list[_Probe]] = [[] for _ in targets]
        with self._lock:
            if self._closed:
                raise EngineError("the ping engine is closed")
            for slot in slots:
                index = usable[slot.target]
                target = targets[index]
                channel = channels[target.family]
                ancillary = channel.icmp.ttl_ancillary(ttl) if ttl else []
                probe = _Probe(
                    rnd, index, channel, target.sockaddr, _host(target.sockaddr), size, ancillary
                )
                probes[index].append(probe)
                rnd.schedule.append((slot.offset, probe))
            if slots:
                self._rounds.add(rnd)
                self._incoming.append(rnd)
                self._start()
        if slots:
            self._wake()
            rnd.done.wait()
        if rnd.failure:
            raise EngineError(rnd.failure)
        return [
            TargetResult(
                probes=[
                    ProbeResult(
                        p.ident,
                        p.seq,
                        p.rtt_ns,
                        p.ttl if p.rtt_ns is not None else None,
                        p.rtt_ns is not None and p.tx_ns is not None and p.rx_kernel,
                    )
                    for p in probes[i]
                ],
                duplicates=rnd.duplicates[i],
                error=rnd.errors[i],
                socket_kind=channels[t.family].icmp.kind if t.family in channels else None,
                duration_s=max(0.0, rnd.finished_at[i] - rnd.started),
            )
            for i, t in enumerate(targets)
        ]

    def close(self) -> None:
        """Stop the engine thread and close the sockets; rounds still running fail."""
        with self._lock:
            self._closed = True
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            self._fail_rounds("the ping engine was closed")
            for channel in self._channels.values():
                channel.icmp.close()
            self._channels.clear()
            self._by_fd.clear()
        self._epoll.close()
        self._wake_rx.close()
        self._wake_tx.close()

    # --- caller side ---------------------------------------------------------------------

    def _open_channels(self, families: set[int]) -> tuple[dict[int, _Channel], dict[int, str]]:
        """The channel of each family, and why a family has none (IPv6 disabled, say)."""
        channels: dict[int, _Channel] = {}
        unavailable: dict[int, str] = {}
        for family in families:
            try:
                channels[family] = self._channel(family)
            except IcmpPermissionError:
                raise
            except OSError as exc:
                name = "ICMP" if family == socket.AF_INET else "ICMPv6"
                unavailable[family] = f"cannot open an {name} socket: {exc.strerror or exc}"
        return channels, unavailable

    def _channel(self, family: int) -> _Channel:
        with self._lock:
            channel = self._channels.get(family)
            if channel is None:
                icmp = open_icmp_socket(family)
                channel = _Channel(icmp, next_seq=int.from_bytes(os.urandom(2), "big"))
                self._channels[family] = channel
                self._by_fd[icmp.stamped.fileno()] = channel
                self._epoll.register(icmp.stamped.fileno(), select.EPOLLIN)
            return channel

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="netstats-ping", daemon=True)
            self._thread.start()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # already awake (buffer full), or closed
            self._wake_tx.send(b"\0")

    # --- engine thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed:
                        return
                    self._admit(time.monotonic())
                    self._send_due(time.monotonic())
                    wait = self._next_wait(time.monotonic())
                events = self._epoll.poll(wait)
                with self._lock:
                    for fd, _mask in events:
                        if fd == self._wake_rx.fileno():
                            self._drain_wake()
                        elif fd in self._by_fd:
                            self._read(self._by_fd[fd])
                    self._expire(time.monotonic())
        except Exception as exc:
            log.exception("ping engine failed")
            with self._lock:
                self.broken = f"ping engine failed: {exc!r}"
                self._fail_rounds(self.broken)

    def _next_wait(self, now: float) -> float:
        times = [heap[0][0] for heap in (self._sends, self._deadlines) if heap]
        return max(0.0, min(times) - now) if times else -1

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_rx.recv(4096):
                pass

    def _admit(self, now: float) -> None:
        # A round's schedule starts when this thread first sees it, not when it was submitted:
        # a thread that is slow to wake then delays the round, never squeezes its first gaps.
        for rnd in self._incoming:
            rnd.started = now
            for offset, probe in rnd.schedule:
                heapq.heappush(self._sends, (now + offset, next(self._order), probe))
            rnd.schedule = []
        self._incoming.clear()

    def _send_due(self, now: float) -> None:
        while self._sends and self._sends[0][0] <= now:
            _at, _order, probe = heapq.heappop(self._sends)
            self._send(probe)

    def _send(self, probe: _Probe) -> None:
        channel = probe.channel
        probe.ident = channel.icmp.ident
        seq = channel.allocate_seq(probe.address)
        if seq is None:
            self._send_failed(probe, f"65536 requests already in flight to {probe.address}")
            return
        probe.seq = seq
        probe.token = TOKEN.pack(MARKER, self._salt, next(self._tokens) & 0xFFFFFFFF)[4:]
        probe.payload = MARKER + probe.token + filler(probe.size - MIN_PAYLOAD)
        packet = echo_request(channel.icmp.family, probe.ident, probe.seq, probe.payload)
        try:
            sent = channel.icmp.stamped.send(packet, probe.sockaddr, probe.ancillary)
        except OSError as exc:
            self._send_failed(probe, f"cannot send to {probe.address}: {exc.strerror or exc}")
            return
        probe.user_tx_ns = sent.user_ns
        channel.in_flight[(probe.address, probe.seq)] = probe
        channel.by_token[probe.token] = probe
        channel.bufsize = max(channel.bufsize, probe.size + _HEADROOM)
        deadline = time.monotonic() + probe.round.timeout_ns / 1e9
        heapq.heappush(self._deadlines, (deadline, next(self._order), probe))

    def _send_failed(self, probe: _Probe, message: str) -> None:
        errors = probe.round.errors
        if errors[probe.target] is None:
            errors[probe.target] = message
        self._finish(probe)

    def _read(self, channel: _Channel) -> None:
        # Stamps first: a reply can only be timed once its request's transmit stamp is known.
        for stamp in channel.icmp.stamped.read_tx_stamps():
            self._on_tx_stamp(channel, stamp)
        while True:
            try:
                received = channel.icmp.stamped.receive(channel.bufsize)
            except OSError as exc:  # a pending socket error: reported once, then cleared
                log.debug("ping socket error: %s", exc)
                return
            if received is None:
                return
            try:
                self._on_reply(channel, received)
            except Exception:  # whatever a packet holds, the engine keeps running
                log.exception("ignored a reply the engine could not handle")

    def _on_tx_stamp(self, channel: _Channel, stamp: TxStamp) -> None:
        # The stamp's key is not trusted (a failed send may have consumed one): the copy of the
        # packet that comes with it carries the probe's token.
        at = stamp.packet.find(MARKER)
        while at >= 0:
            probe = channel.by_token.pop(stamp.packet[at + 4 : at + TOKEN.size], None)
            if probe is not None:
                probe.tx_ns = stamp.ns
                if probe.rx_ns is not None and not probe.finished:
                    self._answer(probe)
                return
            at = stamp.packet.find(MARKER, at + 1)

    def _on_reply(self, channel: _Channel, received: Received) -> None:
        echo = decode_echo_reply(channel.icmp.family, received.data, channel.icmp.ip_header)
        if echo is None or echo.ident != channel.icmp.ident or received.truncated:
            return
        probe = channel.in_flight.get((_host(received.address), echo.seq))
        if probe is None or echo.payload != probe.payload:
            return
        if probe.rx_ns is not None:
            probe.round.duplicates[probe.target] += 1
            return
        if probe.finished:
            return  # answered after its timeout: lost, as ping counts it
        probe.rx_ns = received.ns
        probe.rx_kernel = received.kernel
        probe.ttl = echo.ttl if echo.ttl is not None else channel.icmp.reply_ttl(received)
        if probe.tx_ns is not None or not channel.icmp.stamped.kernel:
            self._answer(probe)

    def _answer(self, probe: _Probe) -> None:
        sent_ns = probe.tx_ns if probe.tx_ns is not None else probe.user_tx_ns
        rtt_ns = probe.rx_ns - sent_ns
        if rtt_ns <= probe.round.timeout_ns:
            probe.rtt_ns = rtt_ns
        self._finish(probe)

    def _expire(self, now: float) -> None:
        if not self._deadlines or self._deadlines[0][0] > now:
            return
        # Read what has arrived before declaring anything lost: the thread may have been late.
        for channel in self._channels.values():
            self._read(channel)
        while self._deadlines and self._deadlines[0][0] <= now:
            _at, _order, probe = heapq.heappop(self._deadlines)
            if probe.finished:
                continue
            if probe.rx_ns is not None:
                self._answer(probe)  # no kernel transmit stamp came: the user-space one serves
            else:
                self._finish(probe)

    def _finish(self, probe: _Probe) -> None:
        probe.finished = True
        probe.channel.by_token.pop(probe.token, None)
        rnd = probe.round
        rnd.finished_at[probe.target] = time.monotonic()
        rnd.remaining -= 1
        if rnd.remaining == 0:
            self._end_round(rnd)

    def _end_round(self, rnd: _Round) -> None:
        # Replies are matched until the whole round ends, so duplicates of any probe count.
        for channel in self._channels.values():
            for key in [k for k, p in channel.in_flight.items() if p.round is rnd]:
                del channel.in_flight[key]
        self._rounds.discard(rnd)
        rnd.done.set()

    def _fail_rounds(self, message: str) -> None:
        for rnd in list(self._rounds):
            rnd.failure = message
            self._end_round(rnd)
        self._sends.clear()
        self._deadlines.clear()
        self._incoming.clear()


def _host(address: tuple) -> str:
    """The sender's address without an IPv6 zone (getaddrinfo drops it, recvmsg keeps it)."""
    return address[0].partition("%")[0]


# --- one engine per network namespace ------------------------------------------------------

_engines: dict[tuple[int, int] | None, PingEngine] = {}
_engines_lock = threading.Lock()


def namespace_key() -> tuple[int, int] | None:
    """The calling thread's network namespace (device, inode); None where there is no such thing."""
    try:
        st = os.stat("/proc/thread-self/ns/net")
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def engine() -> PingEngine:
    """The engine of the calling thread's network namespace, created on first use."""
    key = namespace_key()
    with _engines_lock:
        found = _engines.get(key)
        if found is not None and found.broken:
            found.close()
            found = None
        if found is None:
            found = _engines[key] = PingEngine()
        return found


def _forget_engines_after_fork() -> None:
    # A forked child (a process-pool worker) has the sockets but not the engine threads.
    global _engines, _engines_lock
    _engines = {}
    _engines_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_engines_after_fork)


def close_engines() -> None:
    """Close every engine of this process (their namespaces may then go away)."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for eng in engines:
        eng.close()
