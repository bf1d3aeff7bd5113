"""The event log: what happened, appended in the same transaction as the data it announces.

Live pages follow it (Server-Sent Events); its ids are the events' ids on the stream.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert

from netstats.db import db
from netstats.models import Event


def append(kind: str, payload: dict[str, Any], at: datetime) -> None:
    """Append one event of ``kind`` to the log, in the caller's transaction."""
    db.session.execute(insert(Event), [{"kind": kind, "created_at": at, "payload": payload}])
