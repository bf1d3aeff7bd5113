"""Series and their data over a range, through the read functions and the API, on both
databases: tiers and raw stitched at the edge, gaps, time zones, the quantile bound, errors."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import event, select

from netstats.db import db, utcnow
from netstats.engine.rollups import rollup_pass
from netstats.histogram import RELATIVE_ERROR
from netstats.models import Series
from netstats.queries.series import find_series, series_data
from tests.rounds import make_job, ping_measurement, write_pings, write_round

MINUTE = timedelta(minutes=1)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def day_start(days_ago: int = 2):
    now = utcnow()
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)


def sid(job_id: int, metric: str, destination_id: int | None = None) -> int:
    stmt = select(Series.id).where(Series.job_id == job_id, Series.metric == metric)
    if destination_id is not None:
        stmt = stmt.where(Series.destination_id == destination_id)
    return db.session.scalar(stmt)


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_find_series_gives_units_and_kinds(ctx):
    job, (dest,) = make_job()
    write_pings(job, dest, day_start(), MINUTE, [[1.0]])
    found = {s.metric: s for s in find_series(job=job)}
    assert (found["rtt_ms"].kind, found["rtt_ms"].unit) == ("distribution", "ms")
    assert (found["sent"].kind, found["sent"].unit) == ("gauge", "count")
    assert found["loss_pct"].unit == "%"
    assert found["rtt_ms"].destination == "ping-a"
    assert [s.metric for s in find_series(job=job, metric=["sent", "received"])] == [
        "received",
        "sent",
    ]
    assert find_series(job=job + 1) == []


def test_tiers_and_raw_are_stitched_at_the_edge_of_the_rolled_up_part(ctx):
    job, (dest,) = make_job()
    base = day_start()
    rng = np.random.default_rng(1)
    rounds = [[float(v) for v in rng.uniform(5, 15, 4)] + [None] for _ in range(180)]
    write_pings(job, dest, base, MINUTE, rounds)
    rollup_pass(base + timedelta(hours=2))  # rolled up to 01:55
    rtt = sid(job, "rtt_ms")
    mixed = series_data([rtt], base, base + timedelta(hours=3), points=20)
    assert (mixed["resolution"], mixed["step_ms"], mixed["source"]) == ("5m", 600_000, "mixed")
    assert mixed["quantiles"].startswith("approximate")
    raw = series_data([rtt], base, base + timedelta(hours=3), points=200, resolution="raw")
    assert raw["resolution"] == "raw" and raw["step_ms"] == 60_000  # the job's interval
    (m,) = mixed["series"]
    assert m["t"][11] - m["t"][0] == 11 * 600_000
    assert m["count"] == [10] * 18  # 01:50-02:00 = the 01:50 row + 5 raw rounds
    assert m["sent"] == [50] * 18 and m["received"] == [40] * 18
    assert m["loss_pct"] == [20.0] * 18
    assert m["ok"] == [10] * 18 and m["timeout"] == [0] * 18
    values = [[v for v in r if v is not None] for r in rounds]
    for i in range(18):
        bucket = [v for r in values[i * 10 : (i + 1) * 10] for v in r]
        assert m["min"][i] == min(bucket) and m["max"][i] == max(bucket)
        assert m["mean"][i] == pytest.approx(np.mean(bucket))
        exact = np.quantile(bucket, [0.5, 0.95])
        assert m["p50"][i] == pytest.approx(exact[0], rel=RELATIVE_ERROR)
        assert m["p95"][i] == pytest.approx(exact[1], rel=RELATIVE_ERROR)
    # After the edge (02:00 on), buckets come from raw alone: exact.
    for i in range(12, 18):
        bucket = [v for r in values[i * 10 : (i + 1) * 10] for v in r]
        assert m["p50"][i] == pytest.approx(np.quantile(bucket, 0.5), abs=1e-12)
    # A fresh measurement shows at once, before any pass.
    write_pings(job, dest, base + timedelta(hours=3), MINUTE, [[99.0]])
    late = series_data([rtt], base, base + timedelta(hours=3, minutes=10), points=20)
    assert 99.0 in late["series"][0]["max"]


def test_raw_path_quantiles_are_exact(ctx):
    job, (dest,) = make_job()
    base = day_start()
    rng = np.random.default_rng(2)
    rounds = [list(rng.lognormal(2, 0.4, 5)) for _ in range(30)]
    write_pings(job, dest, base, MINUTE, rounds)
    answer = series_data([sid(job, "rtt_ms")], base, base + timedelta(minutes=30), points=3)
    assert (answer["source"], answer["quantiles"], answer["step_ms"]) == ("raw", "exact", 600_000)
    (s,) = answer["series"]
    for i in range(3):
        bucket = np.concatenate(rounds[i * 10 : (i + 1) * 10])
        for name, q in (("p5", 0.05), ("p50", 0.5), ("p99", 0.99), ("p100", 1.0)):
            assert s[name][i] == pytest.approx(np.quantile(bucket, q), rel=1e-12)


def test_rolled_up_quantiles_stay_within_the_bound_of_the_exact_ones(ctx):
    job, (dest,) = make_job()
    base = day_start(5)
    rng = np.random.default_rng(3)
    rounds = [
        list(rng.lognormal(np.log(20 if i % 50 else 200), 0.3, 5)) for i in range(6 * 60 // 2)
    ]
    write_pings(job, dest, base, 2 * MINUTE, rounds)
    rollup_pass(base + timedelta(days=1))
    answer = series_data([sid(job, "rtt_ms")], base, base + timedelta(hours=6), points=3)
    assert (answer["resolution"], answer["step_ms"], answer["source"]) == (
        "1h",
        7_200_000,
        "rollup",
    )
    (s,) = answer["series"]
    for i in range(3):
        bucket = np.concatenate(rounds[i * 60 : (i + 1) * 60])
        for name, q in (("p10", 0.1), ("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            exact = np.quantile(bucket, q)
            assert abs(s[name][i] - exact) / exact <= RELATIVE_ERROR + 1e-9
        assert (s["p0"][i], s["p100"][i]) == (bucket.min(), bucket.max())


def test_gaps_are_null_in_every_array(ctx):
    job, (dest,) = make_job()
    base = day_start()
    write_pings(job, dest, base, MINUTE, [[1.0]] * 10)
    write_pings(job, dest, base + timedelta(minutes=30), MINUTE, [[2.0]] * 10)
    answer = series_data([sid(job, "rtt_ms")], base, base + timedelta(minutes=40), points=4)
    (s,) = answer["series"]
    assert s["count"] == [10, None, None, 10]
    for name in ("min", "max", "mean", "p50", "sent", "received", "loss_pct", "ok", "timeout"):
        assert s[name][1] is None and s[name][2] is None, name
        assert s[name][0] is not None, name
    # A round whose probes were all lost is a round with no value: count, but no RTT.
    write_pings(job, dest, base + timedelta(minutes=40), MINUTE, [[None, None]])
    answer = series_data(
        [sid(job, "rtt_ms")], base + timedelta(minutes=40), base + timedelta(minutes=41)
    )
    (s,) = answer["series"]
    assert (s["count"], s["min"], s["p50"], s["loss_pct"], s["timeout"]) == (
        [1],
        [None],
        [None],
        [100.0],
        [1],
    )


def test_ten_destinations_in_a_fixed_number_of_queries(ctx):
    job, dests = make_job(destinations=[f"d{i}" for i in range(10)])
    base = day_start(10)
    for d in dests:
        write_pings(job, d, base, timedelta(hours=1), [[1.0]] * 30)
    rollup_pass(base + timedelta(days=3))
    statements = []

    def count(*args):
        statements.append(args[2])

    def queries(destinations):
        ids = [sid(job, "rtt_ms", d) for d in destinations]
        db.session.rollback()
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            series_data(ids, base, utcnow(), points=100)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    assert queries(dests[:1]) == queries(dests) <= 11


def test_api_series_data_takes_any_offset_and_several_destinations(ctx, api):
    job, dests = make_job(destinations=["a", "b"])
    base = day_start()
    write_pings(job, dests[0], base, MINUTE, [[1.0]] * 60)
    write_pings(job, dests[1], base, MINUTE, [[3.0, None]] * 60)
    # 02:00+02:00 is 00:00 UTC; a naive time is UTC.
    start = (base + timedelta(hours=2)).replace(tzinfo=None).isoformat() + "+02:00"
    end = (base + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    query = {"job": job, "destination": dests, "metric": "rtt_ms", "from": start, "to": end}
    response = api.get("/series/data", query_string={**query, "points": 6})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["from"].startswith(base.strftime("%Y-%m-%dT00:00:00"))
    assert body["step_ms"] == 600_000
    first, second = body["series"]
    assert first["t"][0] == int(base.timestamp() * 1000)
    assert first["count"] == [10] * 6 and first["loss_pct"] == [0.0] * 6
    assert second["loss_pct"] == [50.0] * 6 and second["mean"] == [3.0] * 6
    assert (first["destination"], second["destination"]) == ("ping-a", "ping-b")
    listed = api.get(f"/series?job={job}&metric=rtt_ms").json["items"]
    assert [(s["destination"], s["kind"], s["unit"]) for s in listed] == [
        ("ping-a", "distribution", "ms"),
        ("ping-b", "distribution", "ms"),
    ]


def test_api_default_range_is_the_last_day_and_a_fresh_destination_has_empty_buckets(ctx, api):
    job, dests = make_job(destinations=["a", "b"])
    now = utcnow()
    write_round(job, [(dests[0], ping_measurement(now - timedelta(minutes=5), [4.0]))])
    response = api.get(
        f"/series/data?job={job}&destination={dests[0]}&destination={dests[1]}&metric=rtt_ms"
    )
    assert response.status_code == 200, response.json
    first, second = response.json["series"]
    assert response.json["resolution"] == "raw"
    assert sum(c or 0 for c in first["count"]) == 1
    assert second["id"] is None and set(second["count"]) == {None}
    assert len(second["t"]) == len(first["t"]) <= 1000


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("metric=rtt_ms&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("metric=rtt_ms&points=0", "points"),
        ("metric=rtt_ms&points=10001", "points"),
        ("metric=no_such_metric", "metric"),
        (
            "metric=rtt_ms&resolution=5m&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
            "resolution",
        ),
        ("metric=rtt_ms&resolution=hourly", "resolution"),
        ("metric=rtt_ms&from=yesterday", "from"),
    ],
)
def test_api_series_data_refuses_bad_arguments_naming_the_field(ctx, api, query, field):
    job, (dest,) = make_job()
    response = api.get(f"/series/data?job={job}&destination={dest}&{query}")
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"], response.json


def test_api_series_data_refuses_a_destination_of_another_job(ctx, api):
    job, (dest,) = make_job()
    _, (other,) = make_job("other")
    response = api.get(f"/series/data?job={job}&destination={other}&metric=rtt_ms")
    assert response.status_code == 422
    assert "destination" in response.json["error"]["fields"]
    response = api.get(f"/series/data?job=999&destination={dest}&metric=rtt_ms")
    assert response.status_code == 422 and "job" in response.json["error"]["fields"]


def test_auto_resolution_moves_to_a_tier_that_still_holds_the_range(ctx, app):
    app.config["RETENTION_SAMPLES_DAYS"] = 1
    job, (dest,) = make_job()
    base = day_start(3)
    write_pings(job, dest, base, MINUTE, [[7.0]] * 30)
    rollup_pass(base + timedelta(hours=1))
    # 30 minutes in 1000 points would be raw, but the raw samples of 3 days ago are past
    # their retention: the 5-minute tier answers.
    answer = series_data([sid(job, "rtt_ms")], base, base + timedelta(minutes=30), points=1000)
    assert (answer["resolution"], answer["source"]) == ("5m", "rollup")
    assert answer["series"][0]["count"] == [5] * 6
