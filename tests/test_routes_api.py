"""GET /api/v1/jobs/<id>/routes and /hops (netstats.queries.routes), on SQLite and PostgreSQL,
over traces stored by the real engine (scripted paths, ``tests.route_traces``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from netstats.db import db, utcnow
from netstats.queries.routes import bucket_seconds
from tests.route_traces import destination_ids, make_job, play, register, run_job, trace

A = ["10.91.1.1", "", "10.93.1.2", "10.99.0.1"]
B = ["10.91.1.1", "", "10.93.2.2", "10.99.0.1"]
HOUR = timedelta(hours=1)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def script(app):
    return register(app)


@pytest.fixture
def played(app, script):
    """A job whose destination took A three times, B once (a flap), A twice, then B four
    times (a change): ten traces a minute apart, starting on a whole hour. The requests of a
    test run in app contexts of their own, as a server's do."""
    start = utcnow().replace(minute=0, second=0, microsecond=0) - 2 * HOUR
    with app.app_context():
        job = make_job()
        [dest] = destination_ids(job)
        play(app, script, job, start, [A, A, A, B, A, A, B, B, B, B])
        return job.id, dest, start


def routes_of(api, job_id, dest, start, end, **extra):
    query = {"destination": dest, "from": iso(start), "to": iso(end), **extra}
    return api.get(f"/jobs/{job_id}/routes", query_string=query)


def hops_of(api, job_id, dest, start, end, **extra):
    query = {"destination": dest, "from": iso(start), "to": iso(end), **extra}
    return api.get(f"/jobs/{job_id}/hops", query_string=query)


def _signature(path):
    return [[h] if h else [] for h in path]


def test_route_history_has_the_runs_routes_change_flap_and_counts(api, played):
    job_id, dest, start = played
    answer = routes_of(api, job_id, dest, start, start + HOUR)
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert list(body) == [
        "job_id",
        "destination_id",
        "from",
        "to",
        "traces",
        "traces_read",
        "sampled_every",
        "counts",
        "current",
        "routes",
        "runs",
        "changes",
        "flaps",
    ]
    minute = timedelta(minutes=1)
    assert (body["traces"], body["traces_read"], body["sampled_every"]) == (10, 10, 1)
    assert body["counts"] == {
        "changes": 1,
        "flaps": 1,
        "distinct_routes": 2,
        "dominant_route_pct": 50.0,
    }
    assert [(r["id"], r["hops"], r["traces"], r["share_pct"]) for r in body["routes"]] == [
        (1, _signature(A), 5, 50.0),
        (2, _signature(B), 5, 50.0),
    ]
    runs = [(r["route"], r["traces"], r["first_at"], r["last_at"]) for r in body["runs"]]
    at = [iso(start + minute * n).replace("Z", "+00:00") for n in range(10)]
    assert runs == [
        (2, 4, at[6], at[9]),
        (1, 2, at[4], at[5]),
        (2, 1, at[3], at[3]),
        (1, 3, at[0], at[2]),
    ]
    [change] = body["changes"]
    assert change["at"] == at[6] and (change["first_ttl"], change["last_ttl"]) == (3, 3)
    assert change["hops"] == [
        {"ttl": 3, "old": ["10.93.1.2"], "new": ["10.93.2.2"], "differs": True}
    ]
    assert len(change["measurement_ids"]) == 3
    assert change["old_route"] == {"hops": _signature(A), "reached": True}
    assert change["new_route"] == {"hops": _signature(B), "reached": True}
    [flap] = body["flaps"]
    assert flap["at"] == at[3] and len(flap["measurement_ids"]) == 1
    current = body["current"]
    assert current["route"] == {"hops": _signature(B), "reached": True}
    assert (current["since"], current["pending"], current["flaps"]) == (at[6], 0, 1)


def test_the_range_picks_the_traces_and_changes_in_it(api, played):
    job_id, dest, start = played
    body = routes_of(api, job_id, dest, start, start + timedelta(minutes=6)).json
    assert body["traces"] == 6
    assert body["counts"] == {
        "changes": 0,
        "flaps": 1,
        "distinct_routes": 2,
        "dominant_route_pct": pytest.approx(500 / 6),
    }
    later = routes_of(api, job_id, dest, start + timedelta(minutes=6), start + HOUR).json
    assert later["traces"] == 4 and later["counts"]["changes"] == 1
    assert later["counts"]["distinct_routes"] == 1 and later["counts"]["dominant_route_pct"] == 100


