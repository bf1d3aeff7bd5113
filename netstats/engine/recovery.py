"""Runs whose worker died under them end ``abandoned``, so that nothing stays ``running``.

A run is orphaned when its worker (``host:pid:boot/thread``, see
``netstats.engine.identity``) is on this host and no longer alive, or when it has been
running far longer than a live worker would let it (its timeout plus the write retry budget
and a margin): that covers workers on other hosts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from netstats.db import db, utcnow, write_transaction
from netstats.engine.execution import DEFAULT_TIMEOUT_S, WRITE_RETRY_BUDGET_S
from netstats.engine.identity import worker_alive
from netstats.engine.storage import Outcome, RunRef, add_run_event
from netstats.models import Job, JobRun

STALE_MARGIN = timedelta(seconds=60)


def abandon_orphans(now: datetime | None = None) -> list[int]:
    """End every orphaned ``running`` run as ``abandoned`` with the reason; commit."""
    now = now or utcnow()
    with write_transaction():
        rows = db.session.execute(
            select(JobRun, Job.timeout_s)
            .join(Job, Job.id == JobRun.job_id)
            .where(JobRun.status == "running")
            .with_for_update(of=JobRun)
        ).all()
        abandoned = []
        for run, timeout_s in rows:
            reason = _orphan_reason(run, timeout_s, now)
            if reason is None:
                continue
            run.status, run.reason, run.finished_at = "abandoned", reason, now
            add_run_event(
                RunRef(run.id, run.job_id, run.scheduled_at),
                Outcome("abandoned", reason=reason),
                [],
                now,
            )
            abandoned.append(run.id)
    return abandoned


def _orphan_reason(run: JobRun, timeout_s: float | None, now: datetime) -> str | None:
    alive = worker_alive(run.worker)
    if alive is False:
        return f"worker {run.worker} stopped during the run"
    limit = (
        timedelta(seconds=(timeout_s or DEFAULT_TIMEOUT_S) + WRITE_RETRY_BUDGET_S) + STALE_MARGIN
    )
    if run.started_at is not None and now - run.started_at > limit:
        return (
            f"no news from worker {run.worker} for {int((now - run.started_at).total_seconds())} s"
        )
    return None
