"""The Huey queue: built on first use, one per app, with the one task netstats runs.

Huey's author keeps the Huey object at module level. Ours is built lazily and kept on the
app instead, because its storage depends on the app's configuration (the instance folder,
``HUEY_URL``) and because constructing a ``SqliteHuey`` creates its tables: the web app only
builds it when it first enqueues a run. The task closes over the app that built the queue,
so the worker process builds its app once and every task pushes its own context.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper

from netstats.config import make_private
from netstats.errors import NetstatsError

TASK_NAME = "netstats.execute_run"
HUEY_FILE = "huey.sqlite"
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


class NetstatsSqliteHuey(_NeverRevoked, SqliteHuey):
    pass


class NetstatsRedisHuey(_NeverRevoked, RedisHuey):
    pass


def build_huey(url: str | None, name: str, instance_path: str) -> Huey:
    """A RedisHuey for a ``redis://`` (or ``rediss://``, ``unix://``) URL, else a SqliteHuey."""
    if url and url.split(":", 1)[0] in ("redis", "rediss", "unix"):
        # Results are never read: the database is where runs report.
        return NetstatsRedisHuey(name, url=url, results=False)
    if url:
        raise ValueError(f"HUEY_URL must be a redis:// URL or empty, not {url!r}")
    # fsync=False: the queue is not the record of runs, the database is. A queue entry lost
    # to an operating-system crash is re-enqueued when the worker starts again.
    filename = os.path.join(instance_path, HUEY_FILE)
    make_private(filename)
    return NetstatsSqliteHuey(name, filename=filename, results=False, fsync=False)


@dataclass(frozen=True)
class Queue:
    """An app's Huey object and the task that executes one run."""

    huey: Huey
    run_task: TaskWrapper


def get_queue(app: Flask | None = None) -> Queue:
    """The app's queue, built (and its task registered) on first use."""
    app = app or current_app._get_current_object()
    queue = app.extensions.get(_EXTENSION)
    if queue is None:
        huey = build_huey(app.config.get("HUEY_URL"), app.config["HUEY_NAME"], app.instance_path)
        queue = Queue(huey, _register_task(huey, app))
        app.extensions[_EXTENSION] = queue
    return queue


def _register_task(huey: Huey, app: Flask) -> TaskWrapper:
    from netstats.execution import execute_run

    @huey.task(name=TASK_NAME)
    def execute_run_task(run_id: int) -> None:
        with app.app_context():
            execute_run(run_id)

    return execute_run_task


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
