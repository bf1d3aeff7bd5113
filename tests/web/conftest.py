"""Web UI fixtures: browsers simulated by Flask's test client, logged in as admin or viewer."""

from __future__ import annotations

import html
import re

import pytest

from netstats.auth import create_user
from netstats.db import db

PASSWORD = "correct horse battery"
# Not "admin" and "viewer": the API fixtures of tests/conftest.py create those.
ADMIN, VIEWER = "ada", "vic"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class WebClient:
    """The test client as a browser: keeps its cookies, reads the CSRF token off the pages."""

    def __init__(self, client):
        self.client = client

    def csrf_token(self) -> str:
        page = self.client.get("/login")
        if page.status_code == 302:  # logged in already: any page carries the token
            page = self.client.get("/reports")
        return CSRF_META.search(page.text).group(1)

    def login(self, name: str, password: str = PASSWORD):
        return self.post("/login", {"name": name, "password": password})

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, csrf: bool = True, **kwargs):
        """A form post, with the page's CSRF token unless told otherwise."""
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf_token())
        return self.client.post(path, data=form, **kwargs)

    def api(self, method: str, path: str, json=None, csrf: bool = True):
        """A call of the page script's kind: session cookie, JSON, X-CSRFToken."""
        headers = {"X-CSRFToken": self.csrf_token()} if csrf else {}
        return self.client.open("/api/v1" + path, method=method, json=json, headers=headers)


@pytest.fixture
def accounts(app) -> None:
    with app.app_context():
        create_user(ADMIN, PASSWORD, admin=True)
        create_user(VIEWER, PASSWORD)
        db.session.commit()


@pytest.fixture
def anonymous(app, accounts) -> WebClient:
    return WebClient(app.test_client())


@pytest.fixture
def admin(app, accounts) -> WebClient:
    web = WebClient(app.test_client())
    assert web.login(ADMIN).status_code == 302
    return web


@pytest.fixture
def viewer(app, accounts) -> WebClient:
    web = WebClient(app.test_client())
    assert web.login(VIEWER).status_code == 302
    return web


def error_for(page: str, field: str) -> str:
    """The text of the inline error shown for ``field`` on a form page."""
    match = re.search(rf'data-error-for="{re.escape(field)}"[^>]*>([^<]*)<', page)
    assert match, f"no error element for {field}"
    return html.unescape(match.group(1).strip())
