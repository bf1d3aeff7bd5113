"""``netstats users`` and ``netstats tokens``: accounts and API tokens."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

users = AppGroup("users", help="Manage user accounts.")
tokens = AppGroup("tokens", help="Manage API tokens.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May change data (otherwise a viewer).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(name: str, admin: bool, password_stdin: bool) -> None:
    """Create user NAME; the password comes from a prompt or standard input."""
    from netstats.auth import create_user
    from netstats.db import write_transaction

    password = _read_password(password_stdin)
    with write_transaction():
        user = create_user(name, password, admin=admin)
    click.echo(f"Created {'admin' if user.is_admin else 'viewer'} {user.name}.")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_passwd(name: str, password_stdin: bool) -> None:
    """Set a new password for user NAME."""
    from netstats.auth import get_user, set_password
    from netstats.db import write_transaction

    password = _read_password(password_stdin)
    with write_transaction():
        set_password(get_user(name), password)
    click.echo(f"Password of {name} changed; its sessions ended.")


@users.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["admin", "viewer"]))
def users_role(name: str, role: str) -> None:
    """Make user NAME an admin or a viewer; a change ends the user's sessions."""
    from netstats.auth import get_user, set_role
    from netstats.db import write_transaction

    with write_transaction():
        changed = set_role(get_user(name), role == "admin")
    article = "an" if role == "admin" else "a"
    if changed:
        click.echo(f"{name} is now {article} {role}; its sessions ended.")
    else:
        click.echo(f"{name} is already {article} {role}.")


@users.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Disable user NAME: no login, its sessions end, its tokens are refused until enabled."""
    _set_enabled(name, False)
    click.echo(f"Disabled {name}; its sessions ended and its tokens are refused.")


@users.command("enable")
@click.argument("name")
def users_enable(name: str) -> None:
    """Enable user NAME again (its unrevoked tokens work again)."""
    _set_enabled(name, True)
    click.echo(f"Enabled {name}.")


def _set_enabled(name: str, enabled: bool) -> None:
    from netstats.auth import get_user, set_enabled
    from netstats.db import write_transaction

    with write_transaction():
        set_enabled(get_user(name), enabled)


@users.command("logout")
@click.argument("name")
def users_logout(name: str) -> None:
    """End every login session of user NAME, remembered ones included (not its tokens)."""
    from netstats.auth import end_all_sessions, get_user
    from netstats.db import write_transaction

    with write_transaction():
        ended = end_all_sessions(get_user(name))
    click.echo(f"Ended {ended} session{'s' * (ended != 1)} of {name}.")


@users.command("list")
def users_list() -> None:
    """List users: name, role, and whether disabled."""
    from sqlalchemy import select

    from netstats.db import db
    from netstats.models import User

    for user in db.session.scalars(select(User).order_by(User.name)):
        state = "" if user.enabled else "\tdisabled"
        click.echo(f"{user.name}\t{'admin' if user.is_admin else 'viewer'}{state}")


@tokens.command("create")
@click.argument("user")
@click.option("--scope", type=click.Choice(["read", "write"]), default="read", show_default=True)
@click.option("--name", "label", default="", help="A label to tell tokens apart.")
def tokens_create(user: str, scope: str, label: str) -> None:
    """Issue an API token for USER and print it once."""
    from netstats.auth import create_token, get_user
    from netstats.db import write_transaction

    with write_transaction():
        token, secret = create_token(get_user(user), scope=scope, name=label)
    click.echo(f"Token {token.id} ({scope}) for {user}; it is shown only now:", err=True)
    click.echo(secret)


@tokens.command("list")
@click.option("--user", help="Only this user's tokens.")
def tokens_list(user: str | None) -> None:
    """List tokens (never their secrets)."""
    from sqlalchemy import select

    from netstats.db import db
    from netstats.models import ApiToken, User

    stmt = select(ApiToken).join(ApiToken.user).order_by(ApiToken.id)
    if user:
        stmt = stmt.where(User.name == user)
    click.echo("id\tuser\tscope\tprefix\tname\tcreated\tlast used\trevoked")
    for t in db.session.scalars(stmt):
        click.echo(
            "\t".join(
                str(v) if v is not None else "-"
                for v in (
                    t.id,
                    t.user.name,
                    t.scope,
                    t.prefix + "...",
                    t.name or "-",
                    t.created_at.isoformat(timespec="seconds"),
                    t.last_used_at and t.last_used_at.isoformat(timespec="seconds"),
                    t.revoked_at and t.revoked_at.isoformat(timespec="seconds"),
                )
            )
        )


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID (see ``tokens list``); it stops working at once."""
    from netstats.auth import revoke_token
    from netstats.db import write_transaction

    with write_transaction():
        revoke_token(token_id)
    click.echo(f"Revoked token {token_id}.")
