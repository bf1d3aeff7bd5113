"""Counters since netstats began counting, and how the engine keeps up: what ``/metrics``
asks of the data.

The counters come from ``totals`` and ``run_totals`` (``netstats.engine.totals``), which
every run updates in its own transaction and nothing prunes: they only grow, in every
process, across restarts, whatever the retention settings. Each function is one query,
whatever the number of jobs and destinations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from netstats.db import db, utcnow
from netstats.models import Destination, Job, JobRun, RunTotals, Totals
from netstats.stats import percentile


@dataclass(frozen=True)
class PairTotals:
    """One (job, destination): its counters and its newest round."""

    job: str
    collector: str
    destination: str
    rounds_ok: int
    rounds_error: int
    rounds_timeout: int
    sent: int
    received: int
    traces: int
    route_changes: int
    route_flaps: int
    last_started_us: int
    last_status: str
    last_duration_ms: float
    last_metrics: dict[str, Any]


@dataclass(frozen=True)
class JobRunTotals:
    """One job's finished runs by final state, and when the newest of each state ended."""

    job: str
    collector: str
    counts: dict[str, int]
    last_finished_us: dict[str, int]

    @property
    def last_status(self) -> str:
        """The final state of the job's newest finished run."""
        return max(self.last_finished_us, key=self.last_finished_us.__getitem__)


@dataclass(frozen=True)
class EngineHealth:
    """Runs due and not started, and the lateness of the runs started lately."""

    due: int
    oldest_due_s: float
    window_s: float
    started: int
    lateness_s: dict[float, float]


def pair_totals() -> list[PairTotals]:
    """Every (job, destination) that has measured something, by job and destination name."""
    t = Totals
    stmt = (
        select(
            Job.name,
            Job.collector,
            Destination.name,
            t.rounds_ok,
            t.rounds_error,
            t.rounds_timeout,
            t.sent,
            t.received,
            t.traces,
            t.route_changes,
            t.route_flaps,
            t.last_started_us,
            t.last_status,
            t.last_duration_ms,
            t.last_metrics,
        )
        .join(Job, Job.id == t.job_id)
        .join(Destination, Destination.id == t.destination_id)
        .order_by(Job.name, Destination.name)
    )
    return [PairTotals(*row) for row in db.session.execute(stmt)]


def job_run_totals() -> list[JobRunTotals]:
    """Every job with a finished run: its runs by final state, by job name."""
    stmt = (
        select(
            Job.name,
            Job.collector,
            RunTotals.status,
            RunTotals.count,
            RunTotals.last_finished_us,
        )
        .join(Job, Job.id == RunTotals.job_id)
        .order_by(Job.name, RunTotals.status)
    )
    found: dict[str, JobRunTotals] = {}
    for name, collector, status, count, last in db.session.execute(stmt):
        entry = found.setdefault(name, JobRunTotals(name, collector, {}, {}))
        entry.counts[status] = count
        entry.last_finished_us[status] = last
    return list(found.values())


LATENESS_QUANTILES = (0.5, 0.95, 1.0)


def engine_health(
    now: datetime | None = None, window: timedelta = timedelta(minutes=5)
) -> EngineHealth:
    """How the engine keeps up at ``now``: runs due and not started yet (and how long the
    oldest has waited), and the lateness quantiles of the runs that started within
    ``window`` (the index ``ix_job_runs_status_scheduled`` serves both)."""
    now = now or utcnow()
    due, oldest = db.session.execute(
        select(func.count(), func.min(JobRun.scheduled_at)).where(
            JobRun.status == "scheduled", JobRun.scheduled_at <= now
        )
    ).one()
    lateness = sorted(
        v
        for v in db.session.scalars(
            select(JobRun.lateness_ms).where(
                JobRun.status.in_(("running", "succeeded", "failed", "timed_out")),
                JobRun.scheduled_at > now - window - timedelta(hours=1),
                JobRun.started_at > now - window,
            )
        )
        if v is not None
    )
    return EngineHealth(
        due=due,
        oldest_due_s=0.0 if oldest is None else max(0.0, (now - oldest).total_seconds()),
        window_s=window.total_seconds(),
        started=len(lateness),
        lateness_s={q: percentile(lateness, q) / 1000.0 for q in LATENESS_QUANTILES}
        if lateness
        else {},
    )
