"""The rollup pass on SQLite and PostgreSQL: buckets from raw samples, late runs, exact merges."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import delete, func, select

from netstats.db import db, utcnow, write_transaction
from netstats.engine.rollups import floor_to, read_state, rollup_pass
from netstats.engine.storage import timestamp_us
from netstats.histogram import Histogram, unpack_quantiles
from netstats.models import Event, Series, rollups_1d, rollups_1h, rollups_5m, samples
from tests.conftest import cli_runner
from tests.rounds import make_job, ping_measurement, write_pings, write_round

FIVE_MIN = timedelta(minutes=5)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def day_start(days_ago: int = 2):
    now = utcnow()
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)


def series_id(job_id: int, metric: str) -> int:
    return db.session.scalar(
        select(Series.id).where(Series.job_id == job_id, Series.metric == metric)
    )


def rows(table, sid: int) -> list:
    db.session.rollback()
    stmt = select(table).where(table.c.series_id == sid).order_by(table.c.start_us)
    return db.session.execute(stmt).all()


def test_first_pass_builds_every_tier_from_the_samples_with_exact_sums(ctx):
    job, (dest,) = make_job()
    base = day_start()
    rtts = [[10.0 + i % 7, 11.0, None, 12.5 + i % 3, 30.0] for i in range(20)]
    write_pings(job, dest, base, timedelta(minutes=1), rtts)
    report = rollup_pass(base + timedelta(days=1, hours=2))
    assert report.watermark_us == timestamp_us(base + timedelta(days=1, hours=2) - FIVE_MIN)
    rtt, sent = series_id(job, "rtt_ms"), series_id(job, "sent")
    five = rows(rollups_5m, rtt)
    assert [r.start_us for r in five] == [timestamp_us(base + i * FIVE_MIN) for i in range(4)]
    assert [r.count for r in five] == [5, 5, 5, 5]
    assert [r.n for r in five] == [20, 20, 20, 20]  # lost probes are no values
    values = [v for round_ in rtts for v in round_ if v is not None]
    (hour,) = rows(rollups_1h, rtt)
    (day,) = rows(rollups_1d, rtt)
    for row in (hour, day):
        assert (row.count, row.n) == (20, 80)
        assert row.sum == pytest.approx(sum(values))
        assert row.sumsq == pytest.approx(sum(v * v for v in values))
        assert (row.min, row.max) == (min(values), max(values))
        assert (row.ok, row.error, row.timeout) == (20, 0, 0)
        assert row.first_us == timestamp_us(base)
        assert row.last_us == timestamp_us(base + timedelta(minutes=19))
        # Merged histograms are exactly the histogram of every value.
        assert row.hist == Histogram.of(values).encode()
    # The 5-minute rows cache exact quantiles of their values.
    first_five = [v for round_ in rtts[:5] for v in round_ if v is not None]
    cached = unpack_quantiles([five[0].quantiles])[0]
    expected = np.quantile(first_five, [0, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1])
    assert cached == pytest.approx(expected, rel=1e-6)
    (sent_hour,) = rows(rollups_1h, sent)
    assert (sent_hour.sum, sent_hour.hist) == (100.0, None)


def test_a_late_run_recomputes_its_bucket_and_the_enclosing_hour_and_day(ctx):
    job, (dest,) = make_job()
    base = day_start()
    write_pings(job, dest, base, timedelta(minutes=1), [[10.0]] * 4)
    later = base + timedelta(days=1, minutes=30)
    rollup_pass(later)
    rtt = series_id(job, "rtt_ms")
    assert [r.count for r in rows(rollups_5m, rtt)] == [4]
    assert [r.count for r in rows(rollups_1d, rtt)] == [4]
    # A run of 00:04:30 committed long after its bucket was rolled up.
    late = ping_measurement(base + timedelta(minutes=4, seconds=30), [50.0, None])
    write_round(job, [(dest, late)], finished_at=later + timedelta(minutes=10))
    report = rollup_pass(later + timedelta(minutes=11))
    assert report.late_buckets == 1
    (five,) = rows(rollups_5m, rtt)
    assert (five.count, five.n, five.max, five.sum) == (5, 5, 50.0, 90.0)
    assert [r.count for r in rows(rollups_1h, rtt)] == [5]
    assert [r.max for r in rows(rollups_1d, rtt)] == [50.0]
    (loss,) = rows(rollups_5m, series_id(job, "received"))
    assert loss.sum == 5.0  # 4 rounds of 1 reply, then 1 of 2 probes
    # Passes are idempotent: again, nothing changes.
    before = [tuple(r) for t in (rollups_5m, rollups_1h, rollups_1d) for r in rows(t, rtt)]
    rollup_pass(later + timedelta(minutes=12))
    after = [tuple(r) for t in (rollups_5m, rollups_1h, rollups_1d) for r in rows(t, rtt)]
    assert before == after


def test_hours_and_days_are_rolled_up_once_closed(ctx):
    job, (dest,) = make_job()
    base = day_start()
    write_pings(job, dest, base + timedelta(minutes=50), timedelta(minutes=1), [[5.0]] * 20)
    rtt = series_id(job, "rtt_ms")
    rollup_pass(base + timedelta(minutes=58))  # rolled up to 00:55: the hour is open
    assert ([r.count for r in rows(rollups_5m, rtt)], rows(rollups_1h, rtt)) == ([5], [])
    rollup_pass(base + timedelta(hours=1, minutes=20))  # to 01:15: hour 00 closed
    assert [r.count for r in rows(rollups_1h, rtt)] == [10]
    assert rows(rollups_1d, rtt) == []
    rollup_pass(base + timedelta(days=1, minutes=7))  # the day closed
    assert [r.count for r in rows(rollups_1h, rtt)] == [10, 10]
    assert [r.count for r in rows(rollups_1d, rtt)] == [20]


def test_open_buckets_wait_for_the_watermark(ctx):
    job, (dest,) = make_job()
    base = day_start()
    write_pings(job, dest, base + timedelta(minutes=10), timedelta(minutes=1), [[5.0]] * 3)
    rtt = series_id(job, "rtt_ms")
    # 00:12:30: the bucket 00:10 is open (and within the settling minute): not rolled up.
    report = rollup_pass(base + timedelta(minutes=12, seconds=30))
    assert report.watermark_us == timestamp_us(base + timedelta(minutes=10))
    assert rows(rollups_5m, rtt) == []
    report = rollup_pass(base + timedelta(minutes=16, seconds=1))
    assert report.watermark_us == timestamp_us(base + timedelta(minutes=15))
    assert [r.count for r in rows(rollups_5m, rtt)] == [3]


def test_rounds_by_status_and_a_round_without_replies_still_counts(ctx):
    job, (dest,) = make_job()
    base = day_start()
    write_pings(job, dest, base, timedelta(seconds=30), [[1.0], [None, None], [2.0, 3.0]])
    rollup_pass(base + timedelta(hours=1))
    (row,) = rows(rollups_5m, series_id(job, "rtt_ms"))
    assert (row.count, row.n, row.ok, row.timeout, row.error) == (3, 3, 2, 1, 0)
    (sample,) = db.session.execute(
        select(samples.c.value, samples.c.raw, samples.c.status).where(
            samples.c.series_id == series_id(job, "rtt_ms"),
            samples.c.ts_us == timestamp_us(base + timedelta(seconds=30)),
        )
    ).all()
    assert (sample.value, bytes(sample.raw), sample.status) == (None, b"", 2)


def test_cursor_behind_the_event_log_rebuilds_what_the_lost_events_named(ctx, caplog):
    job, (dest,) = make_job()
    base = day_start()
    write_pings(job, dest, base, timedelta(minutes=1), [[10.0]] * 3)
    rollup_pass(base + timedelta(minutes=20))
    # The worker is away; a late run of 00:14:30 commits, and retention empties the log.
    late = ping_measurement(base + timedelta(minutes=14, seconds=30), [90.0])
    write_round(job, [(dest, late)], finished_at=base + timedelta(minutes=25))
    write_pings(job, dest, base + timedelta(minutes=30), timedelta(minutes=1), [[20.0]])
    db.session.rollback()
    with write_transaction():
        newest = db.session.scalar(select(func.max(Event.id)))
        db.session.execute(delete(Event).where(Event.id < newest))
    with caplog.at_level("WARNING", logger="netstats.engine.rollups"):
        report = rollup_pass(base + timedelta(minutes=40))
    assert any("fell behind the event log" in note for note in report.notes)
    assert "fell behind the event log" in caplog.text
    rtt = series_id(job, "rtt_ms")
    counts = [(r.start_us, r.count, r.max) for r in rows(rollups_5m, rtt)]
    minutes = [0, 10, 30]
    expected = [
        (timestamp_us(base + timedelta(minutes=m)), c, v)
        for m, c, v in zip(minutes, [3, 1, 1], [10.0, 90.0, 20.0], strict=True)
    ]
    assert counts == expected
    assert read_state()["cursor"] == newest


def test_rebuild_command_restores_the_tiers_from_raw(ctx, app):
    job, (dest,) = make_job()
    base = day_start()
    write_pings(job, dest, base, timedelta(minutes=7), [[1.0, 2.0]] * 20)
    rollup_pass(base + timedelta(days=1, hours=3))
    rtt = series_id(job, "rtt_ms")
    before = {
        t.name: [tuple(r) for r in rows(t, rtt)] for t in (rollups_5m, rollups_1h, rollups_1d)
    }
    db.session.rollback()
    with write_transaction():
        for table in (rollups_5m, rollups_1h, rollups_1d):
            db.session.execute(delete(table))
    start, end = base.isoformat(), (base + timedelta(hours=3)).isoformat()
    result = cli_runner(app).invoke(args=["rollups", "rebuild", "--from", start, "--to", end])
    assert result.exit_code == 0, result.output
    assert "Rebuilt" in result.output
    after = {t.name: [tuple(r) for r in rows(t, rtt)] for t in (rollups_5m, rollups_1h, rollups_1d)}
    assert after == before
    bad = cli_runner(app).invoke(args=["rollups", "rebuild", "--from", "yesterday"])
    assert bad.exit_code != 0 and "ISO 8601" in bad.output


def test_buckets_are_utc_aligned_multiples_of_the_step(ctx):
    job, (dest,) = make_job()
    base = day_start() + timedelta(hours=13, minutes=7, seconds=11)
    write_pings(job, dest, base, timedelta(minutes=1), [[3.0]] * 2)
    rollup_pass(base + timedelta(days=1, hours=2))
    rtt = series_id(job, "rtt_ms")
    (five,) = rows(rollups_5m, rtt)
    (hour,) = rows(rollups_1h, rtt)
    (day,) = rows(rollups_1d, rtt)
    us = timestamp_us(base)
    assert (
        five.start_us
        == floor_to(us, 300_000_000)
        == timestamp_us(base - timedelta(minutes=2, seconds=11))
    )
    assert hour.start_us == timestamp_us(base.replace(minute=0, second=0))
    assert day.start_us == timestamp_us(base.replace(hour=0, minute=0, second=0))
