"""One trace's schedule and record: which probe goes next, which answers count. No sockets.

Probes go out in rounds, mtr-style: round one sends one probe per TTL from ``first_ttl``
up, round two does it again, up to ``queries`` rounds. Consecutive probes of one router are
therefore a whole round apart rather than back to back, which is what keeps a router's ICMP
rate limit (Linux: a burst of six, then one per second per peer) from swallowing answers.
Within that order at most ``window`` probes are in flight, and consecutive sends are at least
``interval`` seconds apart.

The first final answer (the destination's reply, or an unreachable) at TTL ``t`` caps the
trace at ``t``: probes with a higher TTL still unsent are skipped, those in flight ignored.
Times here are ``time.monotonic()`` seconds, for scheduling only; RTTs use the nanosecond
stamps of ``netstats.wire``. Pure and free of scapy, so the collector's parameters (``METHODS``)
come from here without loading the packet library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # they import scapy, which the collector loads only when it traces
    from netstats_plugins._traceroute.probes import Flow, Probe
    from netstats_plugins._traceroute.replies import Reply

METHODS = ("icmp", "udp", "tcp")


@dataclass(frozen=True)
class Schedule:
    """The parameters that shape a trace's sending."""

    first_ttl: int
    max_hops: int
    queries: int
    window: int
    interval: float
    timeout: float


@dataclass
class ProbeRecord:
    """A sent probe and what became of it."""

    probe: Probe
    sent_at: float  # monotonic seconds, for the timeout
    tx_ns: int  # when it left: the kernel's stamp once known, until then a user-space one
    tx_kernel: bool = False
    reply: Reply | None = None
    rx_ns: int | None = None
    rx_kernel: bool = False
    expired: bool = False

    @property
    def rtt_ms(self) -> float | None:
        """Round-trip time in milliseconds, None when no answer came in time."""
        if self.reply is None or self.rx_ns is None:
            return None
        return (self.rx_ns - self.tx_ns) / 1e6


@dataclass
class Trace:
    """The state of one trace: the next probe to send, what is in flight, what came back."""

    flow: Flow
    schedule: Schedule
    records: list[ProbeRecord] = field(default_factory=list)
    limit: int = 0  # the highest TTL that still matters
    error: str | None = None
    finished_at: float | None = None  # monotonic seconds, set by whoever drives the trace
    _round: int = 0
    _ttl: int = 0
    _next_send: float = 0.0
    _by_key: dict[int, ProbeRecord] = field(default_factory=dict)
    _flight: dict[int, ProbeRecord] = field(default_factory=dict)  # by key, in send order

    def __post_init__(self) -> None:
        self.limit = self.schedule.max_hops
        self._ttl = self.schedule.first_ttl

    @property
    def done(self) -> bool:
        """Nothing left to send and no probe that matters still in flight (or failed)."""
        return self.error is not None or (self._exhausted() and not self._flight)

    def next_ttl(self, now: float) -> int | None:
        """The TTL of the probe to send now, or None when it is not yet time (or no more)."""
        if self.error is not None or self._exhausted() or now < self._next_send:
            return None
        if len(self._flight) >= self.schedule.window:
            return None
        return self._ttl

    def sent(self, probe: Probe, now: float, tx_ns: int) -> None:
        """Record that ``probe`` (built for ``next_ttl()``) left, and move the cursor on."""
        record = ProbeRecord(probe, now, tx_ns)
        self.records.append(record)
        self._by_key[probe.key] = self._flight[probe.key] = record
        self._next_send = now + self.schedule.interval
        self._ttl += 1
        self._wrap()

    def answer(self, reply: Reply, rx_ns: int, kernel: bool) -> bool:
        """Take ``reply`` as the answer to its probe; False if it counts for nothing.

        A second answer to one probe, or one that took longer than the timeout (by the
        stamps, however early or late it is read), is ignored.
        """
        record = self._by_key.get(reply.key)
        if record is None or record.reply is not None or record.expired:
            return False
        if rx_ns - record.tx_ns > self.schedule.timeout * 1e9:
            return False
        record.reply, record.rx_ns, record.rx_kernel = reply, rx_ns, kernel
        self._flight.pop(reply.key, None)
        if reply.final and record.probe.ttl < self.limit:
            self.limit = record.probe.ttl
            # Probes beyond the destination still in flight no longer matter.
            for key in [k for k, r in self._flight.items() if r.probe.ttl > self.limit]:
                del self._flight[key]
            self._wrap()
        return True

    def expire(self, now: float) -> None:
        """Give up on probes that waited ``timeout`` seconds."""
        for key, record in list(self._flight.items()):
            if now - record.sent_at < self.schedule.timeout:
                break  # the rest were sent later
            record.expired = True
            del self._flight[key]

    def next_event(self) -> float | None:
        """When something next needs doing (a send or a timeout), in monotonic seconds."""
        times = []
        if self._flight:
            times.append(next(iter(self._flight.values())).sent_at + self.schedule.timeout)
        if not self._exhausted() and len(self._flight) < self.schedule.window:
            times.append(self._next_send)
        return min(times, default=None)

    def _exhausted(self) -> bool:
        return self._round >= self.schedule.queries

    def _wrap(self) -> None:
        if self._ttl > self.limit:
            self._round += 1
            self._ttl = self.schedule.first_ttl
