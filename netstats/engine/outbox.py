"""Runs to enqueue once the current transaction commits, kept on the session.

Writers (the planner, run now, a retry) put ``(run id, time)`` pairs here inside their
transaction; ``netstats.engine.queue`` hands them to Huey after the commit, and a rollback
forgets them. This module imports nothing of the engine, so every writer may use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from netstats.db import db

PlannedRun = tuple[int, datetime | None]
_KEY = "netstats_runs_to_enqueue"


def enqueue_after_commit(runs: Iterable[PlannedRun]) -> None:
    """Enqueue ``(run id, time)`` pairs once the current transaction commits.

    Not before: a worker could take the task before the row is visible and find nothing.
    Not at all on rollback: the rows are gone.
    """
    db.session.info.setdefault(_KEY, []).extend(runs)


def take_committed(session: Session) -> list[PlannedRun]:
    """The runs waiting on ``session``, removed from it (called after its commit)."""
    return session.info.pop(_KEY, None) or []


def forget(session: Session) -> None:
    """Drop the runs of a transaction that rolled back."""
    session.info.pop(_KEY, None)
