"""One DNS query and its reply, timed, over udp, tcp or tls.

dnspython builds and parses the messages everywhere; the transports differ in timing:

- udp does its own send and receive on a kernel-timestamped socket
  (``netstats.wire.timestamping``) rather than ``dns.query.udp``. dnspython times a query with
  ``time.time()`` taken in Python after ``recvfrom`` returns, and the worker runs jobs in
  threads: another thread holding the GIL, or a busy scheduler, adds its delay to that stamp
  (milliseconds, measured for ping in the same process), more than this collector's 2 ms
  accuracy target. The kernel stamps the query when the driver takes it and the reply when it
  enters the stack, so the query time is the time on the wire. One socket per query, connected
  to the server: the kernel then drops datagrams from anyone else, reports "port unreachable"
  at once instead of letting the query time out, and a late reply to an earlier query (on an
  earlier port) can never be taken for this one.
- tcp and tls open one connection per server and keep it for the next queries, as stub
  resolvers keep DoT connections. Connecting and the TLS handshake are timed apart
  (``Stream.connections``); the query time is dnspython's response ``.time`` on the open
  connection: wall clock from just before the send to the last byte read, before parsing.
  These are user-space stamps: the ssl layer reads the stream, so no kernel stamp reaches us.
"""

from __future__ import annotations

import math
import select
import socket
import ssl
import time
from dataclasses import dataclass, field

import dns.exception
import dns.message
import dns.query

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
            raise ExchangeError(_network_reason(exc, address, port)) from None
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
                raise ExchangeError(_network_reason(exc, address, port)) from None
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


def _network_reason(exc: OSError, address: str, port: int) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused: nothing listens on {address} port {port}"
    return f"{address} port {port}: {exc.strerror or exc}"


def tls_context(ca_file: str | None, verify: bool) -> ssl.SSLContext:
    """A DNS-over-TLS client context: TLS 1.2 or later, ALPN ``dot`` (RFC 7858).

    ``ca_file`` replaces the system's trust store; ``verify=False`` accepts any certificate.
    Raises ``OSError``/``ssl.SSLError`` when the CA file cannot be read.
    """
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["dot"])
    return context


@dataclass
class Connection:
    """One opened connection: TCP handshake time and, for tls, TLS handshake time (ms)."""

    connect_ms: float
    tls_handshake_ms: float | None


@dataclass
class Stream:
    """A tcp (``tls=None``) or tls connection to one server, kept open between queries.

    Opened on the first ``exchange``; after any failure it is closed, and the next
    ``exchange`` opens a new one. ``server_name`` is what the certificate must name (an IP
    address is checked against the certificate's IP addresses) and the SNI sent.
    """

    address: str
    port: int
    tls: ssl.SSLContext | None = None
    server_name: str | None = None
    connections: list[Connection] = field(default_factory=list)
    _sock: socket.socket | None = field(default=None, init=False, repr=False)

    def exchange(self, query: dns.message.Message, timeout: float) -> Reply:
        """Send ``query`` and return its reply, opening the connection first if needed."""
        try:
            if self._sock is None:
                self._sock = self._open(timeout)
            message = dns.query.tcp(query, self.address, timeout, sock=self._sock)
        except (ExchangeError, ExchangeTimeout):
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise self._failure(exc, timeout) from None
        return Reply(message, message.time * 1000, "user")

    def close(self) -> None:
        """Close the connection, if open."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _open(self, timeout: float) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        stage = "TCP connection"
        try:
            begin = time.perf_counter()
            sock.connect((self.address, self.port))
            connected = time.perf_counter()
            handshake_ms = None
            if self.tls is not None:
                stage = "TLS handshake"
                sock = self.tls.wrap_socket(sock, server_hostname=self.server_name)
                handshake_ms = (time.perf_counter() - connected) * 1000
        except TimeoutError:
            sock.close()
            raise ExchangeTimeout(f"no {stage} within {timeout:g} s") from None
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            raise ExchangeError(f"TLS certificate not accepted: {exc.verify_message}") from None
        except ssl.SSLError as exc:
            sock.close()
            raise ExchangeError(f"TLS handshake failed: {exc.reason or exc}") from None
        except BaseException:
            sock.close()
            raise
        self.connections.append(Connection((connected - begin) * 1000, handshake_ms))
        sock.setblocking(False)  # dns.query.tcp wants a non-blocking connected socket
        return sock

    def _failure(self, exc: Exception, timeout: float) -> ExchangeError | ExchangeTimeout:
        if isinstance(exc, dns.exception.Timeout):
            return ExchangeTimeout(f"no reply within {timeout:g} s")
        if isinstance(exc, dns.query.BadResponse):
            return ExchangeError("reply does not match the query")
        if isinstance(exc, EOFError):
            return ExchangeError("the server closed the connection before a full reply")
        if isinstance(exc, ssl.SSLError):
            return ExchangeError(f"TLS: {exc.reason or exc}")
        if isinstance(exc, OSError):
            return ExchangeError(_network_reason(exc, self.address, self.port))
        # Anything else comes from dnspython parsing the reply inside dns.query.tcp.
        return ExchangeError(malformed_reason(exc))
