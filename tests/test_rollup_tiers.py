"""The 30-minute and 6-hour tiers on SQLite and PostgreSQL: bucket boundaries, exact merges
of their finer tier, charts that read them (stitched with finer tiers and raw samples), and
a database built before they existed getting them from its 5-minute and 1-hour rows."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import delete, select

from netstats.db import db, utcnow, write_transaction
from netstats.engine.rollups import NEVER, TIER_BY_NAME, held_from, read_state, rollup_pass
from netstats.engine.storage import timestamp_us
from netstats.histogram import Histogram
from netstats.models import (
    Job,
    RollupState,
    Series,
    rollups_1h,
    rollups_5m,
    rollups_6h,
    rollups_30m,
)
from netstats.queries.series import series_data
from netstats.queries.summary import summarize_range
from tests.rounds import make_job, write_pings

MINUTE = timedelta(minutes=1)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def day_start(days_ago: int = 3):
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


def rounds(count: int, seed: int = 1) -> list[list[float | None]]:
    rng = np.random.default_rng(seed)
    return [[float(v) for v in rng.uniform(5, 25, 3)] + [None] for _ in range(count)]


def test_thirty_minute_and_six_hour_buckets_are_exact_merges_of_their_finer_tier(ctx):
    job, (dest,) = make_job()
    base = day_start()
    # 13 h of rounds every 2 minutes from 00:10: the 30-minute buckets 00:00 (10 rounds),
    # 00:30 (15)...; the 6-hour buckets 00:00 (175 rounds), 06:00 (180) and 12:00 (35).
    data = rounds(13 * 30)
    write_pings(job, dest, base + timedelta(minutes=10), 2 * MINUTE, data)
    rollup_pass(base + timedelta(days=1, hours=1))
    rtt, sent = series_id(job, "rtt_ms"), series_id(job, "sent")
    half = rows(rollups_30m, rtt)
    assert half[0].start_us == timestamp_us(base)
    assert [r.start_us - half[0].start_us for r in half[:3]] == [0, 1_800_000_000, 3_600_000_000]
    assert [r.count for r in half[:3]] == [10, 15, 15]
    six = rows(rollups_6h, rtt)
    assert [r.start_us for r in six] == [
        timestamp_us(base + timedelta(hours=h)) for h in (0, 6, 12)
    ]
    assert [r.count for r in six] == [175, 180, 35]
    five = rows(rollups_5m, rtt)
    hours = rows(rollups_1h, rtt)
    for coarse, fine, step in ((half, five, 1_800_000_000), (six, hours, 21_600_000_000)):
        for row in coarse:
            parts = [f for f in fine if row.start_us <= f.start_us < row.start_us + step]
            assert row.count == sum(p.count for p in parts)
            assert row.n == sum(p.n for p in parts)
            assert row.sum == pytest.approx(sum(p.sum for p in parts))
            assert (row.min, row.max) == (min(p.min for p in parts), max(p.max for p in parts))
            assert (row.first_us, row.last_us) == (parts[0].first_us, parts[-1].last_us)
            merged = Histogram()
            for p in parts:
                merged = merged.merge(Histogram.decode(p.hist))
            assert row.hist == merged.encode()
    # A gauge's rows (computed by the database) hold the same sums.
    sent_six = rows(rollups_6h, sent)
    assert [r.sum for r in sent_six] == [4.0 * 175, 4.0 * 180, 4.0 * 35]
    assert [r.hist for r in sent_six] == [None, None, None]
    assert [(r.ok, r.error, r.timeout) for r in sent_six] == [(175, 0, 0), (180, 0, 0), (35, 0, 0)]


def test_charts_read_the_new_tiers_stitched_with_finer_ones_and_raw(ctx):
    job, (dest,) = make_job()
    base = day_start()
    step = 5 * MINUTE
    data = rounds(3 * 24 * 12 - 6, seed=2)  # every 5 minutes, the last at 35 min to the end
    write_pings(job, dest, base, step, data)
    end = base + timedelta(days=3)
    rollup_pass(end - timedelta(hours=1))  # rolled up to 65 min before the end: then raw
    rtt = series_id(job, "rtt_ms")
    # 3 days at 100 points: 43.2 min a point, the 30-minute tier x 2 (72 buckets of an
    # hour): read from the 1-hour tier, whose step divides it.
    answer = series_data([rtt], base, end, points=100)
    assert (answer["resolution"], answer["step_ms"], answer["source"]) == (
        "1h",
        3_600_000,
        "mixed",
    )
    # 3 days at 150 points: 28.8 min a point, 5 minutes x 6: the 30-minute tier.
    thirty = series_data([rtt], base, end, points=150)
    assert (thirty["resolution"], thirty["step_ms"]) == ("30m", 1_800_000)
    assert sum(c for c in thirty["series"][0]["count"] if c) == len(data)
    got = answer["series"][0]
    assert sum(c for c in got["count"] if c) == len(data)
    # Every hour's bucket is its rounds' exact counts and extremes, sent and received.
    hours = [data[h * 12 : h * 12 + 12] for h in range(72)]
    assert got["count"] == [len(h) for h in hours]
    assert got["max"] == [max(v for r in h for v in r if v is not None) for h in hours]
    assert got["min"] == [min(v for r in h for v in r if v is not None) for h in hours]
    assert got["sent"] == [4 * len(h) for h in hours]
    assert got["received"] == [3 * len(h) for h in hours]
    # 3 days at 6 points is 12 h a point: the 6-hour tier x 2.
    six = series_data([rtt], base, end, points=6)
    assert (six["resolution"], six["step_ms"]) == ("6h", 43_200_000)
    assert sum(c for c in six["series"][0]["count"] if c) == len(data)
    # The summary stitches days, 6 hours, hours, 30 minutes, 5 minutes and raw alike.
    job_row = db.session.get(Job, job)
    (summary,) = summarize_range(job_row, base + timedelta(minutes=12), end)
    kept = [v for r in data[3:] for v in r if v is not None]
    assert summary.runs == len(data) - 3
    assert summary.sent == 4 * (len(data) - 3)
    assert summary.received == len(kept)
    assert (summary.min, summary.max) == (min(kept), max(kept))


def test_tiers_added_to_a_built_database_are_built_from_the_finer_tier(ctx):
    job, (dest,) = make_job()
    base = day_start()
    data = rounds(2 * 24 * 12, seed=3)
    write_pings(job, dest, base, 5 * MINUTE, data)
    rollup_pass(base + timedelta(days=2, hours=1))
    rtt = series_id(job, "rtt_ms")
    built = {t: [tuple(r) for r in rows(t, rtt)] for t in (rollups_30m, rollups_6h)}
    # As the migration leaves a database built before these tiers: empty and pending.
    db.session.rollback()
    with write_transaction():
        for table in (rollups_30m, rollups_6h):
            db.session.execute(delete(table))
        db.session.execute(
            RollupState.__table__.insert(),
            [{"key": "pending_30m", "value": 0}, {"key": "pending_6h", "value": 0}],
        )
    assert held_from()["30m"] == NEVER
    # Until the pass builds them, readers use the other tiers.
    answer = series_data([rtt], base, base + timedelta(days=2), points=60)
    assert answer["resolution"] == "1h"
    assert sum(c for c in answer["series"][0]["count"] if c) == len(data)
    report = rollup_pass(base + timedelta(days=2, hours=1, minutes=5))
    assert any("30m" in note for note in report.notes)
    after = {t: [tuple(r) for r in rows(t, rtt)] for t in (rollups_30m, rollups_6h)}
    assert after == built
    state = read_state()
    assert "pending_30m" not in state and "pending_6h" not in state
    assert state["held_30m"] == timestamp_us(base)  # the first 5-minute row
    assert held_from(state)["6h"] == timestamp_us(base)
    answer = series_data([rtt], base, base + timedelta(days=2), points=100)
    assert answer["resolution"] == "30m"
    assert sum(c for c in answer["series"][0]["count"] if c) == len(data)
    assert TIER_BY_NAME["6h"].step_us == 21_600_000_000
