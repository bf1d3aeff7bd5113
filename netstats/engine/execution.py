"""Executing one run: check it is still wanted, measure every destination at once, store.

A run moves ``scheduled -> running`` in one short transaction that also decides whether the
job still wants it (enabled, not paused, same definition, in its window, not too late, no
previous run still going); otherwise it ends ``skipped`` with the reason. The collector is
called once for all of the job's destinations, in a thread of its own so that the run's
timeout holds whatever the plugin does. The outcome is written in one transaction
(``netstats.engine.storage``), retried while the database is locked or unreachable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from marshmallow import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from netstats import events
from netstats.collectors import STATUSES, Collector, Measurement, Target, invalid_distributions
from netstats.db import db, utcnow, write_transaction
from netstats.engine.identity import worker_name
from netstats.engine.outbox import enqueue_after_commit
from netstats.engine.storage import Outcome, RunLost, RunRef, add_run_event, write_outcome
from netstats.models import Job, JobRun
from netstats.plugins import get_plugins
from netstats.scheduling import is_open, runs_between
from netstats.selection import measured_destinations
from netstats.stats import percentile

log = logging.getLogger(__name__)

# A job without its own timeout gives each run this long, in seconds.
DEFAULT_TIMEOUT_S = 60.0
# A planned run that starts later than this (or one interval, if longer) is skipped as missed.
LATE_LIMIT = timedelta(seconds=60)
# Retries after a collector error wait 1, 2, 4... seconds, at most this long.
RETRY_BACKOFF_MAX_S = 30.0
# How long a run keeps retrying a database write that fails (locked, connection lost).
WRITE_RETRY_BUDGET_S = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class RunPlan:
    """What a started run needs to measure, read in its start transaction."""

    ref: RunRef
    job_name: str
    attempt: int
    retries: int
    timeout_s: float
    collector: Collector
    params: dict[str, Any]
    targets: Sequence[tuple[int, Target]]


class PlanError(Exception):
    """The job cannot run as defined (collector missing, parameters no longer valid)."""


def execute_run(run_id: int) -> None:
    """Execute run ``run_id`` if it is still ``scheduled``: the body of the queue's task."""
    worker = worker_name()
    plan = retry_writes(lambda: start_run(run_id, worker, utcnow()))
    if plan is None:
        return
    begun = time.monotonic()
    outcome, retryable = measure(plan)
    if retryable and plan.attempt <= plan.retries:
        delay = timedelta(seconds=min(2.0 ** (plan.attempt - 1), RETRY_BACKOFF_MAX_S))
        retry_writes(lambda: schedule_retry(plan.ref, worker, outcome.error, delay))
        log.info("run %d of %s: %s; retry in %g s", run_id, plan.job_name, outcome.error, delay)
        return
    try:
        retry_writes(lambda: write_outcome(plan.ref, worker, outcome, utcnow()))
    except RunLost as exc:
        log.warning("%s; its outcome (%s) is dropped", exc, outcome.status)
        return
    log.info("%s", describe_outcome(plan, outcome, time.monotonic() - begun))


def describe_outcome(plan: RunPlan, outcome: Outcome, seconds: float) -> str:
    """One line for the worker's log: the run, its job, how it ended, and per destination
    its status and headline figures (the median of the collector's headline distribution,
    and the loss where the collector counts it)."""
    line = f"run {plan.ref.id} of {plan.job_name} {outcome.status} in {seconds:.2f} s"
    if outcome.error:
        return f"{line}: {outcome.error}"
    parts = []
    for _, m in outcome.measurements:
        part = f"{m.target} {m.status}"
        values = sorted(m.distributions.get(plan.collector.headline or "", []))
        if values:
            part += f" {plan.collector.headline} median {percentile(values, 0.5):.3f}"
        if m.metrics.get("loss_pct") is not None:
            part += f" loss {m.metrics['loss_pct']:g}%"
        parts.append(part)
    return f"{line}: {'; '.join(parts)}"


