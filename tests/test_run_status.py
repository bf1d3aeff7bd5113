"""GET /api/v1/jobs/<id>/status (netstats.queries.runs): a job's runs per bucket and state,
their lateness and duration, on hand-worked runs, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from netstats.db import db
from netstats.models import JobRun

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def job_id(app, api) -> int:
    dest = api.post("/destinations", json={"name": "d", "host": "127.0.0.1"}).json["id"]
    # Active only from 2100: the planner adds no run of its own to the hand-worked ones.
    job = api.post(
        "/jobs",
        json={
            "name": "j",
            "collector": "ping",
            "destinations": [dest],
            "interval_s": 60,
            "starts_at": "2100-01-01T00:00:00Z",
        },
    ).json["id"]
    # (minutes after T0, status, lateness ms, duration ms)
    runs = [
        (0, "succeeded", 10.0, 500.5),
        (1, "succeeded", 30.0, 1500.25),
        (2, "failed", 20.0, 2000.0),
        (5, "timed_out", 5.0, 9000.0),
        (6, "skipped", None, None),
        (9, "succeeded", 1.5, 100.0),
        (10, "succeeded", 0.0, 0.0),  # at `to`: excluded
    ]
    with app.app_context():
        for minute, status, lateness, duration in runs:
            scheduled = T0 + timedelta(minutes=minute)
            started = None if lateness is None else scheduled + timedelta(milliseconds=lateness)
            db.session.add(
                JobRun(
                    job_id=job,
                    job_version=1,
                    scheduled_at=scheduled,
                    status=status,
                    started_at=started,
                    finished_at=None
                    if started is None
                    else started + timedelta(milliseconds=duration),
                    lateness_ms=lateness,
                )
            )
        db.session.commit()
    return job


def test_runs_are_counted_per_five_minute_bucket_and_state(api, job_id):
    answer = api.get(
        f"/jobs/{job_id}/status",
        query_string={
            "from": T0.isoformat(),
            "to": (T0 + timedelta(minutes=10)).isoformat(),
            "points": 2,
        },
    )
    assert answer.status_code == 200, answer.json
    body = answer.json
    start_ms = int(T0.timestamp() * 1000)
    assert body["step_ms"] == 300_000
    assert body["t"] == [start_ms, start_ms + 300_000]
    assert body["statuses"]["succeeded"] == [2, 1]
    assert body["statuses"]["failed"] == [1, 0]
    assert body["statuses"]["timed_out"] == [0, 1]
    assert body["statuses"]["skipped"] == [0, 1]
    assert body["totals"] == {
        "scheduled": 0,
        "running": 0,
        "succeeded": 3,
        "failed": 1,
        "timed_out": 1,
        "skipped": 1,
        "abandoned": 0,
    }
    assert body["lateness_mean_ms"] == [pytest.approx(20.0), pytest.approx(3.25)]
    assert body["lateness_max_ms"] == [pytest.approx(30.0), pytest.approx(5.0)]
    # Durations to the microsecond, from the stored timestamps.
    assert body["duration_mean_ms"][0] == pytest.approx((500.5 + 1500.25 + 2000.0) / 3, abs=1e-3)
    assert body["duration_max_ms"] == [pytest.approx(2000.0, abs=1e-3), pytest.approx(9000.0)]


def test_a_bucket_without_runs_is_null_for_lateness_and_duration(api, job_id):
    answer = api.get(
        f"/jobs/{job_id}/status",
        query_string={
            "from": (T0 - timedelta(minutes=5)).isoformat(),
            "to": (T0 + timedelta(minutes=5)).isoformat(),
            "points": 2,
        },
    )
    body = answer.json
    assert body["statuses"]["succeeded"] == [0, 2]
    assert body["lateness_mean_ms"][0] is None and body["duration_max_ms"][0] is None


def test_from_after_to_is_422_naming_from(api, job_id):
    answer = api.get(
        f"/jobs/{job_id}/status",
        query_string={"from": T0.isoformat(), "to": (T0 - timedelta(hours=1)).isoformat()},
    )
    assert answer.status_code == 422
    assert "from" in answer.json["error"]["fields"]


@pytest.mark.parametrize("points", ["0", "x", "100000"])
def test_bad_points_is_422_naming_points(api, job_id, points):
    answer = api.get(f"/jobs/{job_id}/status", query_string={"points": points})
    assert answer.status_code == 422
    assert "points" in answer.json["error"]["fields"]


def test_unknown_job_is_404(api):
    assert api.get("/jobs/999/status").status_code == 404
