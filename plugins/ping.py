"""ICMP echo (ping) with kernel timestamps, over IPv4 and IPv6, through the shared engine.

All targets of a call, and all calls of a process, share one socket per family (see
``_ping.engine``). Never runs a ``ping`` binary.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, fields, validate

from netstats import hookimpl
from netstats.collectors import Collector, CollectorError, Measurement, Metric, Target
from netstats.stats import summarize
from netstats.wire.resolve import Resolved, ResolveError, resolve_many
from netstats.wire.timestamping import stamp_kind
from netstats_plugins._ping.payload import MIN_PAYLOAD

if TYPE_CHECKING:
    from netstats_plugins._ping.engine import TargetResult

MAX_PAYLOAD = 65000


class PingParams(Schema):
    """Parameters of one ping round."""

    count = fields.Integer(
        strict=True,
        load_default=5,
        validate=validate.Range(1, 1000),
        metadata={"description": "Echo requests sent to each target."},
    )
    interval = fields.Float(
        load_default=1.0,
        validate=validate.Range(0.001, 60),
        metadata={"description": "Seconds between two requests to one target."},
    )
    timeout = fields.Float(
        load_default=2.0,
        validate=validate.Range(0.001, 60),
        metadata={"description": "Seconds a request waits for its reply before it counts lost."},
    )
    size = fields.Integer(
        strict=True,
        load_default=56,
        validate=validate.Range(MIN_PAYLOAD, MAX_PAYLOAD),
        metadata={"description": "Payload bytes per request (as ping -s)."},
    )
    rate = fields.Float(
        load_default=100.0,
        validate=validate.Range(1, 100_000),
        metadata={"description": "Most requests per second over all targets of the round."},
    )
    ttl = fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=validate.Range(1, 255),
        metadata={"description": "TTL (hop limit) of the requests; the system default if unset."},
    )


METRICS = [
    Metric("rtt_ms", "ms", "Round-trip time of every reply, in send order.", kind="distribution"),
    Metric("sent", "count", "Echo requests sent."),
    Metric("received", "count", "Requests answered within the timeout (duplicates excluded)."),
    Metric("duplicates", "count", "Extra replies to requests already answered."),
    Metric("loss_pct", "%", "100 x (sent - received) / sent."),
    Metric("rtt_min_ms", "ms", "Smallest round-trip time of the received replies."),
    Metric("rtt_avg_ms", "ms", "Mean round-trip time."),
    Metric("rtt_max_ms", "ms", "Largest round-trip time."),
    Metric("rtt_mdev_ms", "ms", "Population standard deviation of the RTTs (as iputils ping)."),
    Metric("rtt_median_ms", "ms", "Median RTT, linear interpolation between order statistics."),
    Metric("rtt_p95_ms", "ms", "95th percentile RTT, linear interpolation."),
    Metric("jitter_ms", "ms", "Mean absolute difference of consecutive RTTs (IPDV)."),
    Metric("jitter_rfc3550_ms", "ms", "RFC 3550 smoothed jitter, J += (|D| - J) / 16."),
]


def collect(targets: Sequence[Target], params: dict[str, Any]) -> list[Measurement]:
    """Ping every target ``count`` times in one round; one Measurement per target, in order."""
    # The engine loads with the first round, not with the plugin (see docs/plugins.md).
    from netstats.wire.icmp_socket import IcmpPermissionError
    from netstats_plugins._ping.engine import EngineError, engine

    started_at = datetime.now(UTC)
    begun = time.monotonic()
    resolved = resolve_many([(t.host, t.family) for t in targets])
    reachable = [r for r in resolved if isinstance(r, Resolved)]
    try:
        results = iter(
            engine().ping(
                reachable,
                count=params["count"],
                interval=params["interval"],
                timeout=params["timeout"],
                size=params["size"],
                rate=params["rate"],
                ttl=params.get("ttl"),
            )
        )
    except IcmpPermissionError as exc:
        raise CollectorError(str(exc)) from None
    except EngineError as exc:
        raise CollectorError(str(exc)) from None
    measurements = []
    for target, answer in zip(targets, resolved, strict=True):
        if isinstance(answer, ResolveError):
            measurements.append(
                Measurement.failed(
                    "ping", target.host, started_at, begun, str(answer), metrics=summarize([])
                )
            )
        else:
            measurements.append(_measurement(target, answer, next(results), started_at, params))
    return measurements


def _measurement(
    target: Target,
    resolved: Resolved,
    result: TargetResult,
    started_at: datetime,
    params: dict[str, Any],
) -> Measurement:
    rtts = [None if p.rtt_ns is None else p.rtt_ns / 1e6 for p in result.probes]
    metrics = summarize(rtts, duplicates=result.duplicates)
    if metrics["received"]:
        status, error = "ok", None
    elif result.error:
        status, error = "error", result.error
    else:
        status = "timeout"
        error = f"no reply to {len(rtts)} echo requests within {params['timeout']:g} s"
    answered = [p for p in result.probes if p.rtt_ns is not None]
    return Measurement(
        collector="ping",
        target=target.host,
        address=resolved.address,
        started_at=started_at,
        duration_ms=result.duration_s * 1000,
        status=status,
        error=error,
        metrics=metrics,
        distributions={"rtt_ms": [r for r in rtts if r is not None]},
        details={
            "family": "ipv4" if resolved.family == socket.AF_INET else "ipv6",
            "socket": result.socket_kind,
            "timestamps": stamp_kind(p.kernel_stamps for p in answered),
            "size": params["size"],
            "send_error": result.error,
            "probes": [
                {
                    "id": p.ident,
                    "seq": p.seq,
                    "rtt_ms": rtt,
                    "ttl": p.ttl,
                }
                for p, rtt in zip(result.probes, rtts, strict=True)
            ],
        },
    )


@hookimpl
def netstats_collectors() -> list[Collector]:
    """The ping collector."""
    return [
        Collector(
            name="ping",
            title="ICMP echo (ping)",
            params=PingParams,
            metrics=METRICS,
            collect=collect,
            description=(
                "Round-trip time, loss and jitter by ICMP/ICMPv6 echo, timed by kernel "
                "timestamps. Needs CAP_NET_RAW or net.ipv4.ping_group_range."
            ),
        )
    ]
