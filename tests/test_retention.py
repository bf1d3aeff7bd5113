"""Retention deletes exactly what is past its time, in batches, on both databases; on
PostgreSQL whole time partitions are dropped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text

from netstats.db import db, utcnow, write_transaction
from netstats.engine.partitions import ensure_partition, partitions
from netstats.engine.retention import prune
from netstats.engine.storage import timestamp_us
from netstats.models import (
    Event,
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
from tests.rounds import make_job, ping_measurement, write_round

DAY = timedelta(days=1)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def rollup_row(series_id: int, start_us: int) -> dict:
    return {
        "series_id": series_id,
        "start_us": start_us,
        "count": 1,
        "n": 1,
        "sum": 1.0,
        "sumsq": 1.0,
        "min": 1.0,
        "max": 1.0,
        "first_us": start_us,
        "last_us": start_us,
        "ok": 1,
        "error": 0,
        "timeout": 0,
        "hist": None,
        "quantiles": None,
    }


def child_tables(parent: str) -> set[str]:
    rows = db.session.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :parent "
            "AND p.relnamespace = to_regnamespace(current_schema())"
        ),
        {"parent": parent},
    )
    return {name for (name,) in rows}


def test_retention_deletes_exactly_what_is_past_its_time(ctx, database_url):
    now = utcnow()
    postgres = database_url.startswith("postgresql")
    if postgres:
        with write_transaction():
            conn = db.session.connection()
            for moment in (now - 40 * DAY, now - 35 * DAY):
                ensure_partition(conn, "samples", moment)
            ensure_partition(conn, "rollups_5m", now - 140 * DAY)
    job, (dest,) = make_job()
    ages = [101, 40, 35.01, 34.99, 6.99]  # days
    for age in ages:
        moment = now - timedelta(days=age)
        write_round(job, [(dest, ping_measurement(moment, [1.0]))], finished_at=moment)
    series = db.session.scalar(select(Series.id).where(Series.metric == "rtt_ms"))
    rows = {
        rollups_5m: [140, 100.01, 99.99],
        rollups_30m: [365.01, 364.99],
        rollups_1h: [730.01, 729.99],
        rollups_6h: [5000],
        rollups_1d: [5000],
    }
    db.session.rollback()
    with write_transaction():
        for table, days in rows.items():
            db.session.execute(
                insert(table),
                [rollup_row(series, timestamp_us(now - timedelta(days=d))) for d in days],
            )
        # A run planned long ago that never finished is not a finished run: it stays.
        db.session.add(JobRun(job_id=job, job_version=1, scheduled_at=now - 200 * DAY))
    if postgres:
        before = child_tables("samples")
        old_day = f"samples_p{(now - 40 * DAY):%Y%m%d}"
        boundary = f"samples_p{(now - 35 * DAY):%Y%m%d}"
        old_month = f"rollups_5m_p{(now - 140 * DAY):%Y%m}"
        assert {old_day, boundary} <= before
        assert old_month in child_tables("rollups_5m")

    report = prune(now, batch=2, pause_s=0)

    db.session.rollback()
    sample_times = sorted(
        db.session.scalars(select(samples.c.ts_us).where(samples.c.series_id == series))
    )
    assert sample_times == [timestamp_us(now - timedelta(days=d)) for d in (34.99, 6.99)]
    for table, kept in (
        (rollups_5m, [99.99]),
        (rollups_30m, [364.99]),
        (rollups_1h, [729.99]),
        (rollups_6h, [5000]),
        (rollups_1d, [5000]),
    ):
        starts = sorted(db.session.scalars(select(table.c.start_us)))
        assert starts == [timestamp_us(now - timedelta(days=d)) for d in sorted(kept, reverse=True)]
    started = sorted(db.session.scalars(select(Measurement.started_at)))
    assert started == [now - timedelta(days=d) for d in (34.99, 6.99)]
    # Runs: the finished run of 101 days went, the younger ones stay, the unfinished one too.
    scheduled = db.session.scalars(select(JobRun.scheduled_at)).all()
    assert len(scheduled) == 5
    assert all(s > now - 101 * DAY for s in scheduled if s != now - 200 * DAY)
    events = list(db.session.scalars(select(Event.created_at)))
    assert events == [now - timedelta(days=6.99)]
    assert report.deleted["samples"] > 0 and report.deleted["events"] == 4
    if postgres:
        after = child_tables("samples")
        assert old_day not in after and boundary in after  # dropped; partly deleted
        assert old_day in report.dropped and old_month in report.dropped
        assert old_month not in child_tables("rollups_5m")
        names = {p.name for p in partitions(db.session.connection(), "samples")}
        assert f"samples_p{now:%Y%m%d}" in names and f"samples_p{(now + 3 * DAY):%Y%m%d}" in names


def test_zero_keeps_forever(ctx, app):
    for key in ("RETENTION_MEASUREMENTS_DAYS", "RETENTION_SAMPLES_DAYS", "RETENTION_EVENTS_DAYS"):
        app.config[key] = 0
    now = utcnow()
    job, (dest,) = make_job()
    write_round(
        job, [(dest, ping_measurement(now - 400 * DAY, [1.0]))], finished_at=now - 400 * DAY
    )
    report = prune(now, pause_s=0)
    assert "samples" not in report.deleted and "measurements" not in report.deleted
    db.session.rollback()
    assert db.session.scalar(select(Measurement.id)) is not None
    # Runs go with their measurements, so they are kept as long as those are.
    assert db.session.scalar(select(JobRun.id)) is not None
    assert db.session.scalar(select(Event.id)) is not None