def start_run(run_id: int, worker: str, now: datetime) -> RunPlan | None:
    """Move the run to ``running`` if its job still wants it; commit; return what to measure.

    Returns None when there is nothing to measure: the run was already taken (a duplicate
    task), deleted, skipped here, or failed here because the job cannot run.
    """
    with write_transaction():
        job_id = db.session.scalar(select(JobRun.job_id).where(JobRun.id == run_id))
        # Job first, then run: the same lock order as an edit of the job (PostgreSQL).
        job = db.session.get(Job, job_id, with_for_update=True) if job_id is not None else None
        run = db.session.get(JobRun, run_id, with_for_update=True, populate_existing=True)
        if job is None or run is None or run.status != "scheduled":
            return None
        ref = RunRef(run.id, run.job_id, run.scheduled_at)
        reason = unwanted_reason(run, job, now)
        if reason is not None:
            _end_early(run, Outcome("skipped", reason=reason), now)
            return None
        run.status, run.started_at, run.worker = "running", now, worker
        run.attempt += 1
        run.job_version = job.version
        if run.attempt == 1:
            run.lateness_ms = (now - run.scheduled_at).total_seconds() * 1000
        try:
            plan = _plan_of(job, ref, run.attempt)
        except PlanError as exc:
            _end_early(run, Outcome("failed", error=str(exc)), now)
            return None
        if not plan.targets:
            _end_early(run, Outcome("skipped", reason="no destinations to measure"), now)
            return None
        add_start_event(run, plan, now)
        return plan


def add_start_event(run: JobRun, plan: RunPlan, now: datetime) -> None:
    """Announce the run's start (``run_started``), in its start transaction."""
    payload = {
        "run_id": run.id,
        "job_id": run.job_id,
        "trigger": run.trigger,
        "attempt": run.attempt,
        "scheduled_at": run.scheduled_at.isoformat(),
        "started_at": now.isoformat(),
        "worker": run.worker,
        "destination_ids": [destination_id for destination_id, _ in plan.targets],
    }
    events.append("run_started", payload, now)


def unwanted_reason(run: JobRun, job: Job, now: datetime) -> str | None:
    """Why the job no longer wants this run, or None when it should go ahead."""
    if not job.enabled:
        return "job disabled"
    if run.trigger == "schedule":
        if job.paused:
            return "job paused"
        at = run.scheduled_at
        if run.job_version != job.version and runs_between(job, at, at + _TICK) != [at]:
            return f"job changed (version {run.job_version} -> {job.version})"
        if not is_open(job, at):
            return "outside the job's window"
        late = now - at
        if run.attempt == 0 and late > max(LATE_LIMIT, timedelta(seconds=job.interval_s)):
            return f"missed: started {late.total_seconds():.0f} s late"
    running = db.session.scalar(
        select(JobRun.id)
        .where(JobRun.job_id == job.id, JobRun.status == "running", JobRun.id != run.id)
        .limit(1)
    )
    if running is not None:
        return f"overlap: run {running} still running"
    return None


_TICK = timedelta(microseconds=1)


def _plan_of(job: Job, ref: RunRef, attempt: int) -> RunPlan:
    collector = get_plugins().collectors.get(job.collector)
    if collector is None:
        raise PlanError(f"collector {job.collector!r} is not installed")
    try:
        params = collector.params().load(job.params or {})
    except ValidationError as exc:
        raise PlanError(f"parameters no longer valid for {job.collector}: {exc.messages}") from None
    # A stable flow key per (job, destination): repeated traces take the same ECMP path.
    targets = [
        (d.id, Target(d.host, d.family, flow_key=f"{job.id}:{d.id}"))
        for d in measured_destinations(job)
    ]
    return RunPlan(
        ref=ref,
        job_name=job.name,
        attempt=attempt,
        retries=job.retries or 0,
        timeout_s=job.timeout_s or DEFAULT_TIMEOUT_S,
        collector=collector,
        params=params,
        targets=targets,
    )


def _end_early(run: JobRun, outcome: Outcome, now: datetime) -> None:
    """End a run in its start transaction (skipped, or failed before measuring)."""
    run.status, run.reason, run.error, run.finished_at = (
        outcome.status,
        outcome.reason,
        outcome.error,
        now,
    )
    add_run_event(RunRef(run.id, run.job_id, run.scheduled_at), outcome, [], now)
    log.info(
        "run %d of job %d %s: %s",
        run.id,
        run.job_id,
        outcome.status,
        outcome.reason or outcome.error,
    )


