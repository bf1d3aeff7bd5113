"""Paris traceroute over ICMP, UDP or TCP, crafted and parsed with scapy, timed by the kernel.

Each trace keeps its flow identifier constant (see ``_traceroute.probes``), so per-flow load
balancing shows one consistent path, and takes the same flow run after run, derived from the
target's flow key (see ``_traceroute.flows``); probes go out in rounds over the TTLs, a window
of them in flight (see ``_traceroute.trace``); RTTs are kernel transmit and receive stamps (see
``_traceroute.engine``). All targets of a call are traced at once.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from netstats import hookimpl
from netstats.collectors import Collector, Measurement, Metric, Target
from netstats.wire.resolve import Resolved, ResolveError, resolve_many
from netstats.wire.timestamping import stamp_kind
from netstats_plugins._traceroute.hops import destination_rtts, hop_details, trace_metrics
from netstats_plugins._traceroute.trace import METHODS, Schedule, Trace

DEFAULT_PORTS = {"udp": 33434, "tcp": 80}


class TracerouteParams(Schema):
    """Parameters of one trace per target."""

    method = fields.String(
        load_default="icmp",
        validate=validate.OneOf(METHODS),
        metadata={"description": "Probe protocol: ICMP echo, UDP, or TCP SYN."},
    )
    max_hops = fields.Integer(
        strict=True,
        load_default=30,
        validate=validate.Range(1, 255),
        metadata={"description": "Largest TTL (hop limit) probed."},
    )
    first_ttl = fields.Integer(
        strict=True,
        load_default=1,
        validate=validate.Range(1, 255),
        metadata={"description": "TTL of the first hop probed (hops before it are skipped)."},
    )
    queries = fields.Integer(
        strict=True,
        load_default=3,
        validate=validate.Range(1, 10),
        metadata={"description": "Probes per hop."},
    )
    timeout = fields.Float(
        load_default=2.0,
        validate=validate.Range(0.01, 30),
        metadata={"description": "Seconds a probe waits for its answer before it counts lost."},
    )
    window = fields.Integer(
        strict=True,
        load_default=8,
        validate=validate.Range(1, 64),
        metadata={"description": "Most probes of one trace in flight at once."},
    )
    interval = fields.Float(
        load_default=0.02,
        validate=validate.Range(0, 10),
        metadata={
            "description": "Seconds between two probes of one trace. Probes go out in rounds "
            "over the TTLs, so one router sees them (hops x interval) apart: raise it when "
            "rate-limited routers drop answers."
        },
    )
    port = fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=validate.Range(1, 65535),
        metadata={"description": "Destination port for udp (default 33434) and tcp (default 80)."},
    )

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_kwargs) -> None:
        if data.get("first_ttl", 1) > data.get("max_hops", 30):
            raise ValidationError("must not exceed max_hops", "first_ttl")
        if data.get("port") is not None and data.get("method", "icmp") == "icmp":
            raise ValidationError("applies to methods udp and tcp only", "port")

    @post_load
    def _default_port(self, data: dict[str, Any], **_kwargs) -> dict[str, Any]:
        if data["port"] is None and data["method"] in DEFAULT_PORTS:
            data["port"] = DEFAULT_PORTS[data["method"]]
        return data


METRICS = [
    Metric(
        "hop_count",
        "hops",
        "TTL at which the destination answered; when it did not, the highest TTL that did.",
    ),
    Metric("reached", "bool", "1 when the destination answered, else 0."),
    Metric("rtt_avg_ms", "ms", "Mean round-trip time of the destination's answers."),
    Metric("rtt_ms", "ms", "RTT of each of the destination's answers.", kind="distribution"),
]


def collect(targets: Sequence[Target], params: dict[str, Any]) -> list[Measurement]:
    """Trace every target at once; one Measurement per target, in order."""
    # The engine, and scapy with it, loads with the first trace (see docs/plugins.md).
    from netstats_plugins._traceroute.engine import FlowError, TraceEngine

    schedule = Schedule(
        first_ttl=params["first_ttl"],
        max_hops=params["max_hops"],
        queries=params["queries"],
        window=params["window"],
        interval=params["interval"],
        timeout=params["timeout"],
    )
    started_at = datetime.now(UTC)
    begun = time.monotonic()
    resolved = resolve_many([(t.host, t.family) for t in targets])
    outcomes: list[Trace | str] = []
    with TraceEngine(params["method"]) as engine:
        for target, answer in zip(targets, resolved, strict=True):
            try:
                address = _traceable(answer)
                port = params.get("port") or 0
                flow = engine.flow(_family(answer), address, port, target.flow_key or target.host)
            except (ResolveError, FlowError) as exc:
                outcomes.append(str(exc))
            else:
                outcomes.append(Trace(flow, schedule))
        engine.run([t for t in outcomes if isinstance(t, Trace)])
    return [
        _measurement(target, answer, outcome, started_at, begun, params)
        for target, answer, outcome in zip(targets, resolved, outcomes, strict=True)
    ]


def _traceable(answer: Resolved | ResolveError) -> str:
    """The address to trace, or ResolveError when it names no single unicast host."""
    if isinstance(answer, ResolveError):
        raise answer
    if "%" in answer.address:
        raise ResolveError(f"{answer.address} is a scoped (link-local) address: nothing to trace")
    address = ipaddress.ip_address(answer.address)
    if address.is_multicast or address.is_unspecified or str(address) == "255.255.255.255":
        raise ResolveError(f"{address} is not a unicast address: traceroute follows one host")
    if address.version == 6 and address.ipv4_mapped:
        raise ResolveError(f"{address} is IPv4-mapped: trace {address.ipv4_mapped} instead")
    return socket.inet_ntop(answer.family, socket.inet_pton(answer.family, answer.address))


def _family(answer: Resolved) -> int:
    return 4 if answer.family == socket.AF_INET else 6


def _measurement(
    target: Target,
    answer: Resolved | ResolveError,
    outcome: Trace | str,
    started_at: datetime,
    begun: float,
    params: dict[str, Any],
) -> Measurement:
    address = answer.address if isinstance(answer, Resolved) else None
    if isinstance(outcome, str) or outcome.error:
        return Measurement.failed(
            "traceroute",
            target.host,
            started_at,
            begun,
            outcome if isinstance(outcome, str) else outcome.error,
            address=address,
            metrics={"hop_count": None, "reached": None, "rtt_avg_ms": None},
        )
    hops = hop_details(outcome)
    flow = outcome.flow
    return Measurement(
        collector="traceroute",
        target=target.host,
        address=address,
        started_at=started_at,
        duration_ms=(outcome.finished_at - begun) * 1000,
        status="ok",
        metrics=trace_metrics(outcome, hops),
        distributions={"rtt_ms": destination_rtts(outcome)},
        details={
            "method": flow.method,
            "family": f"ipv{flow.family}",
            "source": flow.src,
            "flow": {"sport": flow.sport, "dport": flow.dport}
            if flow.method != "icmp"
            else {"icmp_id": flow.sport},
            "timestamps": stamp_kind(
                r.tx_kernel and r.rx_kernel for r in outcome.records if r.rtt_ms is not None
            ),
            "hops": hops,
        },
    )


@hookimpl
def netstats_collectors() -> list[Collector]:
    """The traceroute collector."""
    return [
        Collector(
            name="traceroute",
            title="Traceroute (Paris)",
            params=TracerouteParams,
            metrics=METRICS,
            collect=collect,
            description=(
                "The routers on the path to a host, with per-hop loss and RTT: ICMP, UDP or "
                "TCP probes whose flow stays constant so load balancers show one path. "
                "Needs CAP_NET_RAW."
            ),
        )
    ]
