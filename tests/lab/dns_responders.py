"""A misbehaving DNS server for the lab, on real UDP and TCP sockets.

Run in a lab namespace: ``python -m tests.lab.dns_responders --listen ADDR... --port 53
--log FILE [--tls-port 853 --cert PEM --key PEM]``. It prints ``ready`` once its sockets are
bound. Over tls it completes a real handshake, then misbehaves the same way. What it does with
a query is chosen by the test through the query name's first label:

==================  ==========================================================================
``servfail``        SERVFAIL
``delay-<ms>``      an answer (A 192.0.2.1) after holding the query <ms> milliseconds
``silent``          nothing
``short``           5 bytes: the query's id and less than a header
``badpointer``      a question whose name is a compression pointer to itself
``badcount``        a header announcing three answers that are not there
``trailing``        a good reply followed by junk
``mismatch``        a good reply, with the query's id, to another question
``wrongid``         a good reply with another id, then the right reply
``truncated``       an empty reply with the TC flag (udp)
``eof``             tcp: a length prefix of 100 bytes, 10 bytes, then the connection closed
``random-<seed>``   the query's id and up to 100 random bytes drawn from Random(seed)
``drop2-<tag>``     nothing for the 2nd, 4th, ... query of this name, an answer for the others
``junk-<seed>``     tcp, tls: up to 300 random bytes from Random(seed), unframed, then the
                    connection closed
anything else       an answer, A 192.0.2.1, at once
==================  ==========================================================================

Every query answered is logged to ``--log`` as a JSON line with its id, name, transport and
the hold applied, the ground truth a test compares query times with: the kernel transmit stamp
of the reply (over TCP, of the segment with its last byte) minus the kernel receive stamp of
the query (of the segment that completed it), from ``netstats.wire.timestamping``.
"""

from __future__ import annotations

import argparse
import json
import random
import select
import socket
import ssl
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import IO

import dns.flags
import dns.message
import dns.rcode
import dns.rrset

from netstats.wire.timestamping import Received, StampedSocket

ANSWER_ADDRESS = "192.0.2.1"  # TEST-NET-1: data in an answer, never a destination
_seen: Counter[str] = Counter()  # queries per name, for drop2
_seen_lock = threading.Lock()


def replies(query: dns.message.Message) -> tuple[list[bytes], float]:
    """The datagrams to send back for ``query`` (in order) and the hold before them (s)."""
    qname = query.question[0].name
    label = qname.labels[0].decode("ascii", "replace").lower() if qname.labels else ""
    behaviour, _, argument = label.partition("-")
    good = _answer(query)
    wire = good.to_wire()
    if behaviour == "servfail":
        reply = dns.message.make_response(query)
        reply.set_rcode(dns.rcode.SERVFAIL)
        return [reply.to_wire()], 0.0
    if behaviour == "delay":
        return [wire], int(argument) / 1000
    if behaviour == "silent":
        return [], 0.0
    if behaviour == "short":
        return [wire[:2] + b"\x81\x80\x00"], 0.0
    if behaviour == "badpointer":
        header = struct.pack("!HHHHHH", query.id, 0x8180, 1, 0, 0, 0)
        return [header + b"\xc0\x0c\x00\x01\x00\x01"], 0.0
    if behaviour == "badcount":
        return [wire[:6] + struct.pack("!H", 3) + wire[8:]], 0.0
    if behaviour == "trailing":
        return [wire + b"\x00junk"], 0.0
    if behaviour == "mismatch":
        other = dns.message.make_query("other.example.", "A")
        other.id = query.id
        return [dns.message.make_response(other).to_wire()], 0.0
    if behaviour == "wrongid":
        return [struct.pack("!H", query.id ^ 0xFFFF) + wire[2:], wire], 0.0
    if behaviour == "truncated":
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.TC
        return [reply.to_wire()], 0.0
    if behaviour == "drop2":
        with _seen_lock:
            _seen[qname.to_text()] += 1
            if _seen[qname.to_text()] % 2 == 0:
                return [], 0.0
    if behaviour == "random":
        rng = random.Random(argument)
        return [wire[:2] + rng.randbytes(rng.randint(0, 100))], 0.0
    return [wire], 0.0


def _answer(query: dns.message.Message) -> dns.message.Message:
    reply = dns.message.make_response(query)
    reply.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", ANSWER_ADDRESS))
    return reply


def _parse(data: bytes) -> dns.message.Message | None:
    try:
        query = dns.message.from_wire(data)
    except Exception:  # garbage sent to the responder is dropped, never fatal
        return None
    return query if query.question else None


