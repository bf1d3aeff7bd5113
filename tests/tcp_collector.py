"""A one-file collector plugin for the engine's tests: time a TCP connect to a local port.

Real sockets, real timing. Tests register it in process (``register_tcp_collector``) or copy
this file into an instance's plugins directory, where a real ``netstats worker`` loads it.
Two knobs exist for the engine's sake: ``hold_s`` keeps the run busy (timeouts, overlap,
a worker killed mid-run) and ``fail`` raises as a broken collector would (retries).
"""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from pathlib import Path

from marshmallow import Schema, fields, validate

from netstats import hookimpl
from netstats.collectors import Collector, CollectorError, Measurement, Metric

SOURCE = Path(__file__)


class TcpParams(Schema):
    port = fields.Integer(required=True, validate=validate.Range(min=1, max=65535))
    timeout = fields.Float(load_default=1.0, validate=validate.Range(min=0.01, max=10))
    hold_s = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=60))
    fail = fields.Boolean(load_default=False)


METRICS = [Metric("connect_ms", "ms", "Time for the TCP handshake.")]


def _one(host: str, params: dict) -> Measurement:
    started, begun = datetime.now(UTC), time.monotonic()
    gap = {"connect_ms": None}
    try:
        with socket.create_connection((host, params["port"]), timeout=params["timeout"]):
            elapsed = (time.monotonic() - begun) * 1000
    except TimeoutError:
        return Measurement.failed(
            "tcp", host, started, begun, "no answer", status="timeout", address=host, metrics=gap
        )
    except OSError as exc:
        return Measurement.failed("tcp", host, started, begun, str(exc), address=host, metrics=gap)
    return Measurement("tcp", host, host, started, elapsed, "ok", None, {"connect_ms": elapsed})


def collect(targets, params) -> list[Measurement]:
    if params["fail"]:
        raise CollectorError("told to fail")
    time.sleep(params["hold_s"])
    return [_one(t.host, params) for t in targets]


@hookimpl
def netstats_collectors():
    return [
        Collector(
            name="tcp", title="TCP connect", params=TcpParams, metrics=METRICS, collect=collect
        )
    ]


def register_tcp_collector(app) -> None:
    """Register this module as a plugin of ``app`` (idempotent)."""
    plugins = app.extensions["netstats"]
    if "tcp_test" not in plugins.sources:
        import tests.tcp_collector as module

        plugins.register(module, "tcp_test", str(SOURCE))
