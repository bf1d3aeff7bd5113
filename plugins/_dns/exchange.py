"""One DNS query and its reply over UDP, timed by the kernel; what tcp and tls share with it.

dnspython builds and parses the messages; this module sends and receives them itself, on a
kernel-timestamped socket (``netstats.wire.timestamping``), rather than through
``dns.query.udp``. dnspython times a query with ``time.time()`` taken in Python after
``recvfrom`` returns, and the worker runs jobs in threads: another thread holding the GIL, or a
busy scheduler, adds its delay to that stamp (5 ms median, up to 16 ms, measured in the lab
with one spinning thread; docs/collectors/dns.md), more than this collector's 2 ms target.
The kernel stamps the query when the driver takes it and the reply when it enters the stack,
so the query time is the time on the wire.

One socket per query, connected to the server: the kernel then drops datagrams from anyone
else, reports "port unreachable" at once instead of letting the query time out, and a late
reply to an earlier query (on an earlier port) can never be taken for this one.
"""

from __future__ import annotations

import math
import select
import socket
import time
from dataclasses import dataclass

import dns.message

from netstats.wire.timestamping import StampedSocket


@dataclass
class Reply:
    """A well-formed reply to the query, with its query time.

    ``timestamps`` is ``kernel`` when both stamps came from the kernel, else ``user``.
    """

    message: dns.message.Message
    time_ms: float
    timestamps: str


class ExchangeError(Exception):
    """No usable reply: a malformed or mismatched one, or a network error. The message says why."""


class ExchangeTimeout(Exception):
    """No reply (or no connection) within the timeout."""


def udp(query: dns.message.Message, address: str, port: int, timeout: float) -> Reply:
    """Send ``query`` over UDP and wait up to ``timeout`` seconds for its reply."""
    wire = query.to_wire()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            sock.connect((address, port))
            stamped = StampedSocket(sock)
            sent = stamped.send(wire, (address, port))
        except OSError as exc:
            raise ExchangeError(network_reason(exc, address, port)) from None
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLERR)
        deadline = time.monotonic() + timeout
        tx = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ExchangeTimeout(f"no reply within {timeout:g} s")
            if not poller.poll(math.ceil(left * 1000)):
                continue
            # The transmit stamp sits on the error queue, which also makes poll() wake us:
            # read it (or drain the queue) on every wake.
            if tx is None:
                tx = stamped.wait_tx_stamp(sent.key, 0)
            else:
                stamped.read_tx_stamps()
            try:
                received = stamped.receive()
            except OSError as exc:  # an ICMP error for the connected socket
                raise ExchangeError(network_reason(exc, address, port)) from None
            if received is None:
                continue
            message = parse_reply(received.data, query)
            if message is None:
                continue
            if tx is None:
                tx = stamped.wait_tx_stamp(sent.key, 0)
            if tx is not None and received.kernel:
                return Reply(message, (received.ns - tx.ns) / 1e6, "kernel")
            return Reply(message, (received.ns - sent.user_ns) / 1e6, "user")


def parse_reply(data: bytes, query: dns.message.Message) -> dns.message.Message | None:
    """The reply to ``query`` in ``data``; None for a datagram with another message id.

    A datagram from the server that carries our id but does not parse, or answers another
    question, is the server's broken reply: ExchangeError with the reason.
    """
    if len(data) >= 2 and int.from_bytes(data[:2], "big") != query.id:
        return None
    try:
        message = dns.message.from_wire(data)
    except Exception as exc:  # hostile bytes: any failure to parse them is a malformed reply
        raise ExchangeError(malformed_reason(exc, len(data))) from None
    if not query.is_response(message):
        raise ExchangeError(_mismatch_reason(query, message))
    return message


def malformed_reason(exc: BaseException, size: int | None = None) -> str:
    """The error text of a reply that did not parse."""
    what = f"malformed reply ({size} bytes)" if size is not None else "malformed reply"
    return f"{what}: {type(exc).__name__}: {exc}"


def _mismatch_reason(query: dns.message.Message, reply: dns.message.Message) -> str:
    asked = query.question[0].to_text() if query.question else "?"
    answered = reply.question[0].to_text() if reply.question else "no question"
    return f"reply does not match the query (asked {asked}, reply is for {answered})"


def network_reason(exc: OSError, address: str, port: int) -> str:
    """The error text of a socket error talking to ``address``:``port``."""
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused: nothing listens on {address} port {port}"
    return f"{address} port {port}: {exc.strerror or exc}"
