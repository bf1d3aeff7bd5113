"""A job's summary per destination, on both databases: loss from sums, availability, the
headline distribution, exact or approximate quantiles, and the API."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import event

from netstats.db import db, utcnow
from netstats.engine.rollups import rollup_pass
from netstats.histogram import RELATIVE_ERROR
from netstats.models import Job
from netstats.queries.summary import summarize_range
from tests.rounds import make_job, ping_measurement, write_pings, write_round

MINUTE = timedelta(minutes=1)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def day_start(days_ago: int = 2):
    now = utcnow()
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)


def test_loss_over_a_range_is_from_the_sums_not_a_mean_of_percentages(ctx):
    job, (dest,) = make_job()
    base = day_start()
    # Ten rounds of 10 probes with one lost (10 %), one round of 1 probe lost (100 %):
    # the mean of the percentages is 18.2 %, the loss 100 x 11 / 101 = 10.9 %.
    write_pings(job, dest, base, MINUTE, [[5.0] * 9 + [None]] * 10 + [[None]])
    (row,) = summarize_range(db.session.get(Job, job), base, base + timedelta(hours=1))
    assert (row.sent, row.received) == (101, 90)
    assert row.loss_pct == pytest.approx(100 * 11 / 101)
    assert (row.runs, row.ok, row.timeout, row.error) == (11, 10, 1, 0)
    assert row.availability_pct == pytest.approx(100 * 10 / 11)
    # The same from the rollups.
    rollup_pass(base + timedelta(hours=3))
    (rolled,) = summarize_range(db.session.get(Job, job), base, base + timedelta(hours=1))
    assert (rolled.sent, rolled.received, rolled.loss_pct) == (101, 90, row.loss_pct)


def test_headline_statistics_exact_from_raw_and_within_the_bound_from_rollups(ctx):
    job, (a, b) = make_job(destinations=["a", "b"])
    base = day_start(3)
    rng = np.random.default_rng(11)
    rounds = {
        d: [list(rng.lognormal(np.log(mu), 0.25, 5)) for _ in range(240)]
        for d, mu in ((a, 12), (b, 80))
    }
    for i in range(240):
        moment = base + i * MINUTE
        write_round(job, [(d, ping_measurement(moment, rounds[d][i])) for d in (a, b)])
    end = base + timedelta(hours=4)
    exact = summarize_range(db.session.get(Job, job), base, end)
    rollup_pass(base + timedelta(days=1))
    approx = summarize_range(db.session.get(Job, job), base, end)
    for rows, is_exact in ((exact, True), (approx, False)):
        assert [r.destination for r in rows] == ["ping-a", "ping-b"]
        for row, d in zip(rows, (a, b), strict=True):
            values = np.concatenate(rounds[d])
            assert row.quantiles_exact is is_exact
            assert (row.metric, row.unit, row.values) == ("rtt_ms", "ms", 1200)
            assert (row.min, row.max) == (values.min(), values.max())
            assert row.mean == pytest.approx(values.mean())
            assert row.stddev == pytest.approx(values.std(), rel=1e-6)
            jitters = [np.mean(np.abs(np.diff(r))) for r in rounds[d]]
            assert row.jitter_ms == pytest.approx(np.mean(jitters))
            for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
                truth = np.quantile(values, q)
                got = getattr(row, name)
                if is_exact:
                    assert got == pytest.approx(truth, rel=1e-12)
                else:
                    assert abs(got - truth) / truth <= RELATIVE_ERROR + 1e-9
            assert row.first_at == base and row.last_at == base + 239 * MINUTE


def test_a_fixed_number_of_queries_whatever_the_number_of_destinations(ctx):
    job, dests = make_job(destinations=[f"d{i:02d}" for i in range(12)])
    base = day_start(4)
    for i in range(6):
        write_round(
            job, [(d, ping_measurement(base + i * timedelta(hours=6), [1.0, 2.0])) for d in dests]
        )
    rollup_pass(base + timedelta(days=3))
    statements = []

    def count(*args):
        statements.append(args[2])

    def queries(destinations):
        db.session.rollback()
        job_row = db.session.get(Job, job)
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            rows = summarize_range(
                job_row, base - timedelta(hours=1, minutes=7), utcnow(), destinations
            )
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len(rows) == len(destinations)
        return len(statements)

    assert queries(dests[:1]) == queries(dests) <= 11


def test_summary_api_takes_a_range_and_refuses_a_reversed_one(ctx, api):
    job, (dest,) = make_job()
    now = utcnow()
    write_round(job, [(dest, ping_measurement(now - timedelta(hours=1), [3.0, None, 5.0, 4.0]))])
    write_round(job, [(dest, ping_measurement(now - timedelta(hours=30), [100.0]))])
    response = api.get(f"/jobs/{job}/summary")
    assert response.status_code == 200, response.json
    (row,) = response.json["destinations"]
    assert (row["runs"], row["sent"], row["received"], row["loss_pct"]) == (1, 4, 3, 25.0)
    assert (row["min"], row["p50"], row["max"]) == (3.0, 4.0, 5.0)
    assert row["stddev"] == pytest.approx(math.sqrt(2 / 3))
    assert row["quantiles_exact"] is True and row["availability_pct"] == 100.0
    start = (now - timedelta(hours=31)).strftime("%Y-%m-%dT%H:%M:%S") + "-05:00"
    wider = api.get(f"/jobs/{job}/summary", query_string={"from": start})
    assert wider.json["destinations"][0]["runs"] == 1  # 31 h before in UTC-5 is 26 h before
    bad = api.get(
        f"/jobs/{job}/summary", query_string={"from": now.isoformat(), "to": "2020-01-01"}
    )
    assert bad.status_code == 422 and "from" in bad.json["error"]["fields"]
    assert api.get("/jobs/9999/summary").status_code == 404
