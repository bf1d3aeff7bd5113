"""A small third-party-style collector used by the tests: TCP connect time to host:port.

It is installed by the tests the way a user installs a plugin (an entry point of the
``netstats`` group, or a file in the plugins directory), never imported directly. Its code
is the example of docs/plugins.md, which a test keeps identical.
"""

import socket
import time
from datetime import UTC, datetime

from marshmallow import Schema, fields, validate

from netstats import hookimpl
from netstats.collectors import Collector, Measurement, Metric


class TcpParams(Schema):
    port = fields.Integer(required=True, validate=validate.Range(1, 65535))
    count = fields.Integer(load_default=3, validate=validate.Range(1, 20))
    timeout = fields.Float(load_default=1.0, validate=validate.Range(min=0.01, max=10))


METRICS = [
    Metric("connect_ms", "ms", "Time to complete each TCP handshake.", kind="distribution"),
    Metric("connect_avg_ms", "ms", "Mean handshake time."),
    Metric("failed_pct", "%", "Share of the connection attempts that failed."),
]


def collect(targets, params):
    return [measure(target, params) for target in targets]


def measure(target, params):
    started, begun = datetime.now(UTC), time.monotonic()
    times, address, error = [], None, None
    for _ in range(params["count"]):
        attempt = time.monotonic()
        try:
            with socket.create_connection((target.host, params["port"]), params["timeout"]) as s:
                times.append((time.monotonic() - attempt) * 1000)
                address = s.getpeername()[0]
        except OSError as exc:
            error = str(exc)
    failed_pct = 100 * (params["count"] - len(times)) / params["count"]
    if not times:
        gaps = {"connect_avg_ms": None, "failed_pct": failed_pct}
        return Measurement.failed("tcpconnect", target.host, started, begun, error, metrics=gaps)
    return Measurement(
        collector="tcpconnect",
        target=target.host,
        address=address,
        started_at=started,
        duration_ms=(time.monotonic() - begun) * 1000,
        status="ok",
        metrics={"connect_avg_ms": sum(times) / len(times), "failed_pct": failed_pct},
        distributions={"connect_ms": times},
    )


@hookimpl
def netstats_collectors():
    return [
        Collector(
            name="tcpconnect",
            title="TCP connect time",
            params=TcpParams,
            metrics=METRICS,
            collect=collect,
        )
    ]
