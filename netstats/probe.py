"""Probe now: measure once, at once, storing nothing; for the API and ``netstats probe``.

``measure_now`` checks the parameters as a job's are and calls the collector. In the web
process ``probe_destination`` runs it in a small pool with a deadline, so a probe with long
parameters cannot hold a web worker for longer than ``PROBE_TIMEOUT_S``, and at most
``MAX_PROBES`` run at once per process (a probe past its deadline finishes in the
background, holding its slot).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from netstats.collectors import CollectorError, Measurement, Target
from netstats.errors import NetstatsError

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
