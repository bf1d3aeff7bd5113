"""Runs and destination status through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import pytest

from netstats.db import db, utcnow
from netstats.engine.execution import execute_run
from netstats.models import JobRun
from tests.conftest import require
from tests.tcp_collector import register_tcp_collector


@pytest.fixture
def port():
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def setup(app, api, port):
    """Two destinations (one labelled) and a job on each, one of them by label."""
    register_tcp_collector(app)
    a = api.post("/destinations", json={"name": "a", "host": "127.0.0.1"}).json["id"]
    b = api.post(
        "/destinations", json={"name": "b", "host": "127.0.0.1", "labels": {"role": "db"}}
    ).json["id"]
    listed = api.post(
        "/jobs",
        json={
            "name": "listed",
            "collector": "tcp",
            "params": {"port": port},
            "destinations": [a, b],
            "interval_s": 60,
        },
    ).json["id"]
    labelled = api.post(
        "/jobs",
        json={
            "name": "labelled",
            "collector": "tcp",
            "params": {"port": port},
            "label_selector": {"role": "db"},
            "interval_s": 60,
        },
    ).json["id"]
    return {"a": a, "b": b, "listed": listed, "labelled": labelled}


def run_now(app, api, job_id: int) -> int:
    run_id = api.post(f"/jobs/{job_id}/run").json["id"]
    with app.app_context():
        execute_run(run_id)
    return run_id


def test_run_detail_carries_its_measurements(app, api, setup):
    run_id = run_now(app, api, setup["listed"])
    response = api.get(f"/runs/{run_id}")
    assert response.status_code == 200
    run = response.json
    assert (run["status"], run["trigger"], run["attempt"]) == ("succeeded", "manual", 1)
    assert run["duration_ms"] >= 0 and run["lateness_ms"] >= 0
    assert sorted(m["destination_id"] for m in run["measurements"]) == [setup["a"], setup["b"]]
    m = run["measurements"][0]
    assert m["status"] == "ok" and m["metrics"]["connect_ms"] > 0
    assert api.get("/runs/99999").status_code == 404


def test_job_runs_filter_by_status_and_time_and_page(app, api, setup):
    done = run_now(app, api, setup["listed"])
    listed = api.get(f"/jobs/{setup['listed']}/runs").json
    assert listed["total"] == 2  # the first planned run, then the manual one
    assert listed["items"][0]["scheduled_at"] > listed["items"][1]["scheduled_at"]
    only_done = api.get(f"/jobs/{setup['listed']}/runs?status=succeeded").json["items"]
    assert [r["id"] for r in only_done] == [done]
    both = api.get(f"/jobs/{setup['listed']}/runs?status=succeeded&status=scheduled").json
    assert both["total"] == 2
    soon = (utcnow() + timedelta(minutes=5)).isoformat()
    assert api.get(f"/jobs/{setup['listed']}/runs", query_string={"since": soon}).json["total"] == 0
    with app.app_context():
        run = db.session.get(JobRun, done)
        until = (run.scheduled_at + timedelta(microseconds=1)).isoformat()
    upto = api.get(f"/jobs/{setup['listed']}/runs", query_string={"until": until}).json
    assert [r["id"] for r in upto["items"]] == [done]
    page = api.get(f"/jobs/{setup['listed']}/runs?per_page=1&page=2").json
    assert (page["pages"], len(page["items"])) == (2, 1)


@pytest.mark.parametrize(
    "query", ["status=finished", "since=tomorrow", "page=0", "per_page=-1", "until=12"]
)
def test_bad_run_filters_are_422(api, setup, query):
    response = api.get(f"/jobs/{setup['listed']}/runs?{query}")
    assert response.status_code == 422, response.json


def test_runs_of_unknown_job_are_404(api, setup):
    assert api.get("/jobs/99999/runs").status_code == 404


def test_destination_status_shows_the_latest_measurement_per_job(app, api, setup):
    run_now(app, api, setup["listed"])
    latest = run_now(app, api, setup["listed"])
    status = api.get(f"/destinations/{setup['b']}/status")
    assert status.status_code == 200
    by_job = {item["job"]["name"]: item for item in status.json["jobs"]}
    assert set(by_job) == {"listed", "labelled"}
    assert by_job["listed"]["measurement"]["run_id"] == latest
    assert by_job["listed"]["job"]["state"] == "active"
    assert by_job["labelled"]["measurement"] is None  # selected by label, not measured yet
    only_a = api.get(f"/destinations/{setup['a']}/status").json["jobs"]
    assert [item["job"]["name"] for item in only_a] == ["listed"]
    assert api.get("/destinations/99999/status").status_code == 404


def test_destination_status_keeps_a_job_that_no_longer_lists_it(app, api, setup):
    run_now(app, api, setup["listed"])
    api.patch(f"/jobs/{setup['listed']}", json={"destinations": [setup["b"]]})
    names = [i["job"]["name"] for i in api.get(f"/destinations/{setup['a']}/status").json["jobs"]]
    assert names == ["listed"]


@pytest.mark.lab
def test_counts_come_back_as_integers_and_times_as_numbers(app, api):
    require(os.geteuid() == 0, "ping needs root (raw sockets) here")
    destination = api.post("/destinations", json={"name": "lo", "host": "127.0.0.1"}).json["id"]
    job = api.post(
        "/jobs",
        json={
            "name": "ping",
            "collector": "ping",
            "params": {"count": 3, "interval": 0.01},
            "destinations": [destination],
            "interval_s": 3600,
        },
    ).json["id"]
    run = api.get(f"/runs/{run_now(app, api, job)}").json
    metrics = run["measurements"][0]["metrics"]
    assert (metrics["sent"], metrics["received"], metrics["duplicates"]) == (3, 3, 0)
    assert all(type(metrics[k]) is int for k in ("sent", "received", "duplicates"))
    assert type(metrics["rtt_avg_ms"]) is float
