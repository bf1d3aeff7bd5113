"""Login sessions that end: logout, password and role changes, disabled users, cookies.

A captured cookie is replayed in a fresh test client, as an attacker holding a copy would
use it: the session cookie alone, or the remember cookie alone.
"""

from __future__ import annotations

import pytest

from netstats.auth import create_token
from netstats.db import db
from tests.web.conftest import ADMIN, PASSWORD, VIEWER, WebClient

SESSION, REMEMBER = "session", "remember_token"


def _logged_in(app, name: str = ADMIN, remember: bool = False) -> WebClient:
    web = WebClient(app.test_client())
    form = {"name": name, "password": PASSWORD}
    if remember:
        form["remember"] = "on"
    assert web.post("/login", form).status_code == 302
    return web


def _captured(web: WebClient, name: str) -> str:
    cookie = web.client.get_cookie(name)
    assert cookie is not None, f"no {name} cookie"
    return cookie.value


def _replayed(app, name: str, value: str) -> WebClient:
    client = app.test_client()
    client.set_cookie(name, value)
    return WebClient(client)


def _lets_in(web: WebClient) -> bool:
    response = web.get("/jobs")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_logout_ends_that_session_for_a_captured_cookie_too(app, accounts):
    web = _logged_in(app)
    captured = _captured(web, SESSION)
    assert _lets_in(_replayed(app, SESSION, captured))
    assert web.post("/logout").status_code == 302
    assert not _lets_in(_replayed(app, SESSION, captured))
    api = _replayed(app, SESSION, captured).client.get("/api/v1/destinations")
    assert api.status_code == 401


def test_logout_ends_the_remember_token_of_that_session(app, accounts):
    web = _logged_in(app, remember=True)
    token = _captured(web, REMEMBER)
    assert _lets_in(_replayed(app, REMEMBER, token))  # a new browser session, remembered
    web.post("/logout")
    assert not _lets_in(_replayed(app, REMEMBER, token))


def test_logout_leaves_the_other_sessions_of_the_user_alone(app, accounts):
    laptop, phone = _logged_in(app), _logged_in(app, remember=True)
    laptop.post("/logout")
    assert not _lets_in(laptop)
    assert _lets_in(phone)
    assert _lets_in(_replayed(app, REMEMBER, _captured(phone, REMEMBER)))


def _every_cookie(app, name: str) -> list[WebClient]:
    """Two sessions of ``name``, one remembered, as three captured cookies."""
    plain, remembered = _logged_in(app, name), _logged_in(app, name, remember=True)
    return [
        _replayed(app, SESSION, _captured(plain, SESSION)),
        _replayed(app, SESSION, _captured(remembered, SESSION)),
        _replayed(app, REMEMBER, _captured(remembered, REMEMBER)),
    ]


@pytest.mark.parametrize(
    "command, stdin",
    [
        (["users", "passwd", VIEWER, "--password-stdin"], "a brand new password\n"),
        (["users", "role", VIEWER, "admin"], None),
        (["users", "disable", VIEWER], None),
        (["users", "logout", VIEWER], None),
    ],
    ids=["passwd", "role", "disable", "logout"],
)
def test_a_change_of_password_or_role_disabling_or_logout_ends_every_session(
    app, accounts, runner, command, stdin
):
    cookies = _every_cookie(app, VIEWER)
    others = _logged_in(app, ADMIN)
    assert all(_lets_in(web) for web in cookies)
    result = runner.invoke(args=command, input=stdin)
    assert result.exit_code == 0, result.output
    assert not any(_lets_in(web) for web in cookies)
    assert _lets_in(others)  # another user's session is untouched


def test_users_logout_says_how_many_sessions_it_ended(app, accounts, runner):
    _logged_in(app, VIEWER), _logged_in(app, VIEWER, remember=True)
    result = runner.invoke(args=["users", "logout", VIEWER])
    assert result.exit_code == 0 and "Ended 2 sessions of vic." in result.output
    assert runner.invoke(args=["users", "logout", "nobody"]).exit_code == 1


def test_an_unchanged_role_ends_nothing(app, accounts, runner):
    web = _logged_in(app, VIEWER)
    assert runner.invoke(args=["users", "role", VIEWER, "viewer"]).exit_code == 0
    assert _lets_in(web)


def test_a_disabled_user_cannot_log_in_nor_use_tokens_until_enabled(app, accounts, runner):
    with app.app_context():
        from netstats.auth import get_user

        _, secret = create_token(get_user(ADMIN), scope="write")
        db.session.commit()
    bearer = {"Authorization": f"Bearer {secret}"}
    client = app.test_client()
    assert client.get("/api/v1/destinations", headers=bearer).status_code == 200

    assert runner.invoke(args=["users", "disable", ADMIN]).exit_code == 0
    refused = WebClient(app.test_client()).login(ADMIN)
    assert refused.status_code == 403 and "This account is disabled" in refused.text
    assert client.get("/api/v1/destinations", headers=bearer).status_code == 401
    assert "disabled" in runner.invoke(args=["users", "list"]).output

    assert runner.invoke(args=["users", "enable", ADMIN]).exit_code == 0
    assert WebClient(app.test_client()).login(ADMIN).status_code == 302
    assert client.get("/api/v1/destinations", headers=bearer).status_code == 200


def _set_cookies(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_login_cookies_are_httponly_and_samesite_lax(app, accounts):
    web = WebClient(app.test_client())
    response = web.post("/login", {"name": ADMIN, "password": PASSWORD, "remember": "on"})
    cookies = _set_cookies(response)
    for name in (SESSION, REMEMBER):
        assert "HttpOnly" in cookies[name] and "SameSite=Lax" in cookies[name], cookies[name]
        assert "Secure" not in cookies[name]


def test_login_cookies_are_secure_when_the_settings_say_so(app, accounts):
    app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    web = WebClient(app.test_client())
    response = web.post(
        "/login",
        {"name": ADMIN, "password": PASSWORD, "remember": "on"},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},  # Flask-WTF checks it over HTTPS
    )
    cookies = _set_cookies(response)
    for name in (SESSION, REMEMBER):
        assert "Secure" in cookies[name] and "SameSite=Lax" in cookies[name], cookies[name]
