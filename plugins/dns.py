"""DNS query timing with dnspython: how fast, and with what, a server answers a name.

The target is the server to ask (an IP address, a host name, or ``system`` for the system
resolver's nameservers); the name to resolve is a parameter. One measurement per server,
so that a chart per destination is one resolver over time, and servers compare side by side.
See docs/collectors/dns.md.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from netstats import hookimpl
from netstats.collectors import Collector, CollectorError, Measurement, Metric, Target
from netstats.hosts import HostError, parse_host
from netstats.wire.threads import map_in_daemon_threads
from netstats_plugins._dns.names import (
    RECORD_TYPES,
    QueryNameError,
    check_query_name,
    ip_literal,
    reverse_name,
)
from netstats_plugins._dns.servers import SYSTEM, ServerError, server_addresses

TRANSPORTS = ("udp", "tcp", "tls")
DEFAULT_PORTS = {"udp": 53, "tcp": 53, "tls": 853}
# Targets measured at once; each one's queries go one after the other.
MAX_PARALLEL_TARGETS = 16

METRICS = [
    Metric(
        "query_time_ms",
        "ms",
        "Time of every query that got a reply, in send order.",
        kind="distribution",
    ),
    Metric("query_time_avg_ms", "ms", "Mean query time over the queries that got a reply."),
    Metric("query_time_min_ms", "ms", "Shortest query time."),
    Metric("query_time_max_ms", "ms", "Longest query time."),
    Metric("query_time_median_ms", "ms", "Median query time."),
    Metric("rcode", "code", "Response code of the last reply (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN)."),
    Metric("answer_count", "records", "Records in the answer section of the last reply."),
    Metric("ttl_min", "s", "Smallest TTL in the answer section of the last reply."),
    Metric("loss_pct", "%", "Share of queries without a well-formed reply."),
    Metric("connect_time_ms", "ms", "tcp/tls: time to open a connection (TLS handshake included)."),
]


class QueryName(fields.String):
    """A query name: checked, IDNA-encoded and made absolute (see ``_dns.names``)."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return check_query_name(text)
        except QueryNameError as exc:
            raise ValidationError(str(exc)) from None


