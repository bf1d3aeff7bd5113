"""netstats users / tokens: accounts and API tokens from the command line."""

from __future__ import annotations

from sqlalchemy import select

from netstats.auth import hash_token
from netstats.db import db
from netstats.models import ApiToken, User


def test_create_admin_with_password_from_stdin(runner, app):
    result = runner.invoke(
        args=["users", "create", "ops", "--admin", "--password-stdin"], input="long enough secret\n"
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User))
        assert user.is_admin and user.password_hash != "long enough secret"


def test_create_user_prompts_for_password_twice(runner, app):
    result = runner.invoke(
        args=["users", "create", "viewer"], input="a good password\na good password\n"
    )
    assert result.exit_code == 0, result.output
    assert "viewer viewer" in result.output.replace("Created ", "")


def test_short_password_and_duplicate_user_are_refused(runner):
    assert (
        runner.invoke(args=["users", "create", "x", "--password-stdin"], input="short\n").exit_code
        == 1
    )
    runner.invoke(args=["users", "create", "x", "--password-stdin"], input="long password\n")
    again = runner.invoke(
        args=["users", "create", "x", "--password-stdin"], input="long password\n"
    )
    assert again.exit_code == 1 and "already exists" in again.output


def test_token_is_printed_once_and_stored_hashed(runner, app, client):
    runner.invoke(
        args=["users", "create", "ops", "--admin", "--password-stdin"], input="long password\n"
    )
    result = runner.invoke(args=["tokens", "create", "ops", "--scope", "write", "--name", "ci"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    with app.app_context():
        token = db.session.scalar(select(ApiToken))
        assert token.token_hash == hash_token(secret) and secret not in token.token_hash
    assert (
        client.get(
            "/api/v1/destinations", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 200
    )
    listing = runner.invoke(args=["tokens", "list"]).output
    assert "ops" in listing and "ci" in listing and secret not in listing


def test_write_token_needs_an_admin(runner):
    runner.invoke(args=["users", "create", "viewer", "--password-stdin"], input="long password\n")
    result = runner.invoke(args=["tokens", "create", "viewer", "--scope", "write"])
    assert result.exit_code == 1 and "not an admin" in result.output


def test_revoked_token_is_refused(runner, client):
    runner.invoke(
        args=["users", "create", "ops", "--admin", "--password-stdin"], input="long password\n"
    )
    secret = runner.invoke(args=["tokens", "create", "ops"]).stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/destinations", headers=headers).status_code == 200
    assert runner.invoke(args=["tokens", "revoke", "1"]).exit_code == 0
    assert client.get("/api/v1/destinations", headers=headers).status_code == 401
    assert runner.invoke(args=["tokens", "revoke", "99"]).exit_code == 1


def test_passwd_replaces_the_password(runner, app):
    from netstats.auth import check_password

    runner.invoke(args=["users", "create", "ops", "--password-stdin"], input="first password\n")
    result = runner.invoke(
        args=["users", "passwd", "ops", "--password-stdin"], input="second password\n"
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User))
        assert check_password(user, "second password") and not check_password(
            user, "first password"
        )
    assert (
        runner.invoke(
            args=["users", "passwd", "nobody", "--password-stdin"], input="x" * 9
        ).exit_code
        == 1
    )
