"""The login rate limit, kept in the database so that every web process shares it.

Failed logins are counted over a sliding window twice: per account name as typed (guessing
one account's password) and per client address (trying many accounts). When either count
reaches its limit, further attempts are refused, without checking the password, until the
oldest counted failure leaves the window. A successful login clears its name's failures.
Defaults: 5 failures per name and 20 per address in 15 minutes (settings below).

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


def _keys(name: str, address: str) -> list[tuple[str, int]]:
    config = current_app.config
    return [
        (f"name:{name}"[:_KEY_LENGTH], int(config["LOGIN_MAX_FAILURES_PER_NAME"])),
        (f"addr:{address}"[:_KEY_LENGTH], int(config["LOGIN_MAX_FAILURES_PER_ADDRESS"])),
    ]


def _window() -> timedelta:
    return timedelta(seconds=float(current_app.config["LOGIN_FAILURE_WINDOW_S"]))


def retry_after(name: str, address: str, now: datetime | None = None) -> int:
    """Seconds until a login for ``name`` from ``address`` may be tried again; 0 means now."""
    now = now or utcnow()
    since = now - _window()
    wait = 0.0
    for key, limit in _keys(name, address):
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
    return math.ceil(wait)


def record_failure(name: str, address: str) -> None:
    """Count a failed login; drop this name's and address's failures that left the window."""
    now = utcnow()
    keys = [key for key, _ in _keys(name, address)]
    db.session.execute(
        delete(LoginFailure).where(LoginFailure.key.in_(keys), LoginFailure.at <= now - _window())
    )
    db.session.add_all(LoginFailure(key=key, at=now) for key in keys)


def clear_failures(name: str) -> None:
    """Forget the failures of ``name`` after a successful login (not those of the address)."""
    key = _keys(name, "")[0][0]
    db.session.execute(delete(LoginFailure).where(LoginFailure.key == key))
