"""DNS over tcp and tls: one connection per server, kept open between queries.

Stub resolvers keep DoT connections open, so the query time is the time of a query on an
open connection; opening it (the TCP handshake, and the TLS handshake for tls) is timed apart
(``Stream.connections``).

- tcp frames the messages itself (RFC 1035 4.2.2: a two-byte length, then the message) on a
  kernel-timestamped socket, as udp does: the query's stamp is the kernel's transmit stamp of
  the segment carrying its last byte (``SOF_TIMESTAMPING_OPT_ID`` counts bytes on a stream),
  the reply's is the kernel's receive stamp of the segment that completed it.
- tls goes through ``dns.query.tls`` on the open connection, and its query time is
  dnspython's response ``.time``: wall clock from just before the send to the last byte read,
  before parsing. The ssl module reads the stream itself, so no kernel stamp reaches us: a
  busy process can add its scheduling delay to these figures.
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

from .exchange import (
    ExchangeError,
    ExchangeTimeout,
    Reply,
    malformed_reason,
    network_reason,
    parse_reply,
)


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
    _stamped: StampedSocket | None = field(default=None, init=False, repr=False)
    _bytes_sent: int = field(default=0, init=False, repr=False)

    def exchange(self, query: dns.message.Message, timeout: float) -> Reply:
        """Send ``query`` and return its reply, opening the connection first if needed."""
        try:
            if self._sock is None:
                self._sock = self._open(timeout)
            if self._stamped is not None:
                return self._exchange_stamped(query, timeout)
            message = dns.query.tls(query, self.address, timeout, sock=self._sock)
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
            self._sock = self._stamped = None

    def _exchange_stamped(self, query: dns.message.Message, timeout: float) -> Reply:
        assert self._sock is not None and self._stamped is not None
        wire = query.to_wire()
        framed = len(wire).to_bytes(2, "big") + wire
        deadline = time.monotonic() + timeout
        sent_ns = time.time_ns()
        _send_all(self._sock, framed, deadline, timeout)
        self._bytes_sent += len(framed)
        key = (self._bytes_sent - 1) & 0xFFFFFFFF  # the key of the stamp of our last byte
        poller = select.poll()
        poller.register(self._sock, select.POLLIN | select.POLLERR)
        buffer, last, tx = b"", None, None
        while len(buffer) < 2 or len(buffer) < 2 + int.from_bytes(buffer[:2], "big"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise ExchangeTimeout(f"no reply within {timeout:g} s")
            if not poller.poll(math.ceil(left * 1000)):
                continue
            if tx is None:
                tx = self._stamped.wait_tx_stamp(key, 0)
            else:
                self._stamped.read_tx_stamps()
            received = self._stamped.receive()
            if received is None:
                continue
            if not received.data:
                raise ExchangeError("the server closed the connection before a full reply")
            buffer += received.data
            last = received
        assert last is not None
        message = parse_reply(buffer[2 : 2 + int.from_bytes(buffer[:2], "big")], query)
        if message is None:
            raise ExchangeError("reply does not match the query (another message id)")
        if tx is None:
            tx = self._stamped.wait_tx_stamp(key, 0)
        if tx is not None and last.kernel:
            return Reply(message, (last.ns - tx.ns) / 1e6, "kernel")
        return Reply(message, (last.ns - sent_ns) / 1e6, "user")

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
        # Non-blocking: dns.query.tls wants it so, and a socket with a timeout would make the
        # stamped socket's "nothing waiting" reads wait.
        sock.setblocking(False)
        if self.tls is None:
            # Stamping starts here, so the kernel's byte count for stamp keys starts at 0.
            self._stamped = StampedSocket(sock)
            self._bytes_sent = 0
        return sock

    def _failure(self, exc: Exception, timeout: float) -> ExchangeError | ExchangeTimeout:
        if isinstance(exc, dns.exception.Timeout | TimeoutError):
            return ExchangeTimeout(f"no reply within {timeout:g} s")
        if isinstance(exc, dns.query.BadResponse):
            return ExchangeError("reply does not match the query")
        if isinstance(exc, EOFError):
            return ExchangeError("the server closed the connection before a full reply")
        if isinstance(exc, ssl.SSLError):
            return ExchangeError(f"TLS: {exc.reason or exc}")
        if isinstance(exc, OSError):
            return ExchangeError(network_reason(exc, self.address, self.port))
        # Anything else comes from dnspython parsing the reply inside dns.query.tls.
        return ExchangeError(malformed_reason(exc))


def _send_all(sock: socket.socket, data: bytes, deadline: float, timeout: float) -> None:
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    while data:
        try:
            data = data[sock.send(data) :]
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ExchangeTimeout(f"could not send the query within {timeout:g} s") from None
            poller.poll(math.ceil(left * 1000))
