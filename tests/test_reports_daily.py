"""The Daily sheet's figures: a UTC report's days come from one ``summarize_buckets`` call
per job (one query per tier for every day), a zone's days from ``summarize_range`` per day;
either way each day's summary is exactly what ``summarize_range`` gives for that day (the
function behind the summary API), whether the day comes from the 1-day rollups, the finer
tiers at the watermark's edge, raw samples, or is clipped by the range."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

import pytest

from netstats.db import utcnow
from netstats.engine.rollups import rollup_pass
from netstats.queries.summary import summarize_range
from netstats.reports.definition import define_report
from netstats.reports.figures import _uniform_days, daily_rows, report_days
from netstats.schemas.reports import report_args
from tests.rounds import at, make_job, write_pings

HOUR = timedelta(hours=1)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def _rounds(job: int, dest: int, start, count: int, step=HOUR, offset: float = 0.0) -> None:
    rtts = [[5.0 + offset + (i % 7), 6.5, None if i % 5 == 0 else 7.25] for i in range(count)]
    write_pings(job, dest, start, step, rtts)


def _per_day(report):
    """What the Daily sheet would hold if each day were asked of summarize_range."""
    found = []
    for day, start, end in report_days(report):
        for job in report.jobs:
            for s in summarize_range(job.job, start, end, job.destination_ids):
                if s.runs:
                    found.append((day, job.job.id, asdict(s)))
    return found


def _daily(report):
    return [(day, job.job.id, asdict(s)) for day, job, s in daily_rows(report)]


@pytest.mark.parametrize(
    ("tz", "when"),
    [
        ("UTC", None),
        ("Europe/Paris", None),
        # The last days of March 2026: Paris's 23-hour day (the 29th) is one of them.
        ("Europe/Paris", "2026-03-31 10:00"),
        ("UTC", "2026-03-31 10:00"),
    ],
)
def test_daily_rows_equal_summarize_range_day_by_day(ctx, tz, when):
    job, (a, b) = make_job(destinations=["a", "b"])
    now = at(when) if when else utcnow().replace(minute=0, second=0, microsecond=0)
    first = now.replace(hour=0) - timedelta(days=4)
    # Four days of hourly rounds, rolled up (1-day, 1-hour and 5-minute tiers), then rounds
    # after the rollup pass (raw samples at the end of the range).
    _rounds(job, a, first + timedelta(minutes=7), 24 * 4)
    _rounds(job, b, first + timedelta(minutes=31), 24 * 3, offset=1.5)
    rollup_pass(now - 2 * HOUR)
    _rounds(job, a, now - HOUR + timedelta(minutes=3), 8, step=timedelta(minutes=7))
    raw = {
        "job": [str(job)],
        # Starts mid-day: the first day is clipped.
        "from": (first + timedelta(hours=5)).isoformat(),
        "to": (now + HOUR).isoformat(),
        "tz": tz,
    }
    report = define_report(report_args.load(raw), now=now + 2 * HOUR)
    assert _uniform_days(report) is (tz == "UTC")
    daily = _daily(report)
    expected = _per_day(report)
    assert len(daily) >= 8
    assert daily == expected


def test_a_utc_year_of_days_is_a_fixed_number_of_queries(ctx, app):
    from sqlalchemy import event

    job, (a,) = make_job()
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    _rounds(job, a, now - timedelta(days=3), 24 * 3)
    rollup_pass(now)
    raw = {"job": [str(job)], "from": (now - timedelta(days=365)).isoformat()}
    report = define_report(report_args.load(raw))
    days = report_days(report)
    statements = []
    engine = __import__("netstats.db", fromlist=["db"]).db.engine

    def count(*_args, **_kwargs):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        found = list(daily_rows(report))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(days) >= 365 and len({d for d, _, _ in found}) in (3, 4)
    assert len(statements) < 20
