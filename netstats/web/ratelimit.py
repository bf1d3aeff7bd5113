"""The login rate limit, kept in the database so that every web process shares it.

Failed logins are counted over a sliding window three ways, so that guessing is slow and
nobody can lock an account's owner out:

- per account name and client address: one address guessing one account's password is
  refused for that name, even with the right password, once it reaches its limit, until
  the oldest counted failure leaves the window;
- per client address over all names: one address trying many accounts is refused alike;
- per account name from anywhere: never refused outright, only slowed down. Past a number
  of free failures each further attempt for the name waits after the last failure, 1 s,
  then twice as long per failure, up to a maximum. Many addresses guessing together get
  one try per that maximum, and the owner waits at most that long.

A refused attempt is not checked nor counted. A successful login clears its name's
failures and those of its name from its address (not the other addresses' failures).
Defaults (settings below): 5 failures per name and address, 20 per address in 15 minutes;
5 free failures per name, then waits of up to 60 s.

Two attempts at the same instant may both pass the check, so a burst can exceed the limit
by the number of requests in flight; on SQLite a login POST holds the write lock from its
first statement, which serialises them. Behind a reverse proxy, the client address is the
proxy's unless the app is wrapped in Werkzeug's ``ProxyFix``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from netstats.db import db, utcnow
from netstats.models import LoginFailure

_KEY_LENGTH = LoginFailure.__table__.c.key.type.length


def _name_key(name: str) -> str:
    return f"name:{name}"[:_KEY_LENGTH]


def _limited_keys(name: str, address: str) -> list[tuple[str, int]]:
    """The keys whose failures lock out, each with its limit."""
    config = current_app.config
    return [
        (
            f"pair:{address} {name}"[:_KEY_LENGTH],
            int(config["LOGIN_MAX_FAILURES_PER_NAME_AND_ADDRESS"]),
        ),
        (f"addr:{address}"[:_KEY_LENGTH], int(config["LOGIN_MAX_FAILURES_PER_ADDRESS"])),
    ]


def _window() -> timedelta:
    return timedelta(seconds=float(current_app.config["LOGIN_FAILURE_WINDOW_S"]))


def name_delay(failures: int) -> float:
    """Seconds an attempt for a name waits after its last failure, given its failures in
    the window: none while free, then 1, 2, 4... up to ``LOGIN_NAME_DELAY_MAX_S``."""
    config = current_app.config
    beyond = failures - int(config["LOGIN_MAX_FAILURES_PER_NAME"])
    if beyond <= 0:
        return 0.0
    return min(float(config["LOGIN_NAME_DELAY_MAX_S"]), 2.0 ** min(beyond - 1, 30))


def retry_after(name: str, address: str, now: datetime | None = None) -> int:
    """Seconds until a login for ``name`` from ``address`` may be tried again; 0 means now."""
    now = now or utcnow()
    since = now - _window()
    wait = 0.0
    for key, limit in _limited_keys(name, address):
        recent = (
            select(LoginFailure.at)
            .where(LoginFailure.key == key, LoginFailure.at > since)
            .order_by(LoginFailure.at.desc())
            .limit(limit)
            .subquery()
        )
        count, oldest = db.session.execute(select(func.count(), func.min(recent.c.at))).one()
        if count >= limit:
            wait = max(wait, (oldest + _window() - now).total_seconds())
    count, last = db.session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(
            LoginFailure.key == _name_key(name), LoginFailure.at > since
        )
    ).one()
    delay = name_delay(count)
    if delay:
        wait = max(wait, (last + timedelta(seconds=delay) - now).total_seconds())
    return math.ceil(wait)


def record_failure(name: str, address: str) -> None:
    """Count a failed login; drop this name's and address's failures that left the window."""
    now = utcnow()
    keys = [_name_key(name)] + [key for key, _ in _limited_keys(name, address)]
    db.session.execute(
        delete(LoginFailure).where(LoginFailure.key.in_(keys), LoginFailure.at <= now - _window())
    )
    db.session.add_all(LoginFailure(key=key, at=now) for key in keys)


def clear_failures(name: str, address: str) -> None:
    """Forget the failures of ``name``, and of ``name`` from ``address``, after a
    successful login from there (not those of the address over other names)."""
    keys = [_name_key(name), _limited_keys(name, address)[0][0]]
    db.session.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys)))
