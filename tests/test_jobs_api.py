"""The jobs API through HTTP, on SQLite and PostgreSQL: bodies, errors, actions, schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from netstats.db import db
from netstats.models import Job, JobRun
from tests.tcp_collector import register_tcp_collector


@pytest.fixture
def dest(app, api) -> int:
    register_tcp_collector(app)
    return api.post("/destinations", json={"name": "loop", "host": "127.0.0.1"}).json["id"]


def body(dest: int, **extra) -> dict:
    return {
        "name": "tcp-5432",
        "collector": "tcp",
        "params": {"port": 5432},
        "destinations": [dest],
        "interval_s": 10,
        **extra,
    }


def make(api, dest, **extra) -> dict:
    response = api.post("/jobs", json=body(dest, **extra))
    assert response.status_code == 201, response.json
    return response.json


def totals(app) -> tuple[int, int]:
    with app.app_context():
        jobs = db.session.scalar(select(func.count()).select_from(Job))
        runs = db.session.scalar(select(func.count()).select_from(JobRun))
    return jobs, runs


def planned(app, job_id: int) -> list[JobRun]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(JobRun).where(JobRun.job_id == job_id).order_by(JobRun.scheduled_at)
            )
        )


def test_create_get_patch_delete_round_trip(app, api, dest):
    created = make(api, dest, description="db port")
    assert created["params"] == {"port": 5432, "timeout": 1.0, "hold_s": 0.0, "fail": False}
    assert created["destinations"] == [dest]
    assert (created["state"], created["version"], created["paused"]) == ("active", 1, False)
    assert created["next_run_at"] is not None
    path = f"/jobs/{created['id']}"
    assert api.get(path).json["name"] == "tcp-5432"

    renamed = api.patch(path, json={"name": "db", "description": "renamed"})
    assert renamed.status_code == 200 and renamed.json["version"] == 1

    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert totals(app) == (0, 0)


def test_create_answers_location_and_plans_the_first_runs(app, api, dest):
    response = api.post("/jobs", json=body(dest, interval_s=10))
    assert response.headers["Location"].endswith(f"/api/v1/jobs/{response.json['id']}")
    runs = planned(app, response.json["id"])
    assert len(runs) == 6  # a minute ahead
    assert all(r.status == "scheduled" and r.job_version == 1 for r in runs)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"params": {"port": 70000}}, "params"),
        ({"params": {"port": "http"}}, "params"),
        ({"params": {"port": 80, "colour": "blue"}}, "params"),
        ({"params": []}, "params"),
        ({"collector": "teleport"}, "collector"),
        ({"interval_s": 0}, "interval_s"),
        ({"interval_s": "10"}, "interval_s"),
        ({"interval_s": 1.5}, "interval_s"),
        ({"interval_s": True}, "interval_s"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"windows": [{"days": ["mon"], "start": "25:00", "end": "06:00"}]}, "windows"),
        ({"windows": [{"days": ["someday"], "start": "01:00", "end": "06:00"}]}, "windows"),
        ({"windows": [{"days": [], "start": "01:00", "end": "06:00"}]}, "windows"),
        ({"windows": "always"}, "windows"),
        ({"starts_at": "2026-06-02T00:00:00Z", "ends_at": "2026-06-01T00:00:00Z"}, "ends_at"),
        ({"starts_at": "yesterday"}, "starts_at"),
        ({"destinations": [999]}, "destinations"),
        ({"destinations": ["1"]}, "destinations"),
        ({"retries": 50}, "retries"),
        ({"timeout_s": "fast"}, "timeout_s"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"name": ""}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"label_selector": {"bad key!": "x"}}, "label_selector"),
        ({"enabled": "yes"}, "enabled"),
        ({"paused": True}, "paused"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_job_body_is_422_naming_the_field_and_changes_nothing(app, api, dest, change, field):
    before = totals(app)
    response = api.post("/jobs", json=body(dest, **change))
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"], response.json
    assert totals(app) == before


def test_bad_collector_parameter_is_named_inside_params(api, dest):
    response = api.post("/jobs", json=body(dest, params={"port": 70000, "timeout": -1}))
    assert response.status_code == 422
    error = response.json["error"]
    assert set(error["fields"]["params"]) == {"port", "timeout"}
    assert "port" in error["message"] and "timeout" in error["message"]


def test_bad_patch_changes_nothing(app, api, dest):
    job = make(api, dest)
    runs_before = [r.id for r in planned(app, job["id"])]
    response = api.patch(f"/jobs/{job['id']}", json={"interval_s": 5, "params": {"port": 0}})
    assert response.status_code == 422
    again = api.get(f"/jobs/{job['id']}").json
    assert (again["interval_s"], again["version"]) == (10, 1)
    assert [r.id for r in planned(app, job["id"])] == runs_before


def test_patch_ends_at_before_stored_starts_at_is_refused(api, dest):
    job = make(api, dest, starts_at="2030-01-02T00:00:00Z")
    response = api.patch(f"/jobs/{job['id']}", json={"ends_at": "2030-01-01T00:00:00Z"})
    assert response.status_code == 422 and "ends_at" in response.json["error"]["fields"]


def test_malformed_json_is_400_and_duplicate_name_409(app, api, dest):
    response = api.post("/jobs", data="{nope", content_type="application/json")
    assert response.status_code == 400
    make(api, dest)
    response = api.post("/jobs", json=body(dest))
    assert response.status_code == 409 and "name" in response.json["error"]["fields"]
    assert totals(app)[0] == 1


def test_read_token_may_list_but_not_change(api, reader, dest):
    job = make(api, dest)
    assert reader.get("/jobs").status_code == 200
    assert reader.post("/jobs", json=body(dest, name="x")).status_code == 403
    assert reader.post(f"/jobs/{job['id']}/pause").status_code == 403
    assert reader.delete(f"/jobs/{job['id']}").status_code == 403
    assert api.get("/jobs", headers={"Authorization": ""}).status_code == 401


def test_edit_of_what_runs_bumps_the_version_and_replans(app, api, dest):
    job = make(api, dest, interval_s=10)
    response = api.patch(f"/jobs/{job['id']}", json={"interval_s": 20})
    assert response.json["version"] == 2
    runs = planned(app, job["id"])
    assert {r.job_version for r in runs} == {2}
    gaps = {b.scheduled_at - a.scheduled_at for a, b in pairwise(runs)}
    assert gaps == {timedelta(seconds=20)}


def test_pause_drops_the_runs_ahead_and_resume_plans_them_again(app, api, dest):
    job = make(api, dest)
    paused = api.post(f"/jobs/{job['id']}/pause")
    assert paused.status_code == 200 and paused.json["state"] == "paused"
    assert paused.json["next_run_at"] is None
    assert planned(app, job["id"]) == []
    assert api.post(f"/jobs/{job['id']}/pause").status_code == 200  # idempotent
    resumed = api.post(f"/jobs/{job['id']}/resume")
    assert resumed.json["state"] == "active"
    assert len(planned(app, job["id"])) == 6


def test_disable_drops_planned_runs_and_run_now_is_refused(app, api, dest):
    job = make(api, dest)
    api.patch(f"/jobs/{job['id']}", json={"enabled": False})
    assert planned(app, job["id"]) == []
    response = api.post(f"/jobs/{job['id']}/run")
    assert response.status_code == 409


def test_run_now_queues_a_manual_run(app, api, dest):
    job = make(api, dest, windows=[{"days": ["mon"], "start": "00:00", "end": "00:01"}])
    response = api.post(f"/jobs/{job['id']}/run")
    assert response.status_code == 202
    assert response.json["trigger"] == "manual" and response.json["status"] == "scheduled"
    assert response.headers["Location"].endswith(f"/api/v1/runs/{response.json['id']}")


def test_schedule_lists_the_next_times_in_the_window(api, dest):
    job = make(
        api,
        dest,
        interval_s=3600,
        timezone="Europe/Paris",
        windows=[{"days": ["sat"], "start": "22:00", "end": "01:00"}],
    )
    response = api.get(f"/jobs/{job['id']}/schedule?count=7")
    assert response.status_code == 200
    times = [datetime.fromisoformat(t) for t in response.json["times"]]
    assert len(times) == 7
    local = [t.astimezone(ZoneInfo("Europe/Paris")) for t in times]
    assert [t.strftime("%a %H:%M") for t in local[:3]] == ["Sat 22:00", "Sat 23:00", "Sun 00:00"]
    assert local[3].strftime("%a %H:%M") == "Sat 22:00"
    assert all(t.tzinfo is not None for t in times)


def test_schedule_honours_the_active_period_and_bad_count_is_422(api, dest):
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    job = make(
        api,
        dest,
        interval_s=60,
        starts_at=starts.isoformat(),
        ends_at=(starts + timedelta(minutes=3)).isoformat(),
    )
    times = api.get(f"/jobs/{job['id']}/schedule?count=10").json["times"]
    assert [datetime.fromisoformat(t) for t in times] == [
        starts + timedelta(minutes=i) for i in range(3)
    ]
    assert api.get(f"/jobs/{job['id']}/schedule?count=0").status_code == 422
    assert api.get(f"/jobs/{job['id']}/schedule?count=x").status_code == 422
    assert api.get("/jobs/999/schedule").status_code == 404


def test_list_filters_by_enabled_collector_destination_and_state(app, api, dest):
    other = api.post(
        "/destinations", json={"name": "lab", "host": "127.0.0.2", "labels": {"env": "lab"}}
    ).json["id"]
    make(api, dest, name="a")
    make(api, dest, name="b", enabled=False)
    make(api, dest, name="c", destinations=[], label_selector={"env": "lab"})
    paused = make(api, dest, name="d", destinations=[other])
    api.post(f"/jobs/{paused['id']}/pause")
    make(api, dest, name="e", windows=[{"days": ["mon"], "start": "00:00", "end": "00:00"}])

    def names(query: str) -> list[str]:
        response = api.get("/jobs" + query)
        assert response.status_code == 200, response.json
        return [j["name"] for j in response.json["items"]]

    assert names("") == ["a", "b", "c", "d", "e"]
    assert names("?enabled=false") == ["b"]
    assert names("?collector=tcp&sort=-name")[:2] == ["e", "d"]
    assert names("?collector=ping") == []
    assert names(f"?destination={other}") == ["c", "d"]
    assert names("?state=paused") == ["d"]
    assert names("?state=disabled") == ["b"]
    monday = datetime.now(UTC).weekday() == 0
    assert names("?state=active") == (["a", "c", "e"] if monday else ["a", "c"])
    page = api.get("/jobs?per_page=2&page=2").json
    assert (page["total"], page["pages"], [j["name"] for j in page["items"]]) == (5, 3, ["c", "d"])
    assert api.get("/jobs?state=sleeping").status_code == 422
    assert api.get("/jobs?per_page=100000").status_code in (400, 422)


def test_jobs_are_in_the_openapi_document(api):
    spec = api.get("/openapi.json").json
    for path in (
        "/api/v1/jobs",
        "/api/v1/jobs/{job_id}",
        "/api/v1/jobs/{job_id}/pause",
        "/api/v1/jobs/{job_id}/resume",
        "/api/v1/jobs/{job_id}/run",
        "/api/v1/jobs/{job_id}/schedule",
        "/api/v1/jobs/{job_id}/runs",
        "/api/v1/runs/{run_id}",
        "/api/v1/destinations/{destination_id}/status",
    ):
        assert path in spec["paths"], path
    assert "Job" in spec["components"]["schemas"]
    assert "interval_s" in spec["components"]["schemas"]["Job"]["properties"]


def test_next_run_at_is_iso_8601_like_every_other_time(api, dest):
    job = make(api, dest, interval_s=3600)
    next_run = job["next_run_at"]
    assert datetime.fromisoformat(next_run).tzinfo is not None, next_run
    assert api.get(f"/jobs/{job['id']}").json["next_run_at"] == next_run
    listed = api.get("/jobs").json["items"][0]["next_run_at"]
    assert datetime.fromisoformat(listed) == datetime.fromisoformat(next_run)


@pytest.mark.redis
def test_a_queue_failure_after_commit_leaves_the_change_committed_and_the_runs_waiting(
    database_url, instance_path, caplog
):
    from netstats.app import create_app
    from tests.conftest import ApiClient, _issue_token

    # A Redis that is not there: the runs cannot be enqueued once the job is committed.
    app = create_app(
        {"TESTING": True, "DATABASE_URL": database_url, "HUEY_URL": "redis://127.0.0.1:9/0"}
    )
    register_tcp_collector(app)
    client = app.test_client()
    api = ApiClient(client, _issue_token(app, "admin", True, "write"))
    destination = api.post("/destinations", json={"name": "loop", "host": "127.0.0.1"}).json
    with caplog.at_level("WARNING"):
        response = api.post("/jobs", json=body(destination["id"]))
        run = api.post(f"/jobs/{response.json['id']}/run")
    assert response.status_code == 201, response.json
    assert run.status_code == 202, run.json
    assert totals(app)[0] == 1
    assert {r.status for r in planned(app, response.json["id"])} == {"scheduled"}
    assert "left for the worker to pick up at its start" in caplog.text
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
