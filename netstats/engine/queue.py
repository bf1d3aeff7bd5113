"""The Huey queue: built on first use, one per app, with the one task netstats runs.

Huey's author keeps the Huey object at module level. Ours is built lazily and kept on the
app instead, because its storage depends on the app's configuration (the instance folder,
``HUEY_URL``) and because constructing a ``SqliteHuey`` creates its tables: the web app only
builds it when it first enqueues a run. The task closes over the app that built the queue,
so the worker process builds its app once and every task pushes its own context.

After each commit of the database session, the runs its transaction put in the outbox are
enqueued here. That happens after the commit, so a failure cannot undo the change: it is
logged, and the runs wait in ``scheduled`` until a worker starts and re-enqueues them.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from netstats.config import make_private
from netstats.db import db
from netstats.engine import outbox
from netstats.errors import NetstatsError

if TYPE_CHECKING:
    from huey import Huey
    from huey.api import TaskWrapper

log = logging.getLogger(__name__)

TASK_NAME = "netstats.execute_run"
# Tasks besides a run's, by name: the function ("module:attribute", called in an app context
# with the task's arguments) each runs. Named by string so that the engine imports nothing
# of the services above it that queue work.
TASKS = {"netstats.build_report": "netstats.reports.background:build_report_file"}
HUEY_FILE = "huey.sqlite"
REDIS_SCHEMES = ("redis", "rediss", "unix")
_EXTENSION = "netstats_huey"


class QueueUnavailable(NetstatsError):
    """The queue could not take a run (Redis down, queue file unwritable)."""

    status, code = 503, "queue_unavailable"


class _NeverRevoked:
    """netstats never revokes a task (a run that is no longer wanted ends ``skipped``).

    Huey checks every task for revocation before it runs and clears the flag after: a read
    and a write transaction per task on the queue's one connection, where every worker
    thread queues for its lock. Skipping both is a third of SqliteHuey's work per run.
    """

    def is_revoked(self, task, timestamp=None, peek=True) -> bool:
        return False

    def delete(self, key):
        if key.startswith("r:"):  # Task.revoke_id
            return False
        return super().delete(key)


@functools.cache
def huey_classes() -> tuple[type, type]:
    """Our SqliteHuey and RedisHuey. Huey is imported on first use, not with the app: it
    imports the Redis and PostgreSQL drivers, which a web process that enqueues nothing
    never needs."""
    from huey import RedisHuey, SqliteHuey

    return (
        type("NetstatsSqliteHuey", (_NeverRevoked, SqliteHuey), {}),
        type("NetstatsRedisHuey", (_NeverRevoked, RedisHuey), {}),
    )


def huey_url_problem(url: str | None) -> str | None:
    """What is wrong with a ``HUEY_URL`` setting, or None when it is usable."""
    if not url or url.split(":", 1)[0] in REDIS_SCHEMES:
        return None
    return (
        f"HUEY_URL (NETSTATS_HUEY_URL) must be a redis://, rediss:// or unix:// URL of a Redis "
        f"server, or empty for the SqliteHuey queue in the instance folder; not {url!r}"
    )


def build_huey(url: str | None, name: str, instance_path: str) -> Huey:
    """A RedisHuey for a ``redis://`` (or ``rediss://``, ``unix://``) URL, else a SqliteHuey."""
    problem = huey_url_problem(url)
    if problem:
        raise ValueError(problem)
    sqlite_huey, redis_huey = huey_classes()
    if url:
        # Results are never read: the database is where runs report.
        return redis_huey(name, url=url, results=False)
    # fsync=False: the queue is not the record of runs, the database is. A queue entry lost
    # to an operating-system crash is re-enqueued when the worker starts again.
    filename = os.path.join(instance_path, HUEY_FILE)
    make_private(filename)  # it holds run ids only, but the instance's files are private
    return sqlite_huey(name, filename=filename, results=False, fsync=False)


