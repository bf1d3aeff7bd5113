"""Probe now: measure one destination once, at once, from the web process, storing nothing.

The collector runs in a small pool with a deadline, so a probe with long parameters cannot
hold a web worker for longer than ``PROBE_TIMEOUT_S``, and at most ``MAX_PROBES`` run at
once per process (a probe past its deadline finishes in the background, holding its slot).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from netstats.collectors import CollectorError, Measurement, Target
from netstats.errors import NetstatsError
from netstats.jobs import validated_params
from netstats.models import Destination
from netstats.plugins import get_plugins

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


def probe_destination(
    destination: Destination, collector_name: str = "ping", params: dict[str, Any] | None = None
) -> Measurement:
    """Measure ``destination`` once with the collector; parameters checked as a job's are."""
    checked = validated_params(collector_name, params or {})
    collector = get_plugins().collectors[collector_name]
    loaded = collector.params().load(checked)
    target = Target(destination.host, destination.family)
    if not _slots.acquire(blocking=False):
        raise ProbeUnavailable(f"{MAX_PROBES} probes are running already; try again shortly.")
    try:
        future = _pool.submit(collector.collect, [target], loaded)
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
    except CollectorError as exc:
        raise ProbeUnavailable(str(exc)) from None
    except Exception as exc:  # a broken plugin costs this probe, never the web process
        raise CollectorFailed(f"The {collector_name} collector failed: {exc!r}") from None
    return measurement
