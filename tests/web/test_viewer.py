"""A viewer sees every page and can change nothing, through pages or the API."""

from __future__ import annotations

import pytest
from flask import url_for
from sqlalchemy import func, select

from netstats.db import db
from netstats.models import Destination, Job


@pytest.fixture
def things(api) -> tuple[int, int]:
    destination = api.post("/destinations", json={"name": "loop", "host": "127.0.0.1"}).json
    job = api.post(
        "/jobs",
        json={
            "name": "pinger",
            "collector": "ping",
            "interval_s": 60,
            "destinations": [destination["id"]],
        },
    ).json
    return destination["id"], job["id"]


def _urls(app, method: str, ids: dict[str, int]) -> list[str]:
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("web.") and method in rule.methods:
                # The reports' downloads are files, not pages (tests/web/test_reports.py).
                skipped = ("web.auth.login", "web.auth.logout", "web.reports.file")
                if rule.endpoint in (*skipped, "web.reports.download"):
                    continue
                if "action" in rule.arguments:
                    urls += [url_for(rule.endpoint, **ids, action=a) for a in ("pause", "run")]
                else:
                    urls.append(url_for(rule.endpoint, **{k: ids[k] for k in rule.arguments}))
    return urls


def _counts(app) -> tuple[int, int, int]:
    with app.app_context():
        job = db.session.scalar(select(Job))
        count = db.session.scalar(select(func.count()).select_from(Destination))
        return count, job.version, int(job.paused)


def test_a_viewer_reads_every_page_without_a_way_to_change_anything(app, api, viewer, things):
    destination_id, job_id = things
    run_id = api.post(f"/jobs/{job_id}/run").json["id"]  # a scheduled run: its page too
    ids = {"destination_id": destination_id, "job_id": job_id, "run_id": run_id}
    for url in _urls(app, "GET", ids):
        response = viewer.get(url)
        if url.endswith(("/new", "/edit", "/delete")):
            assert response.status_code == 403, url
            assert "Only an admin can change this" in response.text
            continue
        assert response.status_code == 200, url
        page = response.text
        for control in (
            'href="/destinations/new"',
            'href="/jobs/new"',
            '/edit"',
            '/delete"',
            "data-probe=",
            "data-api-action",
            'method="post" action="/jobs',
        ):
            assert control not in page, (url, control)
        assert "read-only" in page or url.endswith("/runs")


def test_every_page_post_of_a_viewer_is_refused_and_changes_nothing(app, viewer, things):
    destination_id, job_id = things
    before = _counts(app)
    posts = _urls(app, "POST", {"destination_id": destination_id, "job_id": job_id})
    assert len(posts) >= 8
    for url in posts:
        response = viewer.post(url, {"name": "x", "host": "::1", "detach": "on"})
        assert response.status_code == 403, url
    assert _counts(app) == before


def test_the_api_refuses_a_viewers_session_writes(app, viewer, things):
    destination_id, job_id = things
    assert viewer.api("POST", f"/jobs/{job_id}/pause").status_code == 403
    assert viewer.api("DELETE", f"/destinations/{destination_id}").status_code == 403
    assert viewer.api("POST", f"/destinations/{destination_id}/probe", {}).status_code == 403
    assert viewer.api("GET", f"/jobs/{job_id}").status_code == 200
    assert _counts(app)[2] == 0
