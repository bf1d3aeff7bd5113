"""Measurements of a job over a range, row by row, for exports: read in chunks by key (the
time, then the id), so that memory stays constant whatever the length of the range and rows
leave as they are read; and the status transitions of each destination, for events and
outages.

A chunk is one query on ``ix_measurements_job_started``; the next starts after the last key
of the previous one (keyset pagination), never with an OFFSET that rereads what it skips.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

try:  # the "fast" extra: about 3 times json's speed on a measurement's metrics
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - the standard library does the same, slower
    from json import loads as _loads

from sqlalchemy import String, and_, func, or_, select, type_coerce

from netstats.db import db
from netstats.models import Measurement

CHUNK = 5000
# Rows a flat read fetches from the driver at a time (a server-side cursor on PostgreSQL).
FLAT_CHUNK = 5_000


@dataclass(frozen=True, slots=True)
class MeasurementRow:
    """One measurement as exports show it."""

    id: int
    started_at: datetime
    destination_id: int | None
    target: str
    address: str | None
    status: str
    error: str | None
    duration_ms: float
    metrics: dict[str, Any]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _range_filter(job_id: int, destinations, start: datetime, end: datetime) -> list:
    """The export's rows: the job's measurements in [start, end), of some destinations or all."""
    where = [
        Measurement.job_id == job_id,
        Measurement.started_at >= start,
        Measurement.started_at < end,
    ]
    if destinations is not None:
        where.append(Measurement.destination_id.in_(list(destinations)))
    return where


def _chunks(columns, job_id: int, destinations, start: datetime, end: datetime, chunk: int):
    where = _range_filter(job_id, destinations, start, end)
    after: tuple[datetime, int] | None = None
    while True:
        stmt = select(*columns).where(*where)
        if after is not None:
            stmt = stmt.where(
                or_(
                    Measurement.started_at > after[0],
                    and_(Measurement.started_at == after[0], Measurement.id > after[1]),
                )
            )
        # Core, not the ORM's result machinery: the rows are plain tuples either way.
        rows = (
            db.session.connection()
            .execute(stmt.order_by(Measurement.started_at, Measurement.id).limit(chunk))
            .all()
        )
        if not rows:
            return
        yield rows
        if len(rows) < chunk:
            return
        after = (rows[-1].started_at, rows[-1].id)


def measurement_rows(
    job_id: int,
    start: datetime,
    end: datetime,
    destinations: Sequence[int] | None = None,
    chunk: int = CHUNK,
) -> Iterator[MeasurementRow]:
    """Every measurement of ``job_id`` in [start, end) (of ``destinations`` if given), in
    time order, read ``chunk`` rows at a time."""
    columns = (
        Measurement.id,
        Measurement.started_at,
        Measurement.destination_id,
        Measurement.target,
        Measurement.address,
        Measurement.status,
        Measurement.error,
        Measurement.duration_ms,
        Measurement.metrics,
    )
    for rows in _chunks(columns, job_id, destinations, start, end, chunk):
        for r in rows:
            yield MeasurementRow(
                r.id,
                _aware(r.started_at),
                r.destination_id,
                r.target,
                r.address,
                r.status,
                r.error,
                r.duration_ms,
                r.metrics or {},
            )


def _naive_utc(value) -> datetime:
    # SQLite hands back the stored text ("YYYY-MM-DD HH:MM:SS.ffffff"), PostgreSQL a naive
    # datetime (the column is naive UTC on every dialect: netstats.db.UTCDateTime).
    if type(value) is str:
        return datetime.fromisoformat(value)
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def flat_measurements(
    job_id: int,
    start: datetime,
    end: datetime,
    destinations: Sequence[int] | None = None,
    chunk: int = FLAT_CHUNK,
) -> Iterator[list[tuple]]:
    """The measurements of ``measurement_rows`` for bulk exports, in lists of up to
    ``chunk`` plain tuples ``(started_at, destination_id, target, address, status, error,
    duration_ms, metrics)``: ``started_at`` a *naive* UTC datetime, ``metrics`` a dict.

    One query read in partitions (a server-side cursor on PostgreSQL), not a keyset query
    per chunk; the time and the metrics JSON leave the driver untouched by SQLAlchemy's
    type processing and are decoded once here, which is most of what an export spends per
    row."""
    where = _range_filter(job_id, destinations, start, end)
    stmt = (
        select(
            type_coerce(Measurement.started_at, String),
            Measurement.destination_id,
            Measurement.target,
            Measurement.address,
            Measurement.status,
            Measurement.error,
            Measurement.duration_ms,
            type_coerce(Measurement.metrics, String),
        )
        .where(*where)
        .order_by(Measurement.started_at, Measurement.id)
    )
    # On the statement, not the connection: the session's other queries stay buffered.
    result = db.session.connection().execute(
        stmt.execution_options(stream_results=True, yield_per=chunk)
    )
    loads = _loads
    try:
        for raw in result.partitions(chunk):
            yield [
                (
                    _naive_utc(t),
                    d,
                    target,
                    address,
                    status,
                    error,
                    duration,
                    (loads(m) if type(m) is str else m) or {},
                )
                for t, d, target, address, status, error, duration, m in raw
            ]
    finally:
        result.close()


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A destination's measurements went from ``before`` to ``after`` at ``at``."""

    destination_id: int
    at: datetime
    before: str | None
    after: str
    error: str | None


def status_changes(
    job_id: int,
    start: datetime,
    end: datetime,
    destinations: Sequence[int] | None = None,
    chunk: int = CHUNK,
) -> Iterator[StatusChange]:
    """Per destination, each measurement whose status differs from the one before it in the
    range (the first measurement of each destination counts as a change from None), in time
    order. Reads only (time, id, destination, status, error)."""
    columns = (
        Measurement.id,
        Measurement.started_at,
        Measurement.destination_id,
        Measurement.status,
        Measurement.error,
    )
    last: dict[int | None, str] = {}
    for rows in _chunks(columns, job_id, destinations, start, end, chunk):
        for r in rows:
            before = last.get(r.destination_id)
            if before != r.status:
                last[r.destination_id] = r.status
                yield StatusChange(
                    r.destination_id, _aware(r.started_at), before, r.status, r.error
                )


def count_measurements(
    job_id: int, start: datetime, end: datetime, destinations: Sequence[int] | None = None
) -> int:
    """How many measurements ``measurement_rows`` would yield (for a progress bar)."""
    stmt = select(func.count()).where(
        Measurement.job_id == job_id, Measurement.started_at >= start, Measurement.started_at < end
    )
    if destinations is not None:
        stmt = stmt.where(Measurement.destination_id.in_(list(destinations)))
    return int(db.session.scalar(stmt) or 0)
