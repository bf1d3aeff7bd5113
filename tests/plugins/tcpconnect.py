"""A small third-party-style collector used by the tests: TCP connect time to host:port.

It is installed by the tests the way a user installs a plugin (an entry point of the
``netstats`` group, or a file in the plugins directory), never imported directly.
"""

import socket
import time
from datetime import UTC, datetime

from marshmallow import Schema, fields, validate

from netstats import hookimpl
from netstats.collectors import Collector, Measurement, Metric


class TcpParams(Schema):
    port = fields.Integer(required=True, validate=validate.Range(1, 65535))
    timeout = fields.Float(load_default=1.0, validate=validate.Range(min=0.01, max=10))


def collect(targets, params):
    results = []
    for target in targets:
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        try:
            with socket.create_connection((target.host, params["port"]), params["timeout"]) as s:
                address = s.getpeername()[0]
            elapsed = (time.perf_counter() - t0) * 1000
            results.append(
                Measurement(
                    "tcpconnect",
                    target.host,
                    address,
                    started,
                    elapsed,
                    "ok",
                    metrics={"connect_ms": elapsed},
                )
            )
        except OSError as exc:
            elapsed = (time.perf_counter() - t0) * 1000
            results.append(
                Measurement(
                    "tcpconnect",
                    target.host,
                    None,
                    started,
                    elapsed,
                    "error",
                    str(exc),
                    metrics={"connect_ms": None},
                )
            )
    return results


@hookimpl
def netstats_collectors():
    return [
        Collector(
            name="tcpconnect",
            title="TCP connect time",
            params=TcpParams,
            metrics=[Metric("connect_ms", "ms", "Time to complete the TCP handshake.")],
            collect=collect,
        )
    ]