@dataclass(frozen=True)
class Queue:
    """An app's Huey object and the task that executes one run."""

    huey: Huey
    run_task: TaskWrapper
    tasks: dict[str, TaskWrapper]


def get_queue(app: Flask | None = None) -> Queue:
    """The app's queue, built (and its task registered) on first use."""
    app = app or current_app._get_current_object()
    queue = app.extensions.get(_EXTENSION)
    if queue is None:
        huey = build_huey(app.config.get("HUEY_URL"), app.config["HUEY_NAME"], app.instance_path)
        queue = Queue(huey, _register_task(huey, app), _register_tasks(huey, app))
        app.extensions[_EXTENSION] = queue
    return queue


def _register_task(huey: Huey, app: Flask) -> TaskWrapper:
    from netstats.engine.execution import execute_run

    @huey.task(name=TASK_NAME)
    def execute_run_task(run_id: int) -> None:
        with app.app_context():
            execute_run(run_id)

    return execute_run_task


def _register_tasks(huey: Huey, app: Flask) -> dict[str, TaskWrapper]:
    import importlib

    def register(name: str, target: str) -> TaskWrapper:
        module, _, attribute = target.partition(":")

        @huey.task(name=name)
        def task(*args) -> None:
            with app.app_context():
                getattr(importlib.import_module(module), attribute)(*args)

        return task

    return {name: register(name, target) for name, target in TASKS.items()}


def enqueue_task(name: str, *args, app: Flask | None = None) -> None:
    """Hand one of ``TASKS`` to the queue with its arguments."""
    queue = get_queue(app)
    try:
        queue.huey.enqueue(queue.tasks[name].s(*args))
    except Exception as exc:
        raise QueueUnavailable(f"The task queue is unavailable: {exc}") from exc


def enqueue_runs(runs: Iterable[tuple[int, datetime | None]], app: Flask | None = None) -> None:
    """Hand runs ``(run id, time)`` to the queue; a time in the future waits in its schedule.

    A run enqueued twice is harmless: only one task can move it out of ``scheduled``.
    """
    queue = get_queue(app)
    try:
        for run_id, eta in runs:
            if eta is None:
                queue.huey.enqueue(queue.run_task.s(run_id))
            else:
                # Straight into the schedule: Huey would otherwise queue it, have a worker
                # find it early and move it to the schedule, two round trips per run.
                queue.huey.add_schedule(queue.run_task.s(run_id, eta=eta))
    except Exception as exc:
        raise QueueUnavailable(f"The run queue is unavailable: {exc}") from exc


def _enqueue_committed(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint was released (SQLAlchemy calls this then too): not committed yet
    runs = outbox.take_committed(session)
    if not runs:
        return
    try:
        enqueue_runs(runs)
    except Exception as exc:
        # The transaction has committed: its change stands. The runs stay `scheduled` and a
        # worker re-enqueues every waiting run when it starts.
        log.warning(
            "%d committed run(s) not enqueued, left for the worker to pick up at its start: %s",
            len(runs),
            exc,
        )


def _forget_rolled_back(session: Session) -> None:
    # Only the outermost transaction's rollback drops the runs: a savepoint rolled back
    # (a name clash caught by db.unique_or) leaves the transaction's other runs standing; a
    # run planned inside it and enqueued anyway finds no row and does nothing.
    if session.get_nested_transaction() is None:
        outbox.forget(session)


def init_app(app: Flask) -> None:
    """Refuse an unusable ``HUEY_URL`` now, and enqueue outbox runs after each commit."""
    problem = huey_url_problem(app.config.get("HUEY_URL"))
    if problem:
        from netstats.config import ConfigError

        raise ConfigError(problem)
    if not event.contains(db.session, "after_commit", _enqueue_committed):
        event.listen(db.session, "after_commit", _enqueue_committed)
        event.listen(db.session, "after_rollback", _forget_rolled_back)
