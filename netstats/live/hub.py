"""The hub: one per web process, it follows the event log and fans it out to every stream.

One thread (a greenlet under gevent) waits on the wake-up channel, then reads everything
after the newest event it has (``id > last``: one query per wake-up, whatever the number of
open streams) into a ring of recent events, and wakes the streams. Each event is formatted
once, as the SSE frame every stream sends. A stream that resumes from an id the ring still
covers is served from memory; from further back it reads the log itself
(``netstats.live.stream``).
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask

from netstats.queries.events import LoggedEvent, events_after, log_position

log = logging.getLogger(__name__)

# Events read from the log per query.
BATCH = 1000
# After a failed read of the log, the hub waits this long before the next (seconds, doubling).
ERROR_PAUSE_S = (0.5, 10.0)


@dataclass(frozen=True)
class Entry:
    """One event as the streams need it: its id, what it concerns, and its SSE frame."""

    id: int
    kind: str
    job_ids: frozenset[int]
    destination_ids: frozenset[int]
    frame: str


def _ids(*values: Any) -> frozenset[int]:
    return frozenset(v for v in values if isinstance(v, int) and not isinstance(v, bool))


def entry_of(event: LoggedEvent) -> Entry:
    """The stream's view of a logged event. It concerns the job ``job_id`` and the
    destinations named by ``destination_id``, ``destination_ids`` and its measurements."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    measured = [
        m.get("destination_id") for m in payload.get("measurements") or () if isinstance(m, dict)
    ]
    listed = payload.get("destination_ids")
    destinations = _ids(
        payload.get("destination_id"), *measured, *(listed if isinstance(listed, list) else ())
    )
    data = json.dumps(payload, separators=(",", ":"), default=str)
    return Entry(
        id=event.id,
        kind=event.kind,
        job_ids=_ids(payload.get("job_id")),
        destination_ids=destinations,
        frame=f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n",
    )


class Hub:
    """The event log of one process, in memory: the newest ``ring_events`` events (and at
    most ``ring_bytes`` of frames), every one after ``floor`` up to ``last``."""

    def __init__(self, app: Flask, channel, ring_events: int, ring_bytes: int):
        self.app = app
        self.channel = channel
        self.ring_events = max(1, ring_events)
        self.ring_bytes = max(1, ring_bytes)
        self.last = 0  # the newest event id read
        self.floor = 0  # the ring holds every event with floor < id <= last
        self.closing = False
        self.streams = 0
        self._cond = threading.Condition()
        self._ids: list[int] = []
        self._entries: list[Entry] = []
        self._start = 0  # entries before it are evicted, awaiting compaction
        self._bytes = 0
        self._thread: threading.Thread | None = None

    # --- the reading thread ------------------------------------------------------------

    def start(self) -> None:
        """Open the wake-up channel, then take the log's position: nothing committed in
        between is missed, as the first wake-up reads it."""
        self.channel.open()
        with self.app.app_context():
            from netstats.db import db

            try:
                self.last = self.floor = log_position()
            finally:
                db.session.remove()
        self._thread = threading.Thread(target=self._run, name="netstats-live-hub", daemon=True)
        self._thread.start()
        log.info(
            "live updates: following the event log from id %d (wake-up: %s)",
            self.last,
            self.channel.name,
        )

    def stop(self) -> None:
        """End every stream and the reading thread."""
        with self._cond:
            self.closing = True
            self._cond.notify_all()
        self.channel.close()

    def _run(self) -> None:
        pause = ERROR_PAUSE_S[0]
        while not self.closing:
            try:
                self.read_log()
                pause = ERROR_PAUSE_S[0]
            except Exception:
                log.exception("live updates: reading the event log failed; again in %.1f s", pause)
                time.sleep(pause)
                pause = min(pause * 2, ERROR_PAUSE_S[1])
                continue
            if not self.closing:
                self.channel.wait()

    def read_log(self) -> int:
        """Read every event after ``last`` into the ring; wake the streams. Returns how many."""
        from netstats.db import db

        count = 0
        with self.app.app_context():
            try:
                while not self.closing:
                    rows = events_after(self.last, BATCH)
                    db.session.close()
                    if rows:
                        self._add([entry_of(row) for row in rows])
                        count += len(rows)
                    if len(rows) < BATCH:
                        break
            finally:
                db.session.remove()
        return count

    def _add(self, entries: list[Entry]) -> None:
        with self._cond:
            for entry in entries:
                self._ids.append(entry.id)
                self._entries.append(entry)
                self._bytes += len(entry.frame)
            self.last = entries[-1].id
            while self._start < len(self._ids) - 1 and (
                len(self._ids) - self._start > self.ring_events or self._bytes > self.ring_bytes
            ):
                self.floor = self._ids[self._start]
                self._bytes -= len(self._entries[self._start].frame)
                self._entries[self._start] = None  # type: ignore[call-overload]
                self._start += 1
            if self._start > len(self._ids) // 2:
                del self._ids[: self._start], self._entries[: self._start]
                self._start = 0
            self._cond.notify_all()

    # --- what the streams ask ----------------------------------------------------------

    def since(self, cursor: int, limit: int) -> tuple[list[Entry], int] | None:
        """Up to ``limit`` events after ``cursor`` from the ring and the cursor after them;
        None when the ring no longer reaches back to ``cursor`` (read the log instead)."""
        with self._cond:
            if cursor < self.floor:
                return None
            i = bisect.bisect_right(self._ids, cursor, lo=self._start)
            entries = self._entries[i : i + limit]
            if len(entries) == limit:
                return entries, entries[-1].id
            return entries, max(cursor, self.last)

    def wait(self, cursor: int, timeout: float) -> bool:
        """Block until an event after ``cursor`` arrives, the hub closes, or ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: self.last > cursor or self.closing, timeout)

    def attach(self) -> None:
        with self._cond:
            self.streams += 1

    def detach(self) -> None:
        with self._cond:
            self.streams -= 1
