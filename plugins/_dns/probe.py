"""``count`` queries to one target's servers, and what each one gave.

Queries go one after the other, each with a new message id (and, over udp, a new socket).
With several servers (the system resolver's), each query goes to the first server and moves
to the next one, as glibc's stub resolver does, when the server does not answer, answers
garbage, or answers SERVFAIL, REFUSED or NOTIMP; the query's result is the last server's, and
the servers it passed are listed in ``failed_over``.
"""

from __future__ import annotations

import ssl
from dataclasses import asdict, dataclass, field
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from . import exchange, stream

FAILOVER_RCODES = {dns.rcode.SERVFAIL, dns.rcode.REFUSED, dns.rcode.NOTIMP}
# EDNS0 with the buffer size of DNS Flag Day 2020: large answers fit without fragmentation.
EDNS_PAYLOAD = 1232
# Records kept per query in the details; ``answer_count`` still counts all of them.
MAX_ANSWERS_KEPT = 50


@dataclass
class QueryResult:
    """One query: the server that gave the result, its message id, and what came back."""

    server: str
    id: int
    status: str  # "ok" | "timeout" | "error"
    error: str | None = None
    query_time_ms: float | None = None
    timestamps: str | None = None  # "kernel" | "user"
    rcode: int | None = None
    rcode_text: str | None = None
    flags: str | None = None
    answer_count: int | None = None
    ttl_min: int | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)
    failed_over: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``failed_over`` only when the query moved on from a server."""
        data = asdict(self)
        if not self.failed_over:
            del data["failed_over"]
        return data


@dataclass
class ServerRecord:
    """What one server was asked and answered, and the connections opened to it (tcp, tls)."""

    address: str
    port: int
    queries: int = 0
    answered: int = 0
    connections: list[stream.Connection] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class QuerySpec:
    """What to ask and how: the loaded parameters the probe needs."""

    name: str
    rdtype: str
    transport: str
    port: int
    count: int
    timeout: float
    recursion: bool
    tls: ssl.SSLContext | None = None
    tls_server_name: str | None = None


def run_queries(
    servers: list[str], spec: QuerySpec
) -> tuple[list[QueryResult], list[ServerRecord]]:
    """Ask ``spec.count`` queries of ``servers`` (in failover order); results in send order."""
    records = [ServerRecord(address, spec.port) for address in servers]
    streams: dict[str, stream.Stream] = {}
    results = []
    try:
        for _ in range(spec.count):
            failed: list[QueryResult] = []
            for record in records:
                result = _ask(record, spec, streams)
                if result.status == "ok" and result.rcode not in FAILOVER_RCODES:
                    break
                failed.append(result)
            else:
                result = failed.pop()
            result.failed_over = [
                {k: getattr(f, k) for k in ("server", "status", "error", "rcode_text")}
                for f in failed
            ]
            results.append(result)
    finally:
        for record in records:
            connection = streams.get(record.address)
            if connection is not None:
                connection.close()
                record.connections = connection.connections
    return results, records


def _ask(record: ServerRecord, spec: QuerySpec, streams: dict[str, stream.Stream]) -> QueryResult:
    query = dns.message.make_query(spec.name, spec.rdtype, use_edns=0, payload=EDNS_PAYLOAD)
    if not spec.recursion:
        query.flags &= ~dns.flags.RD
    record.queries += 1
    try:
        if spec.transport == "udp":
            reply = exchange.udp(query, record.address, spec.port, spec.timeout)
        else:
            connection = streams.get(record.address)
            if connection is None:
                connection = streams[record.address] = stream.Stream(
                    record.address,
                    spec.port,
                    spec.tls if spec.transport == "tls" else None,
                    spec.tls_server_name or record.address,
                )
            reply = connection.exchange(query, spec.timeout)
    except exchange.ExchangeTimeout as exc:
        return QueryResult(record.address, query.id, "timeout", str(exc))
    except exchange.ExchangeError as exc:
        return QueryResult(record.address, query.id, "error", str(exc))
    record.answered += 1
    return _result(record.address, query.id, reply)


def _result(server: str, query_id: int, reply: exchange.Reply) -> QueryResult:
    message = reply.message
    answers = [
        {
            "name": rrset.name.to_text(),
            "type": dns.rdatatype.to_text(rrset.rdtype),
            "ttl": rrset.ttl,
            "data": rdata.to_text(),
        }
        for rrset in message.answer
        for rdata in rrset
    ]
    rcode = message.rcode()
    return QueryResult(
        server=server,
        id=query_id,
        status="ok",
        query_time_ms=reply.time_ms,
        timestamps=reply.timestamps,
        rcode=int(rcode),
        rcode_text=dns.rcode.to_text(rcode),
        flags=dns.flags.to_text(message.flags).lower(),
        answer_count=len(answers),
        ttl_min=min((rrset.ttl for rrset in message.answer), default=None),
        answers=answers[:MAX_ANSWERS_KEPT],
    )
