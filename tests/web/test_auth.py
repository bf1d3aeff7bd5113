"""Login, logout, the login rule for every page, and the login rate limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from netstats.app import create_app
from netstats.db import db, utcnow
from netstats.models import LoginFailure
from tests.web.conftest import ADMIN, PASSWORD, VIEWER, WebClient


def _page_urls(app) -> list[str]:
    """Every GET page of the web UI, with 1 for each id."""
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("web.") and "GET" in rule.methods:
            values = {arg: 1 for arg in rule.arguments}
            with app.test_request_context():
                from flask import url_for

                urls.append(url_for(rule.endpoint, **values))
    return urls


def test_every_page_needs_a_login_except_the_login_page_and_static_files(app, anonymous):
    urls = _page_urls(app)
    assert {"/", "/destinations", "/jobs", "/reports", "/jobs/1/runs"} <= set(urls)
    for url in urls:
        response = anonymous.get(url)
        if url == "/login":
            assert response.status_code == 200
        else:
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith("/login?next="), url
    assert anonymous.get("/static/css/app.css").status_code == 200
    assert anonymous.get("/no/such/page").headers["Location"].startswith("/login")


def test_login_returns_to_the_page_asked_for_and_logout_ends_the_session(anonymous):
    assert anonymous.get("/jobs").headers["Location"] == "/login?next=%2Fjobs"
    response = anonymous.post("/login", {"name": ADMIN, "password": PASSWORD, "next": "/jobs"})
    assert response.headers["Location"] == "/jobs"
    assert anonymous.get("/jobs").status_code == 200

    assert anonymous.get("/logout").status_code == 405  # a link cannot log anybody out
    assert anonymous.post("/logout").status_code == 302
    assert anonymous.get("/jobs").status_code == 302


def test_a_wrong_password_is_refused_and_opens_no_session(anonymous):
    response = anonymous.login(ADMIN, "wrong password")
    assert response.status_code == 401
    assert "Wrong name or password." in response.text
    assert anonymous.login("nobody", PASSWORD).status_code == 401
    assert anonymous.get("/").status_code == 302


@pytest.mark.parametrize("target", ["https://elsewhere.example/", "//elsewhere.example/", "/\\x"])
def test_login_never_sends_the_user_to_another_site(anonymous, target):
    response = anonymous.post("/login", {"name": ADMIN, "password": PASSWORD, "next": target})
    assert response.headers["Location"] == "/"


def test_five_failures_for_a_name_from_one_address_lock_that_address_out_of_it(anonymous):
    for _ in range(5):
        assert anonymous.login(ADMIN, "guess").status_code == 401
    locked = anonymous.login(ADMIN, PASSWORD)
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    assert "Too many failed attempts. Try again in 15 minutes." in locked.text
    assert anonymous.get("/").status_code == 302
    assert WebClient(anonymous.client.application.test_client()).login(VIEWER).status_code == 302


def test_the_limit_is_kept_in_the_database_so_every_process_shares_it(app, anonymous):
    for _ in range(5):
        anonymous.login(ADMIN, "guess")
    # Another app on the same database: another gunicorn worker, another host.
    other = create_app({"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"]})
    assert WebClient(other.test_client()).login(ADMIN).status_code == 429
    with other.app_context():
        db.engine.dispose()


def test_failures_from_one_address_over_many_names_lock_the_address(app, anonymous):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    for name in ("alice", "bob", "carol"):
        anonymous.login(name, "guess")
    assert anonymous.login(ADMIN).status_code == 429
    elsewhere = anonymous.client.application.test_client()
    response = WebClient(elsewhere).post(
        "/login",
        {"name": ADMIN, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "127.0.0.9"},
    )
    assert response.status_code == 302


def test_failures_older_than_the_window_no_longer_count(app, anonymous):
    for _ in range(5):
        anonymous.login(ADMIN, "guess")
    with app.app_context():
        db.session.execute(update(LoginFailure).values(at=utcnow() - timedelta(minutes=16)))
        db.session.commit()
    assert anonymous.login(ADMIN).status_code == 302


def test_a_successful_login_clears_the_failures_of_its_name(anonymous):
    for _ in range(4):
        anonymous.login(ADMIN, "guess")
    assert anonymous.login(ADMIN).status_code == 302
    anonymous.post("/logout")
    for _ in range(4):
        assert anonymous.login(ADMIN, "guess").status_code == 401
    assert anonymous.login(ADMIN).status_code == 302


ATTACKER, OWNER = "127.0.0.66", "127.0.0.1"


def _login_from(app, address: str, name: str = ADMIN, password: str = PASSWORD):
    return WebClient(app.test_client()).post(
        "/login", {"name": name, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def test_the_owner_logs_in_from_another_address_despite_an_attackers_failures(app, accounts):
    for _ in range(5):
        assert _login_from(app, ATTACKER, password="guess").status_code == 401
    assert _login_from(app, ATTACKER).status_code == 429  # the right password, from there
    assert _login_from(app, OWNER).status_code == 302


def test_an_attackers_address_is_limited_per_name_and_over_all_names(app, accounts):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 8
    for _ in range(5):
        _login_from(app, ATTACKER, password="guess")
    refused = _login_from(app, ATTACKER, password="guess")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 800
    for name in ("alice", "bob", "carol"):
        assert _login_from(app, ATTACKER, name, "guess").status_code == 401
    assert _login_from(app, ATTACKER, VIEWER).status_code == 429  # 8 failures from there
    assert _login_from(app, "127.0.0.67", VIEWER).status_code == 302


def _earlier(app, seconds: int) -> None:
    """Move every counted failure back in time, as if ``seconds`` had passed."""
    with app.app_context():
        for failure in db.session.scalars(select(LoginFailure)):
            failure.at -= timedelta(seconds=seconds)
        db.session.commit()


def test_failures_for_a_name_from_many_addresses_slow_it_down_progressively(app, accounts):
    app.config["LOGIN_NAME_DELAY_MAX_S"] = 60
    for i in range(5):  # five free failures, each from another address
        assert _login_from(app, f"127.0.1.{i}", password="guess").status_code == 401
    waits = []
    for i in range(5, 14):
        response = _login_from(app, f"127.0.1.{i}", password="guess")
        if response.status_code == 429:
            waits.append(int(response.headers["Retry-After"]))
            assert "Try again in" in response.text
            _earlier(app, waits[-1])
            response = _login_from(app, f"127.0.1.{i}", password="guess")
        assert response.status_code == 401
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]

    # The owner waits too, but only that long: it is slowed down, never locked out.
    waiting = _login_from(app, OWNER)
    assert waiting.status_code == 429 and int(waiting.headers["Retry-After"]) == 60
    _earlier(app, 60)
    assert _login_from(app, OWNER).status_code == 302
    assert _login_from(app, "127.0.1.99", password="guess").status_code == 401  # cleared