def test_an_empty_range_answers_empty_lists_and_the_current_state(api, played):
    job_id, dest, start = played
    body = routes_of(api, job_id, dest, start - 3 * HOUR, start - 2 * HOUR).json
    assert (body["traces"], body["routes"], body["runs"], body["changes"]) == (0, [], [], [])
    assert body["counts"]["dominant_route_pct"] is None
    assert body["current"]["pending"] == 0
    hops = hops_of(api, job_id, dest, start - 3 * HOUR, start - 2 * HOUR).json
    assert hops["hops"] == [] and len(hops["t"]) > 0


def test_hop_matrix_cells_hold_loss_of_the_sums_median_rtt_and_addresses(app, script, api):
    start = utcnow().replace(minute=0, second=0, microsecond=0) - 2 * HOUR
    minute = timedelta(minutes=1)
    for n in range(3):  # column 0: one probe of three lost per hop, RTTs 1.1 and 1.2 ms
        script.steps.append(lambda t, n=n: trace(t.host, start + minute * n, A, rtt_ms=1.0, lost=1))
    for n in (5, 6):  # column 1: nothing lost, RTTs 2.0, 2.1, 2.2 ms, the other branch once
        path = A if n == 5 else B
        script.steps.append(lambda t, n=n, p=path: trace(t.host, start + minute * n, p, rtt_ms=2.0))
    with app.app_context():
        job = make_job(interval_s=60)
        [dest] = destination_ids(job)
        run_job(app, job, 5)
        job_id = job.id
    body = hops_of(api, job_id, dest, start, start + 10 * minute, points=2).json
    assert body["bucket_s"] == 300
    assert body["t"] == [
        iso(start).replace("Z", "+00:00"),
        iso(start + 5 * minute).replace("Z", "+00:00"),
    ]
    assert [row["ttl"] for row in body["hops"]] == [1, 2, 3, 4]
    assert (body["traces"], body["traces_read"], body["sampled_every"]) == (5, 5, 1)
    r1, silent, branch, target = body["hops"]
    assert r1["address"] == "10.91.1.1"
    assert r1["sent"] == [9, 6] and r1["received"] == [6, 6]
    assert r1["loss_pct"] == [pytest.approx(100 / 3), 0.0]
    assert r1["rtt_median_ms"] == [pytest.approx(1.15), pytest.approx(2.1)]
    assert silent["address"] is None and silent["loss_pct"] == [100.0, 100.0]
    assert silent["rtt_median_ms"] == [None, None] and silent["addresses"] == [[], []]
    assert branch["addresses"] == [["10.93.1.2"], ["10.93.1.2", "10.93.2.2"]]
    assert branch["address"] == "10.93.1.2"
    assert target["addresses"] == [["10.99.0.1"], ["10.99.0.1"]]


def test_columns_follow_points_but_are_never_narrower_than_the_interval(api, played):
    job_id, dest, start = played
    body = hops_of(api, job_id, dest, start, start + HOUR, points=1000).json
    assert body["bucket_s"] == 60 and len(body["t"]) == 60
    body = hops_of(api, job_id, dest, start, start + HOUR, points=10).json
    assert body["bucket_s"] == 600 and len(body["t"]) == 6
    assert body["hops"][2]["addresses"][0] == ["10.93.1.2", "10.93.2.2"]


def test_the_widest_range_allowed_answers(api, played):
    job_id, dest, _ = played
    first, last = datetime(1970, 1, 1, tzinfo=UTC), datetime(8999, 12, 31, tzinfo=UTC)
    body = hops_of(api, job_id, dest, first, last, points=2000).json
    assert body["traces"] == 10 and len(body["t"]) <= 2000
    assert routes_of(api, job_id, dest, first, last).json["traces"] == 10


def test_bucket_widths_are_round_steps_then_whole_days():
    assert bucket_seconds(timedelta(hours=1), 100) == 60
    assert bucket_seconds(timedelta(hours=1), 100, at_least_s=90) == 120
    assert bucket_seconds(timedelta(days=30), 120) == 21600
    assert bucket_seconds(timedelta(days=365), 100) == 4 * 86400


