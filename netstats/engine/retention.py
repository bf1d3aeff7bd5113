"""Retention: what is past its time goes, in small batches that never hold up runs.

Settings (days, 0 = forever; docs/series.md): ``RETENTION_MEASUREMENTS_DAYS`` (measurement
rows with their details), ``RETENTION_SAMPLES_DAYS``, ``RETENTION_5M_DAYS``,
``RETENTION_30M_DAYS``, ``RETENTION_1H_DAYS``, ``RETENTION_6H_DAYS``, ``RETENTION_1D_DAYS``,
``RETENTION_EVENTS_DAYS`` and
``RETENTION_RUNS_DAYS`` (finished runs; a run is kept at least as long as its measurements,
which go with it).

Each batch (``BATCH`` rows) is its own short write transaction, with a pause between two, so a
run's write waits at most one batch. On PostgreSQL the time-partitioned tables (``samples``,
``rollups_5m``) first lose every partition wholly past its time (one DROP), then the rows
past their time in the boundary partition (and the DEFAULT one) go in batches. The worker
runs ``prune`` every ``RETENTION_EVERY_S``, and creates partitions ahead in the same pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Table, delete, exists, select, text
from sqlalchemy.exc import OperationalError

from netstats.db import db, utcnow, write_transaction
from netstats.engine.partitions import drop_partitions_before, ensure_partitions
from netstats.engine.storage import timestamp_us
from netstats.models import (
    Event,
    Job,
    JobRun,
    Measurement,
    Series,
    rollups_1d,
    rollups_1h,
    rollups_5m,
    rollups_6h,
    rollups_30m,
    samples,
)

log = logging.getLogger(__name__)

BATCH = 5000
PAUSE_S = 0.05
FINISHED_RUN_STATES = ("succeeded", "failed", "timed_out", "skipped", "abandoned")
# (what, setting, table, time column) of the series-keyed tables, samples first.
SERIES_TABLES: tuple[tuple[str, str, Table, str], ...] = (
    ("samples", "RETENTION_SAMPLES_DAYS", samples, "ts_us"),
    ("rollups_5m", "RETENTION_5M_DAYS", rollups_5m, "start_us"),
    ("rollups_30m", "RETENTION_30M_DAYS", rollups_30m, "start_us"),
    ("rollups_1h", "RETENTION_1H_DAYS", rollups_1h, "start_us"),
    ("rollups_6h", "RETENTION_6H_DAYS", rollups_6h, "start_us"),
    ("rollups_1d", "RETENTION_1D_DAYS", rollups_1d, "start_us"),
)


@dataclass
class RetentionReport:
    """Rows deleted by table, and partitions dropped."""

    deleted: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)


def cutoff(setting: str, now: datetime) -> datetime | None:
    """What is older than this is past its time under ``setting``; None: kept forever."""
    days = float(current_app.config.get(setting) or 0)
    return None if days <= 0 else now - timedelta(days=days)


class _Stopped(Exception):
    pass


def prune(
    now: datetime | None = None,
    batch: int = BATCH,
    pause_s: float = PAUSE_S,
    stop: threading.Event | None = None,
) -> RetentionReport:
    """One retention pass over every kind of data; returns what it removed.

    ``stop`` set (the worker stopping) ends the pass after the current batch.
    """
    report = RetentionReport()
    try:
        _prune(now or utcnow(), batch, pause_s, stop, report)
    except _Stopped:
        db.session.rollback()
    return report


def _prune(
    now: datetime,
    batch: int,
    pause_s: float,
    stop: threading.Event | None,
    report: RetentionReport,
) -> None:
    db.session.rollback()
    with write_transaction():
        report.created = ensure_partitions(db.session.connection(), now)

    def pace() -> None:
        if stop is not None:
            if stop.wait(pause_s):
                raise _Stopped
        elif pause_s:
            time.sleep(pause_s)

    for name, setting, table, column in SERIES_TABLES:
        limit = cutoff(setting, now)
        if limit is None:
            continue
        limit_us = timestamp_us(limit)
        report.dropped += _drop_partitions(table.name, limit_us)
        report.deleted[name] = _prune_series_table(table, table.c[column], limit_us, batch, pace)
    measurements_limit = cutoff("RETENTION_MEASUREMENTS_DAYS", now)
    if measurements_limit is not None:
        report.deleted["measurements"] = _prune_measurements(measurements_limit, batch, pace)
    runs_limit = cutoff("RETENTION_RUNS_DAYS", now)
    if runs_limit is not None and measurements_limit is not None:
        # A run takes its measurements with it: keep it as long as they are kept.
        report.deleted["job_runs"] = _prune_runs(min(runs_limit, measurements_limit), batch, pace)
    events_limit = cutoff("RETENTION_EVENTS_DAYS", now)
    if events_limit is not None:
        report.deleted["events"] = _prune_events(events_limit, batch, pace)


def _drop_partitions(table: str, limit_us: int) -> list[str]:
    if db.session.get_bind().dialect.name != "postgresql":
        return []
    try:
        with write_transaction():
            # Dropping a partition locks its parent: never wait behind a long reader for it.
            db.session.execute(text("SET LOCAL lock_timeout = '2s'"))
            dropped = drop_partitions_before(db.session.connection(), table, limit_us)
    except OperationalError as exc:
        log.warning("retention: partitions of %s not dropped this time: %s", table, exc.orig)
        return []
    if dropped:
        log.info("retention: dropped %s", ", ".join(dropped))
    return dropped


def _prune_series_table(
    table: Table, column, limit_us: int, batch: int, pace: Callable[[], None]
) -> int:
    """Rows before ``limit_us`` of every series that has some, ``batch`` at a time."""
    has_old = exists().where(table.c.series_id == Series.id, column < limit_us)
    series_ids = list(db.session.scalars(select(Series.id).where(has_old)))
    db.session.rollback()
    deleted = 0
    for series_id in series_ids:
        while True:
            with write_transaction():
                # The batch ends at the time of its batch-th row: an index range on every
                # dialect (DELETE ... LIMIT is not portable).
                boundary = db.session.scalar(
                    select(column)
                    .where(table.c.series_id == series_id, column < limit_us)
                    .order_by(column)
                    .offset(batch)
                    .limit(1)
                )
                end = limit_us if boundary is None else boundary
                result = db.session.execute(
                    delete(table).where(table.c.series_id == series_id, column < end)
                )
            deleted += result.rowcount
            if boundary is None:
                break
            pace()
    return deleted


def _prune_measurements(limit: datetime, batch: int, pace: Callable[[], None]) -> int:
    """Measurements started before ``limit``, job by job (their index), ``batch`` at a time."""
    job_ids: list[int | None] = [*db.session.scalars(select(Job.id)), None]
    db.session.rollback()
    deleted = 0
    for job_id in job_ids:
        of_job = Measurement.job_id.is_(None) if job_id is None else Measurement.job_id == job_id
        while True:
            with write_transaction():
                ids = list(
                    db.session.scalars(
                        select(Measurement.id)
                        .where(of_job, Measurement.started_at < limit)
                        .order_by(Measurement.started_at)
                        .limit(batch)
                    )
                )
                if ids:
                    db.session.execute(delete(Measurement).where(Measurement.id.in_(ids)))
            if not ids:
                break
            deleted += len(ids)
            if len(ids) < batch:
                break
            pace()
    return deleted


def _prune_runs(limit: datetime, batch: int, pace: Callable[[], None]) -> int:
    """Finished runs scheduled before ``limit`` (with whatever measurements they still have)."""
    deleted = 0
    for status in FINISHED_RUN_STATES:
        while True:
            with write_transaction():
                ids = list(
                    db.session.scalars(
                        select(JobRun.id)
                        .where(JobRun.status == status, JobRun.scheduled_at < limit)
                        .order_by(JobRun.scheduled_at)
                        .limit(batch)
                    )
                )
                if ids:
                    db.session.execute(delete(JobRun).where(JobRun.id.in_(ids)))
            if not ids:
                break
            deleted += len(ids)
            if len(ids) < batch:
                break
            pace()
    return deleted


def _prune_events(limit: datetime, batch: int, pace: Callable[[], None]) -> int:
    """Events created before ``limit``, oldest first: ids follow time, so the walk stops at
    the first batch that reaches a newer event (no index on the time needed)."""
    deleted = 0
    while True:
        with write_transaction():
            rows = db.session.execute(
                select(Event.id, Event.created_at).order_by(Event.id).limit(batch)
            ).all()
            old = [row.id for row in rows if row.created_at < limit]
            if old:
                db.session.execute(delete(Event).where(Event.id.in_(old)))
        if not old:
            return deleted
        deleted += len(old)
        if len(old) < len(rows) or len(rows) < batch:
            return deleted
        pace()
