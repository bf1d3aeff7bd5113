"""A writer process for tests/test_event_order.py: commits events through netstats.events.

    python -m tests.event_writer [--count N] [--hold-ms MS] [--pause] [--no-lock]

It writes to the database of ``NETSTATS_DATABASE_URL``, one event per write transaction.
``--hold-ms`` sleeps up to MS milliseconds after each event insert, before the commit (the
time a real run's transaction takes to finish); ``--pause`` prints "inserted" there and
waits for a line on stdin; ``--no-lock`` turns off the commit-order lock, to show what it
prevents.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--hold-ms", type=float, default=0.0)
    parser.add_argument("--pause", action="store_true")
    parser.add_argument("--no-lock", action="store_true")
    args = parser.parse_args()

    from sqlalchemy import event

    from netstats import events
    from netstats.app import create_app
    from netstats.db import db, utcnow, write_transaction

    if args.no_lock:
        events._COMMIT_ORDER_LOCK = False
    app = create_app()

    def after_insert(conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip().upper().startswith("INSERT INTO EVENTS"):
            return
        if args.pause:
            print("inserted", flush=True)
            sys.stdin.readline()
        elif args.hold_ms:
            time.sleep(random.uniform(0, args.hold_ms) / 1000)

    with app.app_context():
        event.listen(db.engine, "after_cursor_execute", after_insert)
        for n in range(args.count):
            with write_transaction():
                events.append("run", {"writer": os.getpid(), "n": n}, utcnow())
        db.session.remove()
        db.engine.dispose()
    print("done", flush=True)


if __name__ == "__main__":
    main()
