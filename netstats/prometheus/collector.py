"""The custom collector behind ``/metrics``: metric families read from the database.

Names follow blackbox_exporter's (``probe_success`` becomes ``netstats_probe_success``) and
Prometheus's naming rules: base units (seconds, ratios 0-1), ``_total`` for counters,
``_timestamp_seconds`` for times. The netstats job is the label ``netstats_job``, never
``job`` (Prometheus sets ``job`` to the scrape job's name, renaming ours ``exported_job``).

Per (netstats job, destination), labels ``netstats_job``, ``destination``, ``collector``:
the newest round (success, time, duration, RTT or query time statistics, jitter, loss, hops)
as gauges; rounds by status, probes sent and received, route changes and flaps as counters
(``netstats.engine.totals``). Per job: runs by final state, the newest run. And the engine's
health: the queue, runs due and not started, the lateness of recent runs.

Five queries per scrape whatever the number of destinations (three of the database, two of
the queue).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from prometheus_client.core import Metric

from netstats import __version__
from netstats.models import MEASUREMENT_STATES
from netstats.prometheus.text import Family, to_client
from netstats.queries.series import metric_units
from netstats.queries.totals import (
    LATENESS_QUANTILES,
    engine_health,
    job_run_totals,
    pair_totals,
)

log = logging.getLogger(__name__)

# In name order, as the text format writes them (the writer then has nothing to sort).
PAIR_LABELS = ("collector", "destination", "netstats_job")
JOB_LABELS = ("collector", "netstats_job")
FINAL_RUN_STATES = ("succeeded", "failed", "timed_out", "skipped", "abandoned")
# The newest round's metrics exposed as gauges: metric -> (family, stat label or None, scale).
RTT_STATS = ("min", "avg", "median", "p95", "max", "mdev")
QUERY_TIME_STATS = ("min", "avg", "median", "max")
LAST_GAUGES = {
    **{f"rtt_{s}_ms": ("netstats_last_rtt_seconds", s, 1e-3) for s in RTT_STATS},
    **{
        f"query_time_{s}_ms": ("netstats_last_query_time_seconds", s, 1e-3)
        for s in QUERY_TIME_STATS
    },
    "jitter_ms": ("netstats_last_jitter_seconds", None, 1e-3),
    "loss_pct": ("netstats_last_loss_ratio", None, 1e-2),
    "hop_count": ("netstats_last_hops", None, 1.0),
}
LAST_HELP = {
    "netstats_last_rtt_seconds": "Round-trip time statistics of the newest round, by stat "
    "(min, avg, median, p95, max, mdev = population standard deviation).",
    "netstats_last_query_time_seconds": "DNS query time statistics of the newest round, by stat.",
    "netstats_last_jitter_seconds": "Jitter of the newest round: mean absolute difference of "
    "consecutive RTTs (IPDV).",
    "netstats_last_loss_ratio": "Share of probes lost in the newest round (0-1).",
    "netstats_last_hops": "Traceroute: TTL at which the destination answered in the newest "
    "round (else the highest TTL that did).",
}


class NetstatsCollector:
    """Reads every family from the database at each call of ``families`` (inside an app
    context); ``collect`` gives them as ``prometheus_client`` families, so that the
    collector also serves a ``CollectorRegistry``. ``cache_s`` only goes into the HELP
    texts: the caching is the view's."""

    def __init__(self, cache_s: float = 0.0, queue_counts=None) -> None:
        self.cache_s = cache_s
        self.queue_counts = queue_counts

    def describe(self) -> list[Metric]:
        """Nothing to describe in advance: registering the collector reads nothing."""
        return []

    def _help(self, text: str) -> str:
        if self.cache_s > 0:
            return f"{text} (cached up to {self.cache_s:g} s)"
        return text

    def collect(self) -> Iterator[Metric]:
        """Every family as ``prometheus_client``'s (the ``Collector`` protocol)."""
        return to_client(self.families())

    def families(self) -> list[Family]:
        """Every family, from three queries of the database and the queue's counts."""
        begun = time.perf_counter()
        found = [*self._pairs(), *self._jobs(), *self._health()]
        info = Family(
            "gauge", "netstats_build_info", "netstats' version (always 1).", labels=("version",)
        )
        info.add((__version__,), 1)
        took = Family(
            "gauge",
            "netstats_metrics_collect_seconds",
            "Time this answer took to read and build (before caching).",
        )
        took.add((), time.perf_counter() - begun)
        return [*found, info, took]

    def _pairs(self) -> Iterator[Family]:
        h = self._help
        success = Family(
            "gauge",
            "netstats_probe_success",
            h(
                "1 when the newest round succeeded (status ok, and for ping at least one reply), "
                "else 0."
            ),
            labels=PAIR_LABELS,
        )
        last_time = Family(
            "gauge",
            "netstats_last_run_timestamp_seconds",
            h("When the newest round began, seconds since the Unix epoch."),
            labels=PAIR_LABELS,
        )
        duration = Family(
            "gauge",
            "netstats_last_run_duration_seconds",
            h("How long the newest round took."),
            labels=PAIR_LABELS,
        )
        last = {
            family: Family(
                "gauge",
                family,
                h(LAST_HELP[family]),
                labels=PAIR_LABELS + (("stat",) if stat is not None else ()),
            )
            for family, stat, _ in LAST_GAUGES.values()
        }
        runs = Family(
            "counter",
            "netstats_runs",
            h("Rounds (one destination's measurement in a run) by status: ok, error, timeout."),
            labels=(*PAIR_LABELS, "status"),
        )
        sent = Family(
            "counter",
            "netstats_probes_sent",
            h(
                "Probes sent (ping echo requests). Loss over a window: "
                "1 - rate(received) / rate(sent)."
            ),
            labels=PAIR_LABELS,
        )
        received = Family(
            "counter",
            "netstats_probes_received",
            h("Probes answered within the timeout, duplicates excluded."),
            labels=PAIR_LABELS,
        )
        changes = Family(
            "counter",
            "netstats_route_changes",
            h("Traceroute route changes (a new path held for ROUTE_CHANGE_TRACES traces)."),
            labels=PAIR_LABELS,
        )
        flaps = Family(
            "counter",
            "netstats_route_flaps",
            h("Traceroute route flaps (a new path that did not hold)."),
            labels=PAIR_LABELS,
        )
        counts_probes: dict[str, bool] = {}
        for p in pair_totals():
            labels = (p.collector, p.destination, p.job)
            if p.collector not in counts_probes:
                units = metric_units(p.collector)
                counts_probes[p.collector] = "sent" in units and "received" in units
            metrics = p.last_metrics or {}
            ok = p.last_status == "ok" and (
                metrics.get("received") is None or metrics["received"] > 0
            )
            success.add(labels, 1 if ok else 0)
            last_time.add(labels, p.last_started_us / 1e6)
            duration.add(labels, p.last_duration_ms / 1e3)
            for name, (family, stat, scale) in LAST_GAUGES.items():
                value = metrics.get(name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    last[family].add(labels + ((stat,) if stat is not None else ()), value * scale)
            for status in MEASUREMENT_STATES:
                runs.add((*labels, status), getattr(p, f"rounds_{status}"))
            if counts_probes[p.collector] or p.sent:
                sent.add(labels, p.sent)
                received.add(labels, p.received)
            if p.traces:
                changes.add(labels, p.route_changes)
                flaps.add(labels, p.route_flaps)
        yield from (
            success,
            last_time,
            duration,
            *last.values(),
            runs,
            sent,
            received,
            changes,
            flaps,
        )

    def _jobs(self) -> Iterator[Family]:
        h = self._help
        runs = Family(
            "counter",
            "netstats_job_runs",
            h(
                "Finished runs of the job by final state: succeeded, failed, timed_out, skipped, "
                "abandoned."
            ),
            labels=(*JOB_LABELS, "status"),
        )
        last_time = Family(
            "gauge",
            "netstats_job_last_run_timestamp_seconds",
            h("When the job's newest finished run ended, seconds since the Unix epoch."),
            labels=JOB_LABELS,
        )
        last_success = Family(
            "gauge",
            "netstats_job_last_run_success",
            h("1 when the job's newest finished run succeeded, else 0."),
            labels=JOB_LABELS,
        )
        for j in job_run_totals():
            labels = (j.collector, j.job)
            for status in FINAL_RUN_STATES:
                runs.add((*labels, status), j.counts.get(status, 0))
            last_time.add(labels, max(j.last_finished_us.values()) / 1e6)
            last_success.add(labels, 1 if j.last_status == "succeeded" else 0)
        yield from (runs, last_time, last_success)

    def _health(self) -> Iterator[Family]:
        h = self._help
        health = engine_health()
        due = Family(
            "gauge",
            "netstats_runs_due",
            h("Runs whose time has come and that no worker has started yet."),
        )
        due.add((), health.due)
        oldest = Family(
            "gauge",
            "netstats_runs_oldest_due_seconds",
            h("How long the oldest run due and not started has waited (0 when none)."),
        )
        oldest.add((), health.oldest_due_s)
        window = f"{health.window_s / 60:g} minutes"
        started = Family(
            "gauge",
            "netstats_recent_runs_started",
            h(f"Runs started in the last {window}."),
        )
        started.add((), health.started)
        lateness = Family(
            "gauge",
            "netstats_recent_run_lateness_seconds",
            h(
                f"Lateness (start minus scheduled time) of the runs started in the last {window}, "
                "by quantile (1 = the largest)."
            ),
            labels=("quantile",),
        )
        for q in LATENESS_QUANTILES:
            if q in health.lateness_s:
                lateness.add((f"{q:g}",), health.lateness_s[q])
        yield from (due, oldest, started, lateness)
        if self.queue_counts is not None:
            try:
                ready, scheduled = self.queue_counts()
            except Exception as exc:  # the queue's trouble must not take the answer down
                log.warning("/metrics: cannot read the queue: %s", exc)
                up = 0
            else:
                up = 1
                tasks = Family(
                    "gauge",
                    "netstats_queue_tasks",
                    h(
                        "Tasks in the run queue: ready (waiting for a worker thread) and "
                        "scheduled (waiting for their time)."
                    ),
                    labels=("state",),
                )
                tasks.add(("ready",), ready)
                tasks.add(("scheduled",), scheduled)
                yield tasks
            queue_up = Family(
                "gauge", "netstats_queue_up", h("1 when the run queue answered, else 0.")
            )
            queue_up.add((), up)
            yield queue_up
