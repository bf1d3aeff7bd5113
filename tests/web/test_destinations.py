"""Destination pages: list, forms with inline errors, the 409 of delete, the latest results."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from netstats.db import db, utcnow
from netstats.models import Destination, Job, Measurement
from tests.web.conftest import error_for

GOOD = {"name": "loop", "host": "127.0.0.1", "family": "any", "enabled": "on"}


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Destination))


def _create(admin, **fields) -> int:
    response = admin.post("/destinations/new", {**GOOD, **fields})
    assert response.status_code == 302, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _names(page: str) -> list[str]:
    return re.findall(r'<a href="/destinations/\d+" class="fw-medium"><bdi>([^<]+)</bdi></a>', page)


def test_create_saves_the_destination_with_its_labels_and_shows_it(app, admin):
    destination_id = _create(
        admin, name="alpha", labels="site=par\n role = core \n\n", description="the loop"
    )
    page = admin.get(f"/destinations/{destination_id}").text
    assert "alpha" in page and "the loop" in page
    with app.app_context():
        saved = db.session.get(Destination, destination_id)
        assert saved.labels == {"site": "par", "role": "core"}
        assert saved.enabled is True


def test_a_bad_host_is_shown_beside_its_field_and_nothing_is_saved(app, admin):
    response = admin.post("/destinations/new", {**GOOD, "host": "bad host;rm -rf /"})
    assert response.status_code == 422
    assert error_for(response.text, "host") == "Must not contain spaces or control characters."
    assert error_for(response.text, "_form") == "Please correct the marked fields."
    assert 'value="bad host;rm -rf /"' in response.text  # what was typed stays
    assert re.search(r'class="form-control is-invalid" id="f-host"', response.text)
    assert _count(app) == 0


def test_the_form_and_the_api_apply_the_same_rules(admin, api):
    bad = {"name": "x" * 101, "host": "1.2.3", "family": "ipv6", "labels": "bad key=1"}
    page = admin.post("/destinations/new", {**GOOD, **bad}).text
    answer = api.post(
        "/destinations",
        json={**bad, "labels": {"bad key": "1"}},
    ).json["error"]["fields"]
    for field in ("name", "host", "labels"):
        assert error_for(page, field) == " ".join(answer[field]), field


def test_a_duplicate_name_is_a_conflict_shown_on_the_name(admin):
    _create(admin)
    response = admin.post("/destinations/new", GOOD)
    assert response.status_code == 409
    assert error_for(response.text, "name") == "Already exists."
    assert "A destination named &#39;loop&#39; exists already." in response.text


def test_edit_shows_the_current_values_and_saves_every_field(app, admin):
    destination_id = _create(admin, labels="a=1", description="old")
    form = admin.get(f"/destinations/{destination_id}/edit").text
    assert 'value="127.0.0.1"' in form and ">a=1</textarea>" in form and ">old</textarea>" in form
    response = admin.post(
        f"/destinations/{destination_id}/edit",
        {"name": "loop", "host": "::1", "family": "ipv6", "labels": "", "description": ""},
    )
    assert response.status_code == 302
    with app.app_context():
        saved = db.session.get(Destination, destination_id)
        assert (saved.host, saved.family, saved.labels) == ("::1", "ipv6", {})
        assert saved.description == ""
        assert saved.enabled is False  # an unticked checkbox


def test_list_searches_filters_sorts_and_pages(admin):
    for i in range(30):
        _create(admin, name=f"d{i:02}", labels="env=prod" if i % 2 else "env=dev")
    first = admin.get("/destinations").text
    assert _names(first)[:2] == ["d00", "d01"] and len(_names(first)) == 25
    assert "Page 1 of 2 · 30 in all" in first
    assert _names(admin.get("/destinations?page=2").text) == [f"d{i}" for i in range(25, 30)]
    assert _names(admin.get("/destinations?sort=-name&per_page=3").text) == ["d29", "d28", "d27"]
    assert _names(admin.get("/destinations?q=d1&label=env:prod").text) == [
        f"d1{i}" for i in range(1, 10, 2)
    ]
    assert "Nothing matches" in admin.get("/destinations?q=zzz").text


def test_a_bad_filter_is_reported_beside_it_and_the_list_still_shows(admin):
    _create(admin)
    page = admin.get("/destinations?label=nocolon&sort=password&enabled=").text
    assert "Use key:value." in page
    assert _names(page) == ["loop"]


def test_detail_shows_each_job_with_its_latest_measurement(app, admin):
    destination_id = _create(admin)
    with app.app_context():
        destination = db.session.get(Destination, destination_id)
        job = Job(name="pinger", collector="ping", interval_s=60, enabled=False)
        job.destinations = [destination]
        db.session.add(job)
        db.session.flush()
        now = utcnow()
        for age, loss in ((120, 0.0), (60, 40.0)):
            db.session.add(
                Measurement(
                    job_id=job.id,
                    destination_id=destination_id,
                    collector="ping",
                    target="127.0.0.1",
                    started_at=now - timedelta(seconds=age),
                    duration_ms=5,
                    status="ok",
                    metrics={"rtt_avg_ms": 0.25, "loss_pct": loss},
                )
            )
        db.session.commit()
    page = admin.get(f"/destinations/{destination_id}").text
    assert "pinger" in page and "0.25 ms" in page and "40 % loss" in page
    dashboard = admin.get("/").text
    assert re.search(r'id="trouble".*loop.*40 % loss', dashboard, re.S)


def test_deleting_a_destination_in_use_explains_the_conflict_then_detaches(app, admin, api):
    destination_id = _create(admin)
    api.post(
        "/jobs",
        json={
            "name": "user",
            "collector": "ping",
            "interval_s": 60,
            "destinations": [destination_id],
            "enabled": False,
        },
    )
    confirm = admin.get(f"/destinations/{destination_id}/delete").text
    assert "1 job measures it by name" in confirm and "><bdi>user</bdi></a>" in confirm
    refused = admin.post(f"/destinations/{destination_id}/delete")
    assert refused.status_code == 409
    assert "is used by 1 job(s): user" in refused.text
    assert _count(app) == 1
    done = admin.post(f"/destinations/{destination_id}/delete", {"detach": "on"})
    assert done.status_code == 302 and done.headers["Location"] == "/destinations"
    assert _count(app) == 0
    assert "Destination loop deleted." in admin.get("/destinations").text
