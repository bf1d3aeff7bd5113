"""What happened last: newest measurements, latest runs, destinations in trouble."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from netstats.db import db, utcnow
from netstats.models import Destination, Job, JobRun, Measurement, Series
from netstats.selection import measuring_jobs

FINISHED_RUN_STATES = ("succeeded", "failed", "timed_out", "skipped", "abandoned")


def _newest_measurement_id(condition, outer):
    """A scalar subquery: the id of the newest measurement meeting ``condition``, correlated
    with the entity ``outer`` of the enclosing query (one index seek per outer row)."""
    return (
        select(Measurement.id)
        .where(condition)
        .order_by(Measurement.started_at.desc(), Measurement.id.desc())
        .limit(1)
        .correlate(outer)
        .scalar_subquery()
    )


def latest_measurements(destination_ids: Iterable[int] | None = None) -> dict[int, Measurement]:
    """The newest measurement of each destination (of any job), by destination id.

    One query: an index seek per destination (``ix_measurements_destination_started``),
    however many years of measurements there are. ``None`` means every enabled destination.
    """
    latest_id = _newest_measurement_id(Measurement.destination_id == Destination.id, Destination)
    stmt = select(Destination.id, Measurement).join(Measurement, Measurement.id == latest_id)
    if destination_ids is None:
        stmt = stmt.where(Destination.enabled.is_(True))
    else:
        stmt = stmt.where(Destination.id.in_(list(destination_ids)))
    return {destination_id: m for destination_id, m in db.session.execute(stmt)}


def latest_by_destination(limit: int) -> tuple[list[tuple[Destination, Measurement | None]], int]:
    """The first ``limit`` enabled destinations by name, each with its newest measurement (of
    any job; None before the first), and how many enabled destinations there are.

    Two queries: the count, and the destinations with an index seek each for the newest.
    """
    latest_id = _newest_measurement_id(Measurement.destination_id == Destination.id, Destination)
    enabled = Destination.enabled.is_(True)
    stmt = (
        select(Destination, Measurement)
        .outerjoin(Measurement, Measurement.id == latest_id)
        .where(enabled)
        .order_by(Destination.name, Destination.id)
        .limit(limit)
    )
    total = db.session.scalar(select(func.count()).select_from(Destination).where(enabled))
    return [(d, m) for d, m in db.session.execute(stmt)], int(total or 0)


def destination_status(destination: Destination) -> list[tuple[Job, Measurement | None]]:
    """Per job measuring the destination now or in the past, by name: its latest measurement.

    Three queries whatever the number of jobs: the jobs measuring it, the jobs that once did
    (they have series for it), and the latest measurement of each in one statement.
    """
    jobs = {j.id: j for j in measuring_jobs(destination)}
    past = select(Series.job_id).where(Series.destination_id == destination.id).distinct()
    latest_id = _newest_measurement_id(
        and_(Measurement.destination_id == destination.id, Measurement.job_id == Job.id), Job
    )
    stmt = (
        select(Job, Measurement)
        .outerjoin(Measurement, Measurement.id == latest_id)
        .where(or_(Job.id.in_(past), Job.id.in_(list(jobs))))
    )
    found = {job.id: (job, measurement) for job, measurement in db.session.execute(stmt)}
    return sorted(found.values(), key=lambda pair: pair[0].name)


def is_trouble(measurement: Measurement) -> bool:
    """A measurement that failed, timed out or lost packets."""
    return measurement.status != "ok" or (measurement.metrics.get("loss_pct") or 0) > 0


def destinations_in_trouble() -> list[tuple[Destination, Measurement]]:
    """Enabled destinations whose newest measurement is in trouble, by name, with it."""
    latest_id = _newest_measurement_id(Measurement.destination_id == Destination.id, Destination)
    stmt = (
        select(Destination, Measurement)
        .join(Measurement, Measurement.id == latest_id)
        .where(Destination.enabled.is_(True))
        .order_by(Destination.name)
    )
    return [(d, m) for d, m in db.session.execute(stmt) if is_trouble(m)]


def latest_runs(
    limit: int = 10, job_id: int | None = None, now: datetime | None = None
) -> list[JobRun]:
    """The newest runs that have started or are due (of one job, or of all), newest first.

    Runs planned ahead are not listed: they are upcoming times, not runs yet.
    """
    now = now or utcnow()
    stmt = select(JobRun).where(
        or_(JobRun.status != "scheduled", JobRun.scheduled_at <= now),
    )
    if job_id is not None:
        stmt = stmt.where(JobRun.job_id == job_id)
    stmt = stmt.order_by(JobRun.scheduled_at.desc(), JobRun.id.desc()).limit(limit)
    return list(db.session.scalars(stmt))
