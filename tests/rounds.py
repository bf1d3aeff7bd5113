"""Rounds written through the real write path (``write_outcome``), for the read-side tests.

A round is a ping-like measurement built from its RTTs (None for a lost probe) with the
metrics ``summarize`` gives, stored by a run row of its own as the worker stores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from netstats.collectors import Measurement
from netstats.db import db, write_transaction
from netstats.engine.storage import Outcome, RunRef, write_outcome
from netstats.models import Destination, Job, JobRun
from netstats.stats import summarize

WORKER = "test-worker"


def at(text: str) -> datetime:
    """An aware UTC datetime from ``YYYY-MM-DD HH:MM[:SS[.ffffff]]``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_job(
    name: str = "ping", destinations: Sequence[str] = ("a",), interval_s: int = 60
) -> tuple[int, list[int]]:
    """A disabled ping job (no worker plans it) over new destinations; (job id, their ids)."""
    db.session.rollback()
    with write_transaction():
        dests = [Destination(name=f"{name}-{d}", host="127.0.0.1") for d in destinations]
        job = Job(
            name=name,
            collector="ping",
            params={},
            interval_s=interval_s,
            enabled=False,
            destinations=dests,
        )
        db.session.add(job)
        db.session.flush()
        ids = (job.id, [d.id for d in dests])
    return ids


def ping_measurement(started_at: datetime, rtts: Sequence[float | None]) -> Measurement:
    """A ping round: ``rtts`` per probe in send order, None for a lost one."""
    metrics = summarize(list(rtts))
    received = [r for r in rtts if r is not None]
    status = "ok" if received else "timeout"
    return Measurement(
        collector="ping",
        target="127.0.0.1",
        address="127.0.0.1",
        started_at=started_at,
        duration_ms=10.0,
        status=status,
        error=None if received else "no reply",
        metrics=metrics,
        distributions={"rtt_ms": received},
    )


def write_round(
    job_id: int,
    rounds: Sequence[tuple[int, Measurement]],
    scheduled_at: datetime | None = None,
    finished_at: datetime | None = None,
) -> list[int]:
    """One run of the job measuring ``(destination id, measurement)`` pairs; measurement ids.

    The run is scheduled at the first measurement's time, plus as many microseconds as its
    destination id, so that runs of one destination each never collide.
    """
    scheduled_at = scheduled_at or rounds[0][1].started_at + timedelta(microseconds=rounds[0][0])
    db.session.rollback()  # a write transaction begins with the unit of work
    with write_transaction():
        run = JobRun(
            job_id=job_id,
            job_version=1,
            scheduled_at=scheduled_at,
            status="running",
            worker=WORKER,
            started_at=scheduled_at,
            attempt=1,
        )
        db.session.add(run)
        db.session.flush()
        ref = RunRef(run.id, job_id, scheduled_at)
    finished = finished_at or scheduled_at + timedelta(seconds=1)
    return write_outcome(ref, WORKER, Outcome("succeeded", measurements=list(rounds)), finished)


def write_pings(
    job_id: int, destination_id: int, start: datetime, step: timedelta, rtts_per_round
) -> None:
    """Rounds at ``start``, ``start + step``... with the RTT lists given, one run each."""
    for i, rtts in enumerate(rtts_per_round):
        moment = start + i * step
        write_round(job_id, [(destination_id, ping_measurement(moment, rtts))])
