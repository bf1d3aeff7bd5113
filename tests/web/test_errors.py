"""Error pages share the look of the app; the API keeps its JSON errors."""

from __future__ import annotations

import pytest

from netstats.app import create_app
from netstats.auth import create_user
from netstats.db import db
from tests.web.conftest import WebClient


def _in_the_look(page: str) -> bool:
    return 'class="navbar navbar-expand-md navbar-dark app-navbar"' in page and "app.css" in page


def test_an_unknown_page_is_a_404_page_in_the_look_of_the_app(admin):
    response = admin.get("/no/such/page")
    assert response.status_code == 404
    assert _in_the_look(response.text) and "Page not found" in response.text


def test_a_missing_destination_or_job_is_a_404_page(admin):
    for url in ("/destinations/999", "/jobs/999/edit"):
        response = admin.get(url)
        assert response.status_code == 404
        assert _in_the_look(response.text)
    assert "No destination 999." in admin.get("/destinations/999").text


def test_a_viewer_meets_a_403_page(viewer):
    response = viewer.get("/jobs/new")
    assert response.status_code == 403
    assert _in_the_look(response.text) and "Not allowed" in response.text


def test_a_crash_is_a_500_page_that_tells_nothing_of_the_inside(database_url, instance_path):
    app = create_app({"TESTING": False, "DATABASE_URL": database_url})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail")

    client = WebClient(app.test_client())
    with app.app_context():
        create_user("crash", "correct horse battery", admin=True)
        db.session.commit()
    client.login("crash")
    response = client.get("/boom")
    assert response.status_code == 500
    assert _in_the_look(response.text) and "Something went wrong" in response.text
    assert "secret detail" not in response.text and "Traceback" not in response.text
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("url", ["/api/v1/nothing", "/api/v1/destinations/999"])
def test_the_api_keeps_json_errors(admin, url):
    response = admin.get(url)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_pages_forbid_foreign_scripts_and_framing(admin):
    policy = admin.get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy


def test_a_405_page_keeps_its_allow_header(admin):
    page = admin.client.open("/destinations/new", method="PUT")
    assert page.status_code == 405 and page.headers["Content-Type"].startswith("text/html")
    assert {"GET", "POST"} <= set(page.headers["Allow"].split(", "))