class Log:
    """The JSON-lines log of answered queries, shared by the UDP loop and the TCP threads."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, query: dns.message.Message, transport: str, hold_ns: int, kernel: bool):
        """Log one answered query."""
        record = {
            "id": query.id,
            "name": query.question[0].name.to_text(),
            "transport": transport,
            "hold_ns": hold_ns,
            "kernel": kernel,
        }
        with self._lock:
            self._stream.write(json.dumps(record) + "\n")
            self._stream.flush()


def serve_udp(sockets: list[StampedSocket], log: Log) -> None:
    """Answer datagrams forever, logging each reply's hold from the kernel's stamps."""
    poller = select.poll()
    by_fd = {}
    for stamped in sockets:
        poller.register(stamped.fileno(), select.POLLIN)
        by_fd[stamped.fileno()] = stamped
    while True:
        for fd, _events in poller.poll():
            stamped = by_fd[fd]
            received = stamped.receive()
            query = _parse(received.data) if received else None
            if query is None:
                continue
            datagrams, hold = replies(query)
            if hold:
                time.sleep(max(0.0, hold - (time.time_ns() - received.ns) / 1e9))
            sent = [stamped.send(datagram, received.address) for datagram in datagrams]
            if not sent:
                continue
            tx = stamped.wait_tx_stamp(sent[-1].key, 0.5)
            tx_ns = tx.ns if tx is not None else sent[-1].user_ns
            log.write(query, "udp", tx_ns - received.ns, tx is not None and received.kernel)


def serve_tcp(listener: socket.socket, log: Log) -> None:
    """Accept connections forever, each served by its own thread."""
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_serve_connection, args=(conn, log), daemon=True).start()


def _serve_connection(conn: socket.socket, log: Log) -> None:
    # Non-blocking, so that the stamped socket's reads return when nothing is waiting.
    conn.setblocking(False)
    stamped = StampedSocket(conn)
    with conn:
        bytes_sent = 0
        for data, arrived in _framed_queries(stamped):
            query = _parse(data)
            if query is None:
                return
            label = query.question[0].name.labels[0].decode("ascii", "replace").lower()
            if label == "eof":
                conn.sendall(struct.pack("!H", 100) + bytes(10))
                return
            if label.startswith("junk-"):
                conn.sendall(_junk(label.partition("-")[2]))
                return
            datagrams, hold = replies(query)
            if hold:
                time.sleep(max(0.0, hold - (time.time_ns() - arrived.ns) / 1e9))
            framed = b"".join(struct.pack("!H", len(d)) + d for d in datagrams)
            if not framed:
                continue
            user_ns = time.time_ns()
            conn.sendall(framed)
            bytes_sent += len(framed)
            # On a stream the stamp key counts bytes: this is the key of our last byte.
            tx = stamped.wait_tx_stamp((bytes_sent - 1) & 0xFFFFFFFF, 0.5)
            tx_ns = tx.ns if tx is not None else user_ns
            log.write(query, "tcp", tx_ns - arrived.ns, tx is not None and arrived.kernel)


def serve_tls(listener: socket.socket, context: ssl.SSLContext) -> None:
    """Accept connections forever; each one's handshake and queries in a thread of its own."""
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_serve_tls, args=(conn, context), daemon=True).start()


def _serve_tls(conn: socket.socket, context: ssl.SSLContext) -> None:
    conn.settimeout(10)  # a client that stops talking costs this thread, not the server
    try:
        with context.wrap_socket(conn, server_side=True) as tls:
            while (query := _parse(_read_framed(tls))) is not None:
                label = query.question[0].name.labels[0].decode("ascii", "replace").lower()
                behaviour, _, argument = label.partition("-")
                if behaviour == "eof":
                    tls.sendall(struct.pack("!H", 100) + bytes(10))
                    return
                if behaviour == "junk":
                    tls.sendall(_junk(argument))
                    return
                datagrams, hold = replies(query)
                time.sleep(hold)
                tls.sendall(b"".join(struct.pack("!H", len(d)) + d for d in datagrams))
    except (OSError, EOFError):  # a client that hangs up or fails its handshake
        return


def _junk(seed: str) -> bytes:
    rng = random.Random(seed)
    return rng.randbytes(rng.randint(1, 300))


def _read_framed(tls: ssl.SSLSocket) -> bytes:
    """One length-prefixed message from ``tls``; EOFError when the client closes."""
    size = struct.unpack("!H", _read_exactly(tls, 2))[0]
    return _read_exactly(tls, size)


def _read_exactly(tls: ssl.SSLSocket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = tls.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _framed_queries(stamped: StampedSocket) -> Iterator[tuple[bytes, Received]]:
    """Each length-prefixed message of the stream, with the receive of its last segment."""
    poller = select.poll()
    poller.register(stamped.fileno(), select.POLLIN)
    buffer = b""
    while True:
        while len(buffer) < 2 or len(buffer) < 2 + struct.unpack("!H", buffer[:2])[0]:
            poller.poll()
            stamped.read_tx_stamps()  # stamps of retransmissions, never wanted
            received = stamped.receive()
            if received is None:
                continue
            if not received.data:
                return
            buffer += received.data
            last = received
        size = 2 + struct.unpack("!H", buffer[:2])[0]
        yield buffer[2:size], last
        buffer = buffer[size:]


def main(argv: list[str] | None = None) -> None:
    """Bind every ``--listen`` address on ``--port`` (udp and tcp), say ``ready``, serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", action="append", required=True)
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--log", required=True)
    parser.add_argument("--tls-port", type=int)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args(argv)
    tls = None
    if args.tls_port:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)
        tls.set_alpn_protocols(["dot"])
    log = Log(open(args.log, "a", encoding="utf-8"))  # noqa: SIM115 (open until killed)
    udp_sockets = []
    for address in args.listen:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        udp = socket.socket(family, socket.SOCK_DGRAM)
        udp.bind((address, args.port))
        udp_sockets.append(StampedSocket(udp))
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, args.port))
        listener.listen(16)
        threading.Thread(target=serve_tcp, args=(listener, log), daemon=True).start()
        if tls is not None:
            listener = socket.create_server((address, args.tls_port), family=family)
            threading.Thread(target=serve_tls, args=(listener, tls), daemon=True).start()
    print("ready", flush=True)
    serve_udp(udp_sockets, log)


if __name__ == "__main__":
    sys.exit(main())
