"""Job pages: the form read with the collector's JSON Schema, states, schedule, actions."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from netstats.db import db
from netstats.models import Job, JobRun
from tests.web.conftest import error_for


@pytest.fixture
def destination(api) -> int:
    return api.post("/destinations", json={"name": "loop", "host": "127.0.0.1"}).json["id"]


def _form(destination: int, **fields) -> dict:
    return {
        "name": "pinger",
        "collector": "ping",
        "params.count": "3",
        "params.interval": "0.5",
        "params.ttl": "",
        "destinations": str(destination),
        "interval_s": "60",
        "timezone": "Europe/Paris",
        "windows.0.days": ["mon", "tue"],
        "windows.0.start": "22:00",
        "windows.0.end": "06:00",
        "enabled": "on",
        **fields,
    }


def _job(app, name="pinger") -> Job:
    with app.app_context():
        job = db.session.scalar(select(Job).where(Job.name == name))
        db.session.expunge_all()
        return job


def _embedded(page: str, script_id: str):
    match = re.search(rf'<script type="application/json" id="{script_id}">(.*?)</script>', page)
    return json.loads(match.group(1))


def test_the_new_job_form_offers_the_collectors_and_the_schema_to_build_fields_from(admin):
    page = admin.get("/jobs/new").text
    assert '<option value="ping" selected>ICMP echo (ping)</option>' in page
    schema = _embedded(page, "job-schema")
    assert schema["required"] == ["collector", "interval_s", "name"]
    assert 'data-collectors-path="/collectors"' in page
    assert '<template id="window-template">' in page and 'name="windows.__i__.start"' in page


def test_a_job_posted_as_a_form_is_read_with_its_collectors_schema(app, admin, destination):
    response = admin.post("/jobs/new", _form(destination))
    assert response.status_code == 302, response.text
    job = _job(app)
    assert job.params["count"] == 3 and job.params["interval"] == 0.5
    assert job.params["ttl"] is None and job.params["size"] == 56  # defaults filled in
    assert job.windows == [{"days": ["mon", "tue"], "start": "22:00", "end": "06:00"}]
    assert job.timezone == "Europe/Paris" and job.interval_s == 60 and job.timeout_s is None


def test_a_bad_parameter_is_named_beside_its_generated_field(app, admin, destination):
    response = admin.post("/jobs/new", _form(destination, **{"params.count": "0"}))
    assert response.status_code == 422
    errors = _embedded(response.text, "job-errors")
    assert errors["params.count"] == [
        "Must be greater than or equal to 1 and less than or equal to 1000."
    ]
    assert _embedded(response.text, "job-params")["count"] == "0"  # shown again as typed
    assert _job(app) is None


def test_window_errors_are_shown_on_the_window_row(admin, destination):
    form = _form(destination, **{"windows.0.start": "25:00", "windows.0.days": []})
    page = admin.post("/jobs/new", form).text
    assert error_for(page, "windows.0.start") == "Use HH:MM, 00:00 to 23:59."
    assert error_for(page, "windows.0.days") == "Length must be between 1 and 7."
    assert 'value="25:00"' in page


def test_edit_shows_the_saved_job_and_an_edit_bumps_the_version(app, admin, destination):
    admin.post("/jobs/new", _form(destination))
    job = _job(app)
    page = admin.get(f"/jobs/{job.id}/edit").text
    assert _embedded(page, "job-params")["count"] == 3
    assert 'name="windows.0.start" value="22:00"' in page
    assert re.search(rf'value="{destination}" id="dest-{destination}" checked', page)
    form = _form(destination, **{"params.count": "4", "windows.0.start": "21:00"})
    assert admin.post(f"/jobs/{job.id}/edit", form).status_code == 302
    edited = _job(app)
    assert (edited.params["count"], edited.windows[0]["start"], edited.version) == (4, "21:00", 2)


def test_list_shows_each_jobs_state(app, admin, api, destination):
    for name, extra in (("on", {}), ("off", {"enabled": False}), ("held", {})):
        api.post("/jobs", json={"name": name, "collector": "ping", "interval_s": 60, **extra})
    api.post(f"/jobs/{_job(app, 'held').id}/pause")
    page = admin.get("/jobs").text
    states = dict(re.findall(r'<tr data-job="(\w+)">.*?data-state="(\w+)"', page, re.S))
    assert states == {"held": "paused", "off": "disabled", "on": "active"}
    assert re.findall(r'data-job="(\w+)"', admin.get("/jobs?state=paused").text) == ["held"]


def test_detail_shows_configuration_planned_runs_and_recent_runs(app, admin, destination):
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    admin.post(
        "/jobs/new", _form(destination, **{"windows.0.days": every_day, "windows.0.end": "22:00"})
    )
    job = _job(app)
    page = admin.get(f"/jobs/{job.id}").text
    assert 'data-state="active"' in page
    assert len(re.findall(r"<li class=\"list-group-item\"><time", page)) == 5
    assert "Europe/Paris" in page and "loop" in page
    assert "No runs yet" in admin.get(f"/jobs/{job.id}/runs").text


def test_the_actions_work_without_javascript(app, admin, destination):
    admin.post("/jobs/new", _form(destination))
    job = _job(app)
    assert admin.post(f"/jobs/{job.id}/pause").headers["Location"] == f"/jobs/{job.id}"
    assert _job(app).paused is True
    assert "Job pinger paused." in admin.get(f"/jobs/{job.id}").text
    admin.post(f"/jobs/{job.id}/resume")
    assert _job(app).paused is False
    admin.post(f"/jobs/{job.id}/run")
    with app.app_context():
        manual = db.session.scalars(select(JobRun).where(JobRun.trigger == "manual")).all()
        assert [r.job_id for r in manual] == [job.id]
    assert 'data-run-status="scheduled"' in admin.get(f"/jobs/{job.id}/runs").text


def test_running_a_disabled_job_is_refused_with_the_reason(app, admin, destination):
    form = _form(destination)
    del form["enabled"]  # an unticked checkbox is not sent
    admin.post("/jobs/new", form)
    job = _job(app)
    page = admin.post(f"/jobs/{job.id}/run", follow_redirects=True).text
    assert "is disabled; enable it to run it." in page


def test_delete_removes_the_job(app, admin, destination):
    admin.post("/jobs/new", _form(destination))
    job = _job(app)
    assert "pause it instead" in admin.get(f"/jobs/{job.id}/delete").text
    assert admin.post(f"/jobs/{job.id}/delete").headers["Location"] == "/jobs"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_disabled_job_offers_neither_run_now_nor_pause(app, admin, destination):
    form = _form(destination)
    del form["enabled"]  # an unticked checkbox is not sent
    admin.post("/jobs/new", form)
    job = _job(app)
    assert job.enabled is False
    page = admin.get(f"/jobs/{job.id}").text
    assert 'id="run-now"' not in page and 'id="pause"' not in page and 'id="resume"' not in page
    assert "edit the job to enable it" in page
    admin.post(f"/jobs/{job.id}/edit", _form(destination))
    page = admin.get(f"/jobs/{job.id}").text
    assert 'id="run-now"' in page and 'id="pause"' in page
