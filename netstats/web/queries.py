"""Read-only queries of the pages that no service module offers: the latest results."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from netstats.db import db
from netstats.models import Destination, JobRun, Measurement

FINISHED_RUN_STATES = ("succeeded", "failed", "timed_out", "skipped", "abandoned")


def latest_measurements(destination_ids: Iterable[int] | None = None) -> dict[int, Measurement]:
    """The newest measurement of each destination (of any job), by destination id.

    One index seek per destination (``ix_measurements_destination_started``), however many
    years of measurements there are. ``None`` means every enabled destination.
    """
    latest_id = (
        select(Measurement.id)
        .where(Measurement.destination_id == Destination.id)
        .order_by(Measurement.started_at.desc(), Measurement.id.desc())
        .limit(1)
        .correlate(Destination)
        .scalar_subquery()
    )
    stmt = select(Destination.id, Measurement).join(Measurement, Measurement.id == latest_id)
    if destination_ids is None:
        stmt = stmt.where(Destination.enabled.is_(True))
    else:
        stmt = stmt.where(Destination.id.in_(list(destination_ids)))
    return {destination_id: m for destination_id, m in db.session.execute(stmt)}


def is_trouble(measurement: Measurement) -> bool:
    """A measurement that failed, timed out or lost packets."""
    return measurement.status != "ok" or (measurement.metrics.get("loss_pct") or 0) > 0


def latest_runs(limit: int = 10) -> list[JobRun]:
    """The runs that started most recently (running or finished), newest first."""
    stmt = (
        select(JobRun)
        .where(JobRun.status.in_(("running", *FINISHED_RUN_STATES)))
        .order_by(JobRun.scheduled_at.desc(), JobRun.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))
