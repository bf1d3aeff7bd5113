"""Runs whose worker died under them end ``abandoned``, so that nothing stays ``running``.

A run is orphaned when its worker (``host:pid:boot/thread``, see
``netstats.execution.worker_name``) is on this host and no longer alive, or when it has been
running far longer than a live worker would let it (its timeout plus the write retry budget
and a margin): that covers workers on other hosts.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import select

from netstats.db import begin_write, db, utcnow
from netstats.execution import DEFAULT_TIMEOUT_S, WRITE_RETRY_BUDGET_S, this_process
from netstats.models import Job, JobRun
from netstats.storage import Outcome, RunRef, add_event

STALE_MARGIN = timedelta(seconds=60)


def worker_alive(worker: str | None) -> bool | None:
    """Whether the worker that wrote ``worker`` still runs: None when it is on another host."""
    if not worker:
        return False
    process = worker.split("/", 1)[0]
    try:
        host, pid_text, _boot = process.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return None
    if pid == os.getpid():
        # Our pid, but maybe an earlier process's (a container restarted keeps its pids).
        return process == this_process()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def abandon_orphans(now: datetime | None = None) -> list[int]:
    """End every orphaned ``running`` run as ``abandoned`` with the reason; commit."""
    now = now or utcnow()
    try:
        begin_write()
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
            add_event(
                RunRef(run.id, run.job_id, run.scheduled_at),
                Outcome("abandoned", reason=reason),
                [],
                now,
            )
            abandoned.append(run.id)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
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
