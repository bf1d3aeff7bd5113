"""The event log: what happened, appended in the same transaction as the data it announces.

Live pages follow it (Server-Sent Events); its ids are the events' ids on the stream. Readers
(the live pages, the rollup pass) ask for ``id > last seen``, which is only safe when ids
become visible in the order they are drawn. On SQLite one writer at a time makes it so. On
PostgreSQL a sequence value drawn at insert becomes visible at commit, so two writers could
commit 101 before 100 and a reader that saw 101 would skip 100 forever: the insert takes a
transaction-level advisory lock first, held until commit, so ids are drawn in commit order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, text

from netstats.db import db
from netstats.models import Event

# pg_advisory_xact_lock key: the bytes of "netstats" as a signed 64-bit integer.
LOCK_KEY = int.from_bytes(b"netstats", "big")


def append(kind: str, payload: dict[str, Any], at: datetime) -> None:
    """Append one event of ``kind`` to the log, in the caller's transaction.

    Call it last in the transaction: on PostgreSQL it holds the log's lock until commit.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    db.session.execute(insert(Event), [{"kind": kind, "created_at": at, "payload": payload}])
