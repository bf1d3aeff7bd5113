"""Under gevent (a ``netstats serve`` worker), an SQLite writer waiting for the lock lets the
process's other greenlets run: SQLite's own busy wait would stop them all.

The check runs in a child process, patched by gevent as a gunicorn gevent worker is: a
writer waits while another connection holds the write lock, and a ticker greenlet counts
how often it ran meanwhile.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = """
from gevent import monkey; monkey.patch_all()
import json, sqlite3, sys, time
import gevent
from netstats.app import create_app
from netstats.db import db, write_transaction
from netstats.runtime import under_gevent

app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///" + sys.argv[1],
                  "SQLITE_BUSY_TIMEOUT_MS": 5000})
locker = sqlite3.connect(sys.argv[1], isolation_level=None)
locker.execute("BEGIN IMMEDIATE")
ticks, waited = [], []

def ticker():
    while not waited:
        ticks.append(time.monotonic())
        gevent.sleep(0.02)

def writer():
    started = time.monotonic()
    try:
        with app.app_context(), write_transaction():
            db.session.execute(db.text("SELECT 1"))
    finally:
        waited.append(time.monotonic() - started)

def release():
    gevent.sleep(0.6)
    locker.execute("COMMIT")

gevent.joinall([gevent.spawn(ticker), gevent.spawn(writer), gevent.spawn(release)])
print(json.dumps({"gevent": under_gevent(), "waited": waited[0], "ticks": len(ticks)}))
"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_writer_waiting_for_the_sqlite_lock_lets_other_greenlets_run(database_url):
    path = database_url.removeprefix("sqlite:///")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, path],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
        env={"NETSTATS_INSTANCE_PATH": str(Path(path).parent), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["gevent"] is True
    assert result["waited"] >= 0.5  # it did wait for the lock, not fail
    # The ticker ran all along (every 20 ms over 0.6 s), not once before and once after.
    assert result["ticks"] >= 10