class ServerName(fields.String):
    """A name (or IP address) the server's certificate must carry."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_host(text).ascii
        except HostError as exc:
            raise ValidationError(str(exc)) from None


class DnsParams(Schema):
    """Parameters of the dns collector."""

    name = QueryName(
        required=True,
        validate=validate.Length(min=1, max=254),
        metadata={"description": "Name to resolve; an IP address with type PTR."},
    )
    type = fields.String(
        load_default="A",
        validate=validate.OneOf(RECORD_TYPES),
        metadata={"description": "Record type."},
    )
    transport = fields.String(
        load_default="udp",
        validate=validate.OneOf(TRANSPORTS),
        metadata={"description": "udp, tcp or tls (DNS over TLS)."},
    )
    port = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=1, max=65535),
        metadata={"description": "Server port; default 53, or 853 for tls."},
    )
    count = fields.Integer(
        load_default=3,
        strict=True,
        validate=validate.Range(min=1, max=100),
        metadata={"description": "Queries per server, one after the other."},
    )
    timeout = fields.Float(
        load_default=2.0,
        validate=validate.Range(min=0.05, max=60),
        metadata={"description": "Seconds to wait for each reply (and each connection)."},
    )
    recursion = fields.Boolean(
        load_default=True, metadata={"description": "Set the recursion desired (RD) flag."}
    )
    tls_verify = fields.Boolean(
        load_default=True, metadata={"description": "tls: check the server's certificate."}
    )
    tls_ca_file = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=4096),
        metadata={"description": "tls: PEM file of CAs to trust instead of the system's."},
    )
    tls_server_name = ServerName(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "tls: name the certificate must carry (and SNI); default the target."
        },
    )

    @pre_load
    def _normalize(self, data, **kwargs):
        if not isinstance(data, Mapping):
            return data
        if "servers" in data:
            raise ValidationError(
                "The dns collector asks its targets: give each server as a target "
                f"(an address, a host name, or {SYSTEM!r} for the system resolver), "
                "and the name to resolve as the parameter 'name'.",
                "servers",
            )
        data = dict(data)
        for key, case in (("type", str.upper), ("transport", str.lower)):
            if isinstance(data.get(key), str):
                data[key] = case(data[key])
        return data

    @validates_schema
    def _address_needs_ptr(self, data, **kwargs):
        if ip_literal(data["name"]) is not None and data["type"] != "PTR":
            raise ValidationError(
                "An IP address is a query name only for type PTR (its reverse lookup).", "name"
            )

    @post_load
    def _reverse_name(self, data, **kwargs):
        if ip_literal(data["name"]) is not None:
            data["name"] = reverse_name(data["name"])
        return data


def collect(targets: Sequence[Target], params: dict[str, Any]) -> list[Measurement]:
    """One measurement per target server, in the order of ``targets``."""
    # dnspython and the exchanges load with the first query (see docs/plugins.md).
    from netstats_plugins._dns.stream import tls_context

    if not targets:
        return []
    tls = None
    if params["transport"] == "tls":
        try:
            tls = tls_context(params["tls_ca_file"], params["tls_verify"])
        except (OSError, ssl.SSLError) as exc:
            raise CollectorError(
                f"tls_ca_file {params['tls_ca_file']!r} cannot be used: {exc}"
            ) from None
    measure_one = partial(_measure, params=params, tls=tls)
    if len(targets) == 1:
        return [measure_one(targets[0])]
    return map_in_daemon_threads(measure_one, targets, MAX_PARALLEL_TARGETS, "dns")


def _measure(target: Target, params: dict[str, Any], tls: ssl.SSLContext | None) -> Measurement:
    from netstats_plugins._dns import summary
    from netstats_plugins._dns.probe import QuerySpec, run_queries

    started_at = datetime.now(UTC)
    begun = time.monotonic()
    spec = QuerySpec(
        name=params["name"],
        rdtype=params["type"],
        transport=params["transport"],
        port=params["port"] or DEFAULT_PORTS[params["transport"]],
        count=params["count"],
        timeout=params["timeout"],
        recursion=params["recursion"],
        tls=tls,
        tls_server_name=params["tls_server_name"] or _certificate_name(target.host),
    )
    details: dict[str, Any] = {
        "name": spec.name,
        "type": spec.rdtype,
        "transport": spec.transport,
        "port": spec.port,
        "recursion": spec.recursion,
    }
    try:
        servers = server_addresses(target, spec.timeout)
    except ServerError as exc:
        return Measurement.failed(
            "dns",
            target.host,
            started_at,
            begun,
            str(exc),
            metrics=dict.fromkeys(m.name for m in METRICS if m.kind == "gauge"),
            details=details,
        )
    results, records = run_queries(servers, spec)
    status, error = summary.status(results)
    answered = [r for r in results if r.status == "ok"]
    last = answered[-1] if answered else results[-1]
    details.update(
        rcode_text=last.rcode_text,
        servers=[r.to_dict() for r in records],
        queries=[r.to_dict() for r in results],
    )
    return Measurement(
        collector="dns",
        target=target.host,
        address=last.server,
        started_at=started_at,
        duration_ms=(time.monotonic() - begun) * 1000,
        status=status,
        error=error,
        metrics=summary.metrics(results, records),
        distributions={"query_time_ms": summary.query_times(results)},
        details=details,
    )


def _certificate_name(host: str) -> str | None:
    """The target's host name, which a DoT certificate must carry; None for an address."""
    if host.lower() == SYSTEM:
        return None
    try:
        info = parse_host(host)
    except HostError:
        return None
    return info.ascii if info.kind == "hostname" else None


@hookimpl
def netstats_collectors():
    """The dns collector."""
    return [
        Collector(
            name="dns",
            title="DNS query",
            params=DnsParams,
            metrics=METRICS,
            collect=collect,
            description=(
                "Times queries for a name to each target server (or 'system', the system "
                "resolver) over udp, tcp or tls."
            ),
        )
    ]