def measure(plan: RunPlan) -> tuple[Outcome, bool]:
    """Call the collector once for every target, within the run's timeout.

    Returns the outcome and whether another attempt could do better: only an error the
    collector raised is worth a retry. A timeout is not (the next run comes anyway), nor
    is a lost probe, which is data: a measurement with status ``timeout``.

    A collector that overruns is left to finish in its daemon thread and its answer is
    dropped: Python cannot stop a thread, and the run must end on time.
    """
    answer: dict[str, Any] = {}

    def call() -> None:
        try:
            answer["value"] = plan.collector.collect(
                [target for _, target in plan.targets], plan.params
            )
        except BaseException as exc:
            answer["error"] = exc

    thread = threading.Thread(target=call, name=f"collect-run-{plan.ref.id}", daemon=True)
    thread.start()
    thread.join(plan.timeout_s)
    if thread.is_alive():
        error = f"collector did not finish within {plan.timeout_s:g} s"
        return Outcome("timed_out", error=error), False
    if "error" in answer:
        exc = answer["error"]
        return Outcome("failed", error=f"{type(exc).__name__}: {exc}"), True
    problem = invalid_answer(answer.get("value"), len(plan.targets))
    if problem is not None:
        log.error("collector %s: %s", plan.collector.name, problem)
        # The plugin would answer the same way again.
        return Outcome("failed", error=f"collector {plan.collector.name} {problem}"), False
    pairs = [(d, m) for (d, _), m in zip(plan.targets, answer["value"], strict=True)]
    return Outcome("succeeded", measurements=pairs), False


def invalid_answer(value: Any, expected: int) -> str | None:
    """What is wrong with a collector's answer, or None when it is a usable one."""
    if not isinstance(value, list | tuple):
        return f"returned {type(value).__name__}, not a list of Measurement"
    if len(value) != expected:
        return f"returned {len(value)} measurements for {expected} targets"
    for m in value:
        if not isinstance(m, Measurement):
            return f"returned {type(m).__name__}, not a Measurement"
        if not isinstance(m.started_at, datetime) or m.started_at.tzinfo is None:
            return "returned a measurement without an aware started_at"
        if m.status not in STATUSES:
            return f"returned status {m.status!r}"
        if not isinstance(m.metrics, dict) or not isinstance(m.details, dict):
            return "returned metrics or details that are not objects"
        if isinstance(m.duration_ms, bool) or not isinstance(m.duration_ms, int | float):
            return "returned a duration that is not a number"
        if (problem := invalid_distributions(m)) is not None:
            return problem
    return None


def schedule_retry(ref: RunRef, worker: str, error: str | None, delay: timedelta) -> bool:
    """Put a failed attempt back to ``scheduled`` (its error kept) and enqueue it ``delay`` on.

    Returns False if the run is no longer this worker's.
    """
    with write_transaction():
        result = db.session.execute(
            update(JobRun)
            .where(JobRun.id == ref.id, JobRun.status == "running", JobRun.worker == worker)
            .values(status="scheduled", error=error, worker=None, started_at=None)
        )
        if result.rowcount == 1:
            enqueue_after_commit([(ref.id, utcnow() + delay)])
    return result.rowcount == 1


def retry_writes(action: Callable[[], T], budget_s: float = WRITE_RETRY_BUDGET_S) -> T:
    """Run a unit of database work, again after a pause while the database is locked or away.

    Each attempt is a whole transaction that rolls back on failure, so a retry never finds
    half of the previous attempt.
    """
    deadline = time.monotonic() + budget_s
    delay = 0.05
    while True:
        try:
            return action()
        except (OperationalError, DBAPIError) as exc:
            transient = isinstance(exc, OperationalError) or exc.connection_invalidated
            if not transient or time.monotonic() + delay > deadline:
                raise
            log.warning("database write failed (%s); retrying in %.2f s", exc.orig, delay)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
