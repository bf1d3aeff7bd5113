"""CSRF: forms need their token, and so do API calls that ride on the login session."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from netstats.db import db
from netstats.models import Destination


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Destination))


def test_a_session_api_post_without_the_token_is_refused_and_changes_nothing(app, admin):
    response = admin.api("POST", "/destinations", {"name": "x", "host": "127.0.0.1"}, csrf=False)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "csrf_failed"
    assert "X-CSRFToken" in response.json["error"]["message"]
    assert _count(app) == 0


def test_a_session_api_post_with_the_token_is_accepted(app, admin):
    response = admin.api("POST", "/destinations", {"name": "x", "host": "127.0.0.1"})
    assert response.status_code == 201
    assert _count(app) == 1


def test_a_forged_token_is_refused(app, admin):
    response = admin.client.post(
        "/api/v1/destinations",
        json={"name": "x", "host": "127.0.0.1"},
        headers={"X-CSRFToken": "forged"},
    )
    assert response.status_code == 403
    assert _count(app) == 0


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_session_changes_of_every_kind_need_the_token(app, admin, method):
    created = admin.api("POST", "/destinations", {"name": "x", "host": "127.0.0.1"}).json
    response = admin.api(method, f"/destinations/{created['id']}", {"host": "::1"}, csrf=False)
    assert response.status_code == 403
    assert admin.api("GET", f"/destinations/{created['id']}", csrf=False).json["host"] == (
        "127.0.0.1"
    )


def test_session_reads_need_no_token(admin):
    assert admin.api("GET", "/destinations", csrf=False).status_code == 200


def test_bearer_token_calls_need_no_csrf_token(app, api):
    assert api.post("/destinations", json={"name": "x", "host": "127.0.0.1"}).status_code == 201
    assert _count(app) == 1


def test_a_form_posted_without_its_token_is_refused_and_changes_nothing(app, admin):
    form = {"name": "x", "host": "127.0.0.1", "family": "any"}
    response = admin.post("/destinations/new", form, csrf=False)
    assert response.status_code == 400
    assert "CSRF token is missing. Go back, reload the page" in response.text
    assert _count(app) == 0


def test_the_login_form_needs_its_token_too(anonymous):
    response = anonymous.post("/login", {"name": "admin", "password": "x"}, csrf=False)
    assert response.status_code == 400
