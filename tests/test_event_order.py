"""Event ids follow commit order on PostgreSQL, so a reader following ``id > last`` misses
nothing, whatever number of processes commit events at once.

A sequence value is drawn at insert and becomes visible at commit: two writers can commit
101 before 100, and a reader that has seen 101 never looks at 100 again. The writers here
are separate processes (tests/event_writer.py) writing through ``netstats.events``; the
reader is the live hub of the web process (``Hub.read_log``: one ``id > last`` query).
With the lock turned off (``--no-lock``), the first test shows the skip happen.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from netstats.db import db
from netstats.live.hub import Hub
from netstats.live.wakeup import Poll
from netstats.models import Event

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

ROOT = Path(__file__).resolve().parents[1]


def writer(database_url: str, instance_path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_") or "TEST" in k}
    env |= {"NETSTATS_DATABASE_URL": database_url, "NETSTATS_INSTANCE_PATH": str(instance_path)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.event_writer", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def follower(app) -> Hub:
    """The web process's reader of the log, read by hand (no thread)."""
    hub = Hub(app, Poll(60), ring_events=100_000, ring_bytes=1 << 30)
    with app.app_context():
        from netstats.queries.events import log_position

        hub.last = hub.floor = log_position()
        db.session.remove()
    return hub


def logged_ids(app) -> list[int]:
    with app.app_context():
        ids = list(db.session.scalars(select(Event.id).order_by(Event.id)))
        db.session.remove()
    return ids


def waiting_for_the_lock(app) -> bool:
    with app.app_context():
        waiting = db.session.scalar(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        )
        db.session.remove()
    return bool(waiting)


def wait_until(condition, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("lock", [True, False], ids=["commit-order lock", "plain sequence"])
def test_a_later_id_committed_first_is_not_skipped_by_a_follower(
    app, database_url, instance_path, lock
):
    flags = () if lock else ("--no-lock",)
    hub = follower(app)
    first = writer(database_url, instance_path, "--pause", *flags)
    try:
        assert first.stdout.readline().strip() == "inserted"  # its id is drawn, not committed
        second = writer(database_url, instance_path, *flags)
        if lock:
            wait_until(lambda: waiting_for_the_lock(app), "the second writer to wait for the lock")
        else:
            assert second.wait(30) == 0  # committed: its id is above the first's
        hub.read_log()  # the follower looks now
        first.stdin.write("\n")
        first.stdin.flush()
        assert first.wait(30) == 0
        assert second.wait(30) == 0
    finally:
        if first.poll() is None:
            first.kill()
    hub.read_log()
    seen = hub.since(0, 100)[0]
    logged = logged_ids(app)
    assert len(logged) == 2
    if lock:
        assert [e.id for e in seen] == logged
    else:
        # What the lock prevents: the first writer's event, committed last, is never seen.
        assert [e.id for e in seen] == [logged[1]]


def test_events_of_concurrent_writer_processes_reach_a_follower_all_once_in_order(
    app, database_url, instance_path
):
    hub = follower(app)
    writers = [
        writer(database_url, instance_path, "--count", "40", "--hold-ms", "15") for _ in range(4)
    ]
    try:
        while any(w.poll() is None for w in writers):
            hub.read_log()
    finally:
        for w in writers:
            w.wait(60)
    assert [w.returncode for w in writers] == [0, 0, 0, 0]
    hub.read_log()
    seen = [e.id for e in hub.since(0, 1000)[0]]
    assert len(seen) == 160
    assert seen == logged_ids(app)  # every one, each once, in id order
