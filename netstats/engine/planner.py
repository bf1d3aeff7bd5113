"""The planner: ``job_runs`` rows for a short horizon ahead, each handed to the queue.

Rows are unique on (job, scheduled time) and every planner computes the same times (see
``netstats.scheduling``), so two planners racing insert each run once: the loser's insert
does nothing, and only the rows a planner actually inserted are enqueued by it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from netstats.db import db, insert_ignoring, utcnow
from netstats.engine import totals
from netstats.engine.outbox import PlannedRun, enqueue_after_commit
from netstats.models import Job, JobRun
from netstats.scheduling import runs_between

# How far ahead runs are planned, and how often the worker's planner looks again.
HORIZON = timedelta(seconds=60)
PLAN_EVERY_S = 5.0
# A planned run still waiting this long after its time was lost (its task never came):
# the planner records it as skipped. Retries wait in `scheduled` too, hence the margin.
MISSED_AFTER = timedelta(minutes=10)


def _insert(rows: list[dict]) -> list[PlannedRun]:
    """Insert run rows, skipping those another planner inserted first; return the new ones."""
    if not rows:
        return []
    table = JobRun.__table__
    stmt = insert_ignoring(table, table.c.job_id, table.c.scheduled_at).returning(
        table.c.id, table.c.scheduled_at
    )
    return [(row.id, row.scheduled_at) for row in db.session.execute(stmt, rows)]


def plan(now: datetime | None = None, job_ids: Sequence[int] | None = None) -> list[PlannedRun]:
    """Plan every active job's runs up to ``now + HORIZON``, in the caller's write transaction.

    The new runs go to the queue when that transaction commits.
    Each job continues after the last run planned for it, so a tick plans only what is new.
    """
    now = now or utcnow()
    last = (
        select(func.max(JobRun.scheduled_at))
        .where(JobRun.job_id == Job.id, JobRun.trigger == "schedule")
        .scalar_subquery()
    )
    stmt = select(Job, last).where(Job.enabled.is_(True), Job.paused.is_(False))
    if job_ids is not None:
        stmt = stmt.where(Job.id.in_(job_ids))
    rows = []
    for job, last_planned in db.session.execute(stmt):
        after = now if last_planned is None else max(now, last_planned + timedelta(microseconds=1))
        rows.extend(
            {
                "job_id": job.id,
                "job_version": job.version,
                "scheduled_at": at,
                "trigger": "schedule",
                "status": "scheduled",
                "attempt": 0,
            }
            for at in runs_between(job, after, now + HORIZON)
        )
    planned = _insert(rows)
    enqueue_after_commit(planned)
    return planned


def unplan(job_id: int, now: datetime | None = None) -> int:
    """Delete a job's planned runs that have not started and lie ahead, in the caller's write
    transaction.

    Used when a job is edited, paused or disabled, so that its future follows the new
    definition from the next run on. A task still queued for a deleted run finds nothing.
    """
    now = now or utcnow()
    result = db.session.execute(
        delete(JobRun).where(
            JobRun.job_id == job_id,
            JobRun.status == "scheduled",
            JobRun.trigger == "schedule",
            JobRun.attempt == 0,
            JobRun.scheduled_at > now,
        )
    )
    return result.rowcount


def pending_runs() -> list[PlannedRun]:
    """Every run still waiting to start, for re-enqueueing after a worker (re)starts."""
    stmt = select(JobRun.id, JobRun.scheduled_at).where(JobRun.status == "scheduled")
    return [(row.id, row.scheduled_at) for row in db.session.execute(stmt)]


def skip_missed(now: datetime | None = None) -> int:
    """Record as skipped the planned runs whose task never came, and count them in the run
    totals, in the caller's transaction."""
    now = now or utcnow()
    job_ids = db.session.scalars(
        update(JobRun)
        .where(JobRun.status == "scheduled", JobRun.scheduled_at < now - MISSED_AFTER)
        .values(
            status="skipped",
            reason=f"missed: not started within {int(MISSED_AFTER.total_seconds())} s",
            finished_at=now,
        )
        .returning(JobRun.job_id)
    ).all()
    totals.count_runs(Counter((job_id, "skipped") for job_id in job_ids), now)
    return len(job_ids)
