"""Probe now: measure once, at once, storing nothing; for the API and ``netstats probe``.

``measure_now`` checks the parameters as a job's are and calls the collector. In the web
process ``probe_destination`` runs it in a small pool with a deadline, so a probe with long
parameters cannot hold a web worker for longer than ``PROBE_TIMEOUT_S``, and at most
``MAX_PROBES`` run at once per process (a probe past its deadline finishes in the
background, holding its slot).

Under gevent (``netstats serve``) the collector runs in a fresh process instead
(``python -m netstats.probe``, a request on stdin, the answer on stdout): collectors are
blocking code with threads, sockets and clocks of their own, which must neither stop the
web process's other requests and streams nor run on gevent's patched ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import TYPE_CHECKING, Any

from netstats.collectors import CollectorError, Measurement, Target
from netstats.errors import Invalid, NetstatsError
from netstats.runtime import under_gevent

if TYPE_CHECKING:
    from netstats.models import Destination
    from netstats.plugins import Plugins

PROBE_TIMEOUT_S = 30.0
MAX_PROBES = 4

_pool = ThreadPoolExecutor(max_workers=MAX_PROBES, thread_name_prefix="probe")
_slots = threading.BoundedSemaphore(MAX_PROBES)


class ProbeUnavailable(NetstatsError):
    """The collector cannot run here (no permission, engine down) or too many probes run."""

    status, code = 503, "probe_unavailable"


class ProbeTimedOut(NetstatsError):
    status, code = 504, "probe_timed_out"


class CollectorFailed(NetstatsError):
    """The collector raised something other than CollectorError: a bug in the plugin."""

    status, code = 502, "collector_failed"


def measure_now(
    plugins: Plugins, collector_name: str, targets: Sequence[Target], params: dict[str, Any]
) -> list[Measurement]:
    """Measure ``targets`` once with the collector, its parameters checked as a job's are.

    Raises ``Invalid`` for an unknown collector or bad parameters, ``ProbeUnavailable`` when
    the collector cannot run here, ``CollectorFailed`` when the plugin breaks.
    """
    collector = plugins.collector(collector_name)
    loaded = plugins.load_params(collector_name, params)
    try:
        return collector.collect(list(targets), loaded)
    except CollectorError as exc:
        raise ProbeUnavailable(str(exc)) from None
    except Exception as exc:  # a broken plugin costs this probe, never the process
        raise CollectorFailed(f"The {collector_name} collector failed: {exc!r}") from None


def probe_destination(
    destination: Destination, collector_name: str = "ping", params: dict[str, Any] | None = None
) -> Measurement:
    """Measure ``destination`` once from the web process, within ``PROBE_TIMEOUT_S``."""
    from netstats.plugins import get_plugins

    plugins = get_plugins()
    plugins.load_params(collector_name, params or {})  # bad input fails before taking a slot
    target = Target(destination.host, destination.family)
    if not _slots.acquire(blocking=False):
        raise ProbeUnavailable(f"{MAX_PROBES} probes are running already; try again shortly.")
    if under_gevent():
        try:
            [measurement] = _measure_in_a_process(collector_name, [target], params or {})
        finally:
            _slots.release()
        return measurement
    try:
        future = _pool.submit(measure_now, plugins, collector_name, [target], params or {})
    except BaseException:
        _slots.release()
        raise
    future.add_done_callback(lambda _future: _slots.release())
    try:
        [measurement] = future.result(timeout=PROBE_TIMEOUT_S)
    except FutureTimeout:
        raise ProbeTimedOut(
            f"The probe took longer than {PROBE_TIMEOUT_S:g} s; use a job for long measurements."
        ) from None
    return measurement


_ERRORS = {cls.code: cls for cls in (ProbeUnavailable, CollectorFailed, ProbeTimedOut, Invalid)}


def _measure_in_a_process(
    collector_name: str, targets: Sequence[Target], params: dict[str, Any]
) -> list[Measurement]:
    """``measure_now`` in a fresh process with the app's plugins, within ``PROBE_TIMEOUT_S``."""
    from flask import current_app

    request = {
        "plugins_dir": current_app.config["PLUGINS_DIR"],
        "trace": bool(current_app.config["TRACE_PLUGINS"]),
        "collector": collector_name,
        "targets": [[t.host, t.family] for t in targets],
        "params": params,
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "netstats.probe"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            env={**os.environ, "NETSTATS_INSTANCE_PATH": current_app.instance_path},
        )
    except subprocess.TimeoutExpired:
        raise ProbeTimedOut(
            f"The probe took longer than {PROBE_TIMEOUT_S:g} s; use a job for long measurements."
        ) from None
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        raise CollectorFailed(
            f"The {collector_name} probe process failed: {done.stderr.strip()[-500:]}"
        ) from None
    if "error" in answer:
        error = answer["error"]
        raise _ERRORS.get(error["code"], ProbeUnavailable)(error["message"], error["fields"])
    return [
        Measurement(**{**m, "started_at": datetime.fromisoformat(m["started_at"])})
        for m in answer["measurements"]
    ]


def _answer_request() -> None:
    """``python -m netstats.probe``: measure the request on stdin, answer on stdout."""
    from netstats.plugins import build_plugins

    request = json.load(sys.stdin)
    plugins = build_plugins(request["plugins_dir"], trace=request["trace"])
    targets = [Target(host, family) for host, family in request["targets"]]
    try:
        found = measure_now(plugins, request["collector"], targets, request["params"])
        answer: dict[str, Any] = {"measurements": [m.to_dict() for m in found]}
    except NetstatsError as exc:
        answer = {"error": {"code": exc.code, "message": exc.message, "fields": exc.fields}}
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    _answer_request()
