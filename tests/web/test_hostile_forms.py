"""Hostile input through the pages (issue 13 item 4): huge numbers, huge ids, NUL and dates
past what the scheduler can plan, each named beside its field or a 404, never a 500."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from netstats.db import db
from netstats.models import Destination, Job
from tests.web.conftest import ADMIN, error_for

TWENTY_DIGITS = 10**19 + 1


def rows(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Destination)),
            db.session.scalar(select(func.count()).select_from(Job)),
        )


def test_the_page_of_a_job_starting_at_the_last_planned_second_shows(api, admin):
    for windows in ([], [{"days": ["fri"], "start": "23:00", "end": "01:00"}]):
        body = {"name": f"late{len(windows)}", "collector": "ping", "interval_s": 60}
        body |= {"windows": windows, "timezone": "Pacific/Kiritimati"}
        late = api.post("/jobs", json={**body, "starts_at": "9999-12-31T23:59:59Z"})
        assert late.status_code == 201, late.json
        assert admin.get(f"/jobs/{late.json['id']}").status_code == 200
        assert admin.get("/jobs").status_code == 200


def _job_form(**fields) -> dict:
    return {"name": "web", "collector": "ping", "interval_s": "60", "timezone": "UTC", **fields}


@pytest.mark.parametrize(
    "field, value",
    [
        ("interval_s", "9" * 5000),
        ("retries", "9" * 5000),
        ("timeout_s", "9" * 5000),
        ("params.count", "9" * 5000),
        ("params.interval", "1" + "0" * 5000 + ".5"),
        ("destinations", "9" * 20),
        ("destinations", str(2**31)),
    ],
)
def test_huge_numbers_and_ids_in_the_job_form_are_named_beside_their_field(
    app, admin, field, value
):
    before = rows(app)
    response = admin.post("/jobs/new", _job_form(**{field: value}))
    assert response.status_code == 422, response.text[:300]
    if field.startswith("params."):  # the page script builds these fields and their errors
        errors = json.loads(re.search(r'id="job-errors">(.*?)</script>', response.text).group(1))
        assert errors[field], errors
    else:
        assert error_for(response.text, field)
    assert rows(app) == before


@pytest.mark.parametrize("field", ["name", "description"])
def test_nul_in_a_form_field_is_named_beside_it(app, admin, field):
    before = rows(app)
    response = admin.post("/destinations/new", {"name": "w", "host": "127.0.0.1", field: "a\x00b"})
    assert response.status_code == 422, response.text[:300]
    assert "NUL" in error_for(response.text, field)
    assert rows(app) == before


def test_a_twenty_digit_id_in_a_page_path_is_404(admin):
    assert admin.get(f"/destinations/{TWENTY_DIGITS}").status_code == 404
    assert admin.get(f"/jobs/{TWENTY_DIGITS}/edit").status_code == 404


def test_nul_in_a_list_pages_search_is_reported_beside_the_filter(api, admin):
    for name in ("one", "two"):
        api.post("/destinations", json={"name": name, "host": "127.0.0.1"})
    page = admin.get("/destinations?q=%00&enabled=true")
    assert page.status_code == 200
    assert "Must not contain NUL characters." in page.text
    assert "one" in page.text and "two" in page.text  # the search dropped, the rest applied


def test_user_text_is_isolated_from_the_page_around_it(api, admin):
    name, description = "\u05e9\u05e8\u05ea-1", "\u05e9\u05dc\u05d5\u05dd 42"
    body = {"name": name, "host": "127.0.0.1", "description": description, "labels": {"k": "v"}}
    created = api.post("/destinations", json=body).json
    job = {"name": name, "collector": "ping", "interval_s": 60, "destinations": [created["id"]]}
    job_id = api.post("/jobs", json=job).json["id"]
    for page in ("/destinations", "/jobs", f"/jobs/{job_id}"):
        assert f"<bdi>{name}</bdi>" in admin.get(page).text, page
    detail = admin.get(f"/destinations/{created['id']}").text
    assert f'<h1 class="h3 mb-0 text-truncate" dir="auto">{name}</h1>' in detail
    assert f'dir="auto">{description}</p>' in detail
    assert "<bdi>k=v</bdi>" in detail or "<bdi>k: v</bdi>" in detail or "<bdi>k:v</bdi>" in detail
    assert f"<bdi>{ADMIN}</bdi>" in detail
