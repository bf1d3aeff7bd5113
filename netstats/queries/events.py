"""The event log read by id: what came after a client's last event, and where the log starts.

``netstats.live`` serves these to the event streams; ids are commit-ordered (see
``netstats.events``), so "after N" never skips an event that committed later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select, text

from netstats.db import db
from netstats.events import LOCK_KEY
from netstats.models import Event


class LoggedEvent(NamedTuple):
    """One row of the log, as the streams need it."""

    id: int
    kind: str
    created_at: datetime
    payload: dict[str, Any]


def events_after(after: int, limit: int, upto: int | None = None) -> Sequence[LoggedEvent]:
    """At most ``limit`` events with ``after < id <= upto`` (no upper bound if None), by id."""
    stmt = select(Event.id, Event.kind, Event.created_at, Event.payload).where(Event.id > after)
    if upto is not None:
        stmt = stmt.where(Event.id <= upto)
    stmt = stmt.order_by(Event.id).limit(limit)
    return [LoggedEvent(*row) for row in db.session.execute(stmt)]


def newest_event_id() -> int:
    """The id of the newest event kept, 0 when the log is empty."""
    return db.session.scalar(select(func.max(Event.id))) or 0


def oldest_event_id() -> int | None:
    """The id of the oldest event kept (retention deletes the older ones); None if empty."""
    return db.session.scalar(select(func.min(Event.id)))


def log_position() -> int:
    """The id after which the next event comes: the newest id kept or, when retention has
    emptied the log, the last id its counter gave out (0 for a log never written).

    A stream that starts "now" starts here; one that resumes from below it while the log is
    empty has missed events that are gone.
    """
    newest = newest_event_id()
    if newest:
        return newest
    dialect = db.session.get_bind().dialect.name
    if dialect == "sqlite":
        seq = db.session.scalar(text("SELECT seq FROM sqlite_sequence WHERE name = 'events'"))
        return int(seq or 0)
    if dialect == "postgresql":
        # Under the writers' lock (netstats.events) no event insert is in flight, so the
        # sequence says exactly how far the log went.
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        newest = newest_event_id()
        if newest:
            return newest
        sequence = db.session.scalar(text("SELECT pg_get_serial_sequence('events', 'id')"))
        query = f"SELECT last_value, is_called FROM {sequence}"  # noqa: S608 (quoted by PostgreSQL)
        last, called = db.session.execute(text(query)).one()
        return int(last) if called else 0
    return 0
