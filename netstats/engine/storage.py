"""Writing a run's outcome: measurements, metric samples, final state and event, all at once.

Everything a finished run produces goes into one transaction, so a reader (or an SSE client
following the event log) sees all of it or none of it. Samples go in as one SQLAlchemy Core
executemany: ORM objects cost about five times as much per row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from netstats import events
from netstats.collectors import Measurement
from netstats.db import db, insert_ignoring, write_transaction
from netstats.models import JobRun, Series, samples
from netstats.models import Measurement as MeasurementRow

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RunLost(Exception):
    """The run is no longer this worker's to finish (deleted with its job, or abandoned)."""


@dataclass(frozen=True)
class RunRef:
    """What a finished run's rows need to know of it."""

    id: int
    job_id: int
    scheduled_at: datetime


@dataclass(frozen=True)
class Outcome:
    """How a run ended and what it measured (one measurement per destination id)."""

    status: str
    error: str | None = None
    reason: str | None = None
    measurements: Sequence[tuple[int, Measurement]] = ()


def timestamp_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch (the ``samples.ts_us`` unit)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def clean_metrics(metrics: dict[str, Any]) -> dict[str, float | int | None]:
    """Keep the numeric metrics of a plugin's answer; NaN and infinities become gaps.

    Integers stay integers (a count of probes is 5, not 5.0).
    """
    cleaned: dict[str, float | int | None] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or isinstance(value, bool):
            continue
        if value is None or isinstance(value, int):
            cleaned[name] = value
        elif isinstance(value, float):
            cleaned[name] = value if math.isfinite(value) else None
    return cleaned


def write_outcome(run: RunRef, worker: str, outcome: Outcome, now: datetime) -> list[int]:
    """Finish ``run`` with ``outcome`` in one transaction; return the new measurement ids.

    Raises ``RunLost`` (after rolling back) when the run is no longer running under
    ``worker``; database errors propagate with nothing written.
    """
    with write_transaction():
        claimed = db.session.execute(
            update(JobRun)
            .where(JobRun.id == run.id, JobRun.status == "running", JobRun.worker == worker)
            .values(
                status=outcome.status,
                error=outcome.error,
                reason=outcome.reason,
                finished_at=now,
            )
        )
        if claimed.rowcount != 1:
            raise RunLost(f"run {run.id} is no longer running under {worker}")
        ids = _insert_measurements(run, outcome.measurements)
        _insert_samples(run.job_id, outcome.measurements, ids)
        add_run_event(run, outcome, ids, now)
    return ids


def add_run_event(run: RunRef, outcome: Outcome, ids: Sequence[int], now: datetime) -> None:
    """Append the run's ending to the event log, in the caller's transaction.

    The payload is enough for a page to redraw without a query of its own.
    """
    payload = {
        "run_id": run.id,
        "job_id": run.job_id,
        "status": outcome.status,
        "reason": outcome.reason,
        "error": outcome.error,
        "scheduled_at": run.scheduled_at.isoformat(),
        "finished_at": now.isoformat(),
        "measurements": [
            {
                "id": mid,
                "destination_id": destination_id,
                "status": m.status,
                "metrics": clean_metrics(m.metrics),
            }
            for mid, (destination_id, m) in zip(ids, outcome.measurements, strict=True)
        ],
    }
    events.append("run", payload, now)


def _insert_measurements(run: RunRef, measured: Sequence[tuple[int, Measurement]]) -> list[int]:
    if not measured:
        return []
    table = MeasurementRow.__table__
    rows = [
        {
            "run_id": run.id,
            "job_id": run.job_id,
            "destination_id": destination_id,
            "collector": m.collector,
            "target": m.target,
            "address": m.address,
            "started_at": m.started_at,
            "duration_ms": m.duration_ms,
            "status": m.status,
            "error": m.error,
            "metrics": clean_metrics(m.metrics),
            "details": m.details,
        }
        for destination_id, m in measured
    ]
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(db.session.scalars(stmt, rows))


def _series_ids(job_id: int, keys: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """Series ids by (destination id, metric), creating the missing ones."""
    destination_ids = {d for d, _ in keys}
    stmt = select(Series.destination_id, Series.metric, Series.id).where(
        Series.job_id == job_id, Series.destination_id.in_(destination_ids)
    )
    found = {(r.destination_id, r.metric): r.id for r in db.session.execute(stmt)}
    missing = keys - found.keys()
    if missing:
        db.session.execute(
            insert_ignoring(Series.__table__),
            [{"destination_id": d, "job_id": job_id, "metric": m} for d, m in sorted(missing)],
        )
        found = {(r.destination_id, r.metric): r.id for r in db.session.execute(stmt)}
    return found


def _insert_samples(
    job_id: int, measured: Sequence[tuple[int, Measurement]], ids: Sequence[int]
) -> None:
    cleaned = [(d, m, clean_metrics(m.metrics)) for d, m in measured]
    keys = {(d, name) for d, _, metrics in cleaned for name in metrics}
    if not keys:
        return
    series = _series_ids(job_id, keys)
    rows = [
        {
            "series_id": series[(d, name)],
            "ts_us": timestamp_us(m.started_at),
            "measurement_id": mid,
            "value": value,
        }
        for mid, (d, m, metrics) in zip(ids, cleaned, strict=True)
        for name, value in metrics.items()
    ]
    db.session.execute(insert(samples), rows)
