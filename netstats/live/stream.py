"""One Server-Sent Events stream: replay from where the client left off, then follow the hub.

The first chunk goes out at once (``retry:`` and a comment): gunicorn sends the response
headers with the first body chunk, so a stream that waited for its first event would keep
the browser (and any proxy) waiting for its headers too. Then every matching event, with the
log id as its SSE ``id``; a ``: keepalive`` comment every keep-alive period, when the
caller's right to read is checked again (a revoked token's stream ends there). Resuming
from an id the hub's ring covers costs nothing; from further back, the log is read in
batches; from before the oldest event kept, the client gets ``event: reset`` and the stream
goes on from now.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from netstats.live.hub import BATCH, Entry, Hub, entry_of

log = logging.getLogger(__name__)

RETRY_MS = 5000


@dataclass(frozen=True)
class Subscription:
    """What a stream wants: events of these kinds, jobs and destinations (empty: any)."""

    kinds: frozenset[str] = frozenset()
    jobs: frozenset[int] = frozenset()
    destinations: frozenset[int] = frozenset()

    def matches(self, entry: Entry) -> bool:
        return (
            (not self.kinds or entry.kind in self.kinds)
            and (not self.jobs or not self.jobs.isdisjoint(entry.job_ids))
            and (not self.destinations or not self.destinations.isdisjoint(entry.destination_ids))
        )


def reset_frame(at: int, after: int, oldest: int | None) -> str:
    """The event that tells a client its history is gone: reload, then follow from ``at``."""
    data = json.dumps({"after": after, "oldest": oldest, "last": at})
    return f"id: {at}\nevent: reset\ndata: {data}\n\n"


def stream_events(
    hub: Hub,
    cursor: int | None,
    subscription: Subscription,
    keepalive_s: float,
    still_allowed: Callable[[], bool],
) -> Iterator[str]:
    """The body of one stream: events after ``cursor`` (None: from now on) that match.

    Runs inside the request's context (the log is read through the session, released after
    each read, so an open stream holds no database connection).
    """
    hub.attach()
    try:
        yield f"retry: {RETRY_MS}\n: netstats events\n\n"
        yield from _follow(hub, cursor, subscription, keepalive_s, still_allowed)
    except SQLAlchemyError as exc:
        # The client reconnects (after the retry delay) and resumes where it was.
        log.warning("live updates: a stream ends, the database failed: %s", exc)
    finally:
        hub.detach()


def _follow(
    hub: Hub,
    cursor: int | None,
    subscription: Subscription,
    keepalive_s: float,
    still_allowed: Callable[[], bool],
) -> Iterator[str]:
    if cursor is None:
        cursor = hub.last
    if cursor > hub.last:
        reset, cursor = _ahead_of_hub(hub, cursor)
        if reset:
            yield reset
    # The first keep-alive comes at a random point of the period, so that streams opened
    # together (a reconnect storm) do not all send theirs, and check their caller, at once.
    next_check = time.monotonic() + keepalive_s * random.uniform(0.5, 1.0)  # noqa: S311
    while not hub.closing:
        found = hub.since(cursor, BATCH)
        if found is None:
            chunk, cursor = _from_log(hub, cursor, subscription)
            if chunk:
                yield chunk
            continue
        entries, cursor = found
        if entries:
            chunk = "".join(e.frame for e in entries if subscription.matches(e))
            if chunk:
                yield chunk
            continue
        remaining = next_check - time.monotonic()
        if remaining > 0:
            hub.wait(cursor, remaining)
            continue
        if not still_allowed():
            yield ": access revoked\n\n"
            return
        yield ": keepalive\n\n"
        next_check = time.monotonic() + keepalive_s


def _from_log(hub: Hub, cursor: int, subscription: Subscription) -> tuple[str, int]:
    """Events after ``cursor`` that the ring no longer holds, one batch from the log; or a
    reset when some of them are past the log's retention."""
    from netstats.db import db
    from netstats.queries.events import events_after, oldest_event_id

    upto = hub.floor
    try:
        oldest = oldest_event_id()
        # Ids up to the hub's floor were given out: if the log no longer reaches down to the
        # one after the cursor, some of them were deleted by retention.
        if oldest is None or oldest > cursor + 1:
            return reset_frame(hub.last, cursor, oldest), hub.last
        rows = events_after(cursor, BATCH, upto=upto)
    finally:
        db.session.close()
    entries = [entry_of(row) for row in rows]
    moved = entries[-1].id if len(rows) == BATCH else upto
    return "".join(e.frame for e in entries if subscription.matches(e)), moved


def _ahead_of_hub(hub: Hub, cursor: int) -> tuple[str, int]:
    """A cursor beyond the newest event this process has read. Another process may have
    served it a moment earlier (wait for the hub), unless the log itself does not reach it:
    an id from a restored backup or another installation gets a reset."""
    from netstats.db import db
    from netstats.queries.events import log_position, oldest_event_id

    try:
        position = log_position()
        oldest = oldest_event_id() if cursor > position else None
    finally:
        db.session.close()
    if cursor > position:
        return reset_frame(position, cursor, oldest), position
    return "", cursor
