"""The event log: what happened, appended in the same transaction as the data it announces.

Live pages follow it (Server-Sent Events, ``netstats.live``); its ids are the events' ids on
the stream, and a reader that has seen id N asks for ``id > N``. That is only safe if ids
become visible in the order they were assigned. On SQLite one writer at a time makes it so.
On PostgreSQL a sequence value is drawn at insert but becomes visible at commit, so two
writers can commit 101 before 100, and a reader that saw 101 skips 100 forever. Here every
event of a transaction is inserted at its commit, as its last statement, under a
transaction-level advisory lock: ids are then drawn in commit order (the lock is released
after the commit is visible). ``NOTIFY netstats_events`` in the same transaction wakes the
listeners when it commits; with a Redis queue and no PostgreSQL, the writer publishes to
Redis after the commit instead.

Every kind and payload is documented in docs/live.md.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session, SessionTransaction

from netstats.db import db
from netstats.models import Event

log = logging.getLogger(__name__)

KINDS = ("run", "run_started", "job", "destination", "route_change")
# LISTEN/NOTIFY channel on PostgreSQL.
CHANNEL = "netstats_events"
# pg_advisory_xact_lock key: the bytes of "netstats" as a signed 64-bit integer.
LOCK_KEY = int.from_bytes(b"netstats", "big")
# Tests turn the lock off to show what it prevents (tests/test_event_order.py).
_COMMIT_ORDER_LOCK = True

_PENDING = "netstats_events_pending"
_WRITTEN = "netstats_events_written"
_EXTENSION = "netstats_events_redis"


def append(kind: str, payload: dict[str, Any], at: datetime) -> None:
    """Append one event of ``kind`` to the log, in the caller's transaction.

    The row is inserted when that transaction commits (a savepoint rolled back drops the
    events appended inside it); the caller commits as usual.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}; known: {', '.join(KINDS)}")
    session = db.session()
    tag = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append(
        (tag, {"kind": kind, "created_at": at, "payload": payload})
    )


def wakeup_channel(config) -> str:
    """How listeners learn of new events: ``listen`` (PostgreSQL NOTIFY), ``redis`` (pub/sub
    beside a Redis queue) or ``poll`` (SQLite alone)."""
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return "listen"
    huey_url = config.get("HUEY_URL") or ""
    # The schemes of a RedisHuey queue (netstats.engine.queue, which imports this module's
    # writers and so cannot be imported here).
    if huey_url.split(":", 1)[0] in ("redis", "rediss", "unix"):
        return "redis"
    return "poll"


def redis_channel(config) -> str:
    """The Redis pub/sub channel of this installation (one per queue name)."""
    return f"netstats.events.{config['HUEY_NAME']}"


def _write_pending(session: Session) -> None:
    """At the commit of the outermost transaction: the pending events, last, under the lock."""
    if session.get_nested_transaction() is not None:
        return  # a savepoint is released: its events wait for the outer commit
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()  # every other row first, so that nothing is drawn after the lock
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql and _COMMIT_ORDER_LOCK:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    session.execute(insert(Event), [row for _, row in pending])
    if postgresql:
        session.execute(text(f"NOTIFY {CHANNEL}"))
    session.info[_WRITTEN] = True


def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    """A rolled-back savepoint takes the events appended inside it along."""
    pending = session.info.get(_PENDING)
    if not pending or not previous.nested:
        return
    session.info[_PENDING] = [(tag, row) for tag, row in pending if not _within(tag, previous)]


def _within(tag: SessionTransaction | None, transaction: SessionTransaction) -> bool:
    while tag is not None:
        if tag is transaction:
            return True
        tag = tag.parent
    return False


def _end_of_transaction(session: Session, transaction: SessionTransaction) -> None:
    """The outermost transaction ended: whatever was not committed with it is gone."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_WRITTEN, None)


def _publish_committed(session: Session) -> None:
    """After a commit that wrote events: tell the Redis subscribers (when Redis wakes them).

    A failed publish is logged and costs only latency: listeners query the log every few
    seconds whatever they hear.
    """
    if not session.info.pop(_WRITTEN, False):
        return
    app = current_app._get_current_object()
    publisher = app.extensions.get(_EXTENSION)
    if publisher is None:
        return
    try:
        publisher.publish(redis_channel(app.config), "1")
    except Exception as exc:
        log.warning("could not publish new events to Redis: %s", exc)


def init_app(app: Flask) -> None:
    """Write pending events at each commit, and publish them when Redis wakes listeners."""
    if wakeup_channel(app.config) == "redis":
        import redis

        app.extensions[_EXTENSION] = redis.Redis.from_url(
            app.config["HUEY_URL"], socket_timeout=2, socket_connect_timeout=2
        )
    for name, listener in (
        ("before_commit", _write_pending),
        ("after_soft_rollback", _drop_rolled_back),
        ("after_transaction_end", _end_of_transaction),
        ("after_commit", _publish_committed),
    ):
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)