def test_over_the_trace_limit_every_nth_trace_is_read_and_changes_stay_whole(app, api, played):
    job_id, dest, start = played
    app.config["ROUTE_MAX_TRACES"] = 4
    body = routes_of(api, job_id, dest, start, start + HOUR).json
    assert (body["traces"], body["traces_read"], body["sampled_every"]) == (10, 4, 3)
    # Traces 0, 3, 6 and 9 read: A, B, B, B.
    assert [r["traces"] for r in body["runs"]] == [3, 1]
    assert body["counts"]["changes"] == 1 and body["counts"]["flaps"] == 1
    hops = hops_of(api, job_id, dest, start, start + HOUR).json
    assert (hops["traces"], hops["traces_read"], hops["sampled_every"]) == (10, 4, 3)


def test_the_traces_are_read_in_one_statement_however_many_there_are(app, script, api):
    start = utcnow() - 3 * HOUR
    with app.app_context():
        job = make_job()
        [dest] = destination_ids(job)
        job_id, engine = job.id, db.engine
        play(app, script, job, start, [A] * 3)
        play(app, script, job, start + HOUR, [A] * 30)
    counts = []
    for n, window in ((3, (start, start + HOUR)), (30, (start + HOUR, start + 2 * HOUR))):
        statements: list[str] = []

        def count(conn, cursor, statement, *args, statements=statements):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            assert hops_of(api, job_id, dest, *window).json["traces"] == n
            assert routes_of(api, job_id, dest, *window).json["traces"] == n
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert sum("measurements.details" in s for s in statements) == 2
        # The token's last use is recorded now and then (a write): not this read's doing.
        reads = [s for s in statements if s.startswith("SELECT") and "api_tokens" not in s]
        counts.append(len(reads))
    assert counts[0] == counts[1]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "destination"),
        ({"destination": "abc"}, "destination"),
        ({"destination": "0"}, "destination"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-45T00:00:00Z"}, "to"),
        ({"from": "2026-12-01T12:00:00Z", "to": "2026-12-01T11:00:00Z"}, "from"),
        ({"from": "2026-12-01T12:00:00Z", "to": "2026-12-01T12:00:00Z"}, "from"),
        ({"from": "0001-01-01T00:00:00Z"}, "from"),
        ({"to": "9999-12-31T23:59:59Z"}, "to"),
        ({"points": "0"}, "points"),
        ({"points": "5000"}, "points"),
        ({"points": "many"}, "points"),
    ],
)
def test_bad_arguments_are_422_naming_the_field(api, played, query, field):
    job_id, dest, _ = played
    query = {"destination": dest, **query} if field != "destination" else query
    for path in ("routes", "hops"):
        if field == "points" and path == "routes":
            continue
        answer = api.get(f"/jobs/{job_id}/{path}", query_string=query)
        assert answer.status_code == 422, (path, answer.json)
        assert answer.json["error"]["code"] == "validation_error"
        assert list(answer.json["error"]["fields"]) == [field]


def test_unknown_job_or_destination_is_404(api, played):
    job_id, dest, _ = played
    for path in ("routes", "hops"):
        assert api.get(f"/jobs/999/{path}", query_string={"destination": dest}).status_code == 404
        missing = api.get(f"/jobs/{job_id}/{path}", query_string={"destination": 999})
        assert missing.status_code == 404 and "destination 999" in missing.json["error"]["message"]


def test_a_viewer_reads_them_and_a_stranger_does_not(client, reader, played):
    job_id, dest, _ = played
    for path in ("routes", "hops"):
        assert (
            reader.get(f"/jobs/{job_id}/{path}", query_string={"destination": dest}).status_code
            == 200
        )
        assert client.get(f"/api/v1/jobs/{job_id}/{path}?destination={dest}").status_code == 401


def test_both_are_in_the_openapi_document_with_their_arguments(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path, extra in (("routes", set()), ("hops", {"points"})):
        operation = paths[f"/api/v1/jobs/{{job_id}}/{path}"]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"job_id", "destination", "from", "to"} | extra == names
        assert {"200", "404", "422"} <= set(operation["responses"])
