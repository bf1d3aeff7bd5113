"""The event log's ids follow commit order, so a reader of ``id > last`` never skips one:
concurrent writers that hold their transaction open after appending, on both databases."""

from __future__ import annotations

import random
import threading
import time

from sqlalchemy import select

from netstats import events
from netstats.db import db, utcnow, write_transaction
from netstats.models import Event

WRITERS, EACH = 4, 12


def test_a_follower_of_id_greater_than_last_misses_no_event_of_concurrent_writers(app):
    done = threading.Event()
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with app.app_context():
                for i in range(EACH):
                    with write_transaction():
                        events.append("run", {"writer": seed, "i": i}, utcnow())
                        # Still open after the insert: without commit-ordered ids, a later
                        # id could commit first and the follower would pass this one by.
                        time.sleep(rng.uniform(0, 0.02))
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    seen: list[int] = []

    def follow() -> None:
        with app.app_context():
            last = 0
            while True:
                finished = done.is_set()
                ids = list(
                    db.session.scalars(select(Event.id).where(Event.id > last).order_by(Event.id))
                )
                db.session.rollback()
                seen.extend(ids)
                last = ids[-1] if ids else last
                if finished:
                    break
                time.sleep(0.001)
            db.session.remove()

    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    follower = threading.Thread(target=follow)
    follower.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    done.set()
    follower.join()
    assert not errors, errors
    with app.app_context():
        every = list(db.session.scalars(select(Event.id).order_by(Event.id)))
    assert len(every) == WRITERS * EACH
    assert seen == every
