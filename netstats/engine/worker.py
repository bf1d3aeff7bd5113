"""The worker process: Huey's consumer tuned for second-resolution jobs, plus the planner.

Huey's defaults are made for background jobs, not for measurements due at a given second:

- Its scheduler moves due tasks to the queue once a second (1 s at the least): runs would
  start up to a second late. ``SCHEDULER_TICK_S`` = 0.1 s here.
- An idle worker thread polls a ``SqliteHuey`` queue with a backoff that grows to 10 s
  (measured pickup after idle: 2.5 to 9 s). Here polling starts at 50 ms and backs off to
  ``MAX_POLL_DELAY_S`` = 0.2 s: an idle poll is one indexed SELECT, cheap at that rate.
  (``RedisHuey`` blocks on BRPOP and needs no polling.)
- Periodic tasks have minute resolution and only one consumer may run them. netstats uses
  none: each worker runs a planner thread that plans ``netstats.engine.planner.HORIZON`` ahead every
  ``PLAN_EVERY_S``. Any number of workers may plan at once: the (job, time) uniqueness of
  ``job_runs`` lets each run in once.
- SIGTERM and SIGINT both stop gracefully: no new run starts, runs in progress finish (each
  within its timeout); a second signal stops at once.
"""

from __future__ import annotations

import logging
import signal
import threading

from flask import Flask
from huey.consumer import Consumer, Scheduler

from netstats.db import db, write_transaction
from netstats.engine.planner import HORIZON, PLAN_EVERY_S, pending_runs, plan, skip_missed
from netstats.engine.queue import enqueue_runs, get_queue
from netstats.engine.recovery import abandon_orphans

log = logging.getLogger(__name__)

SCHEDULER_TICK_S = 0.1
INITIAL_POLL_DELAY_S = 0.05
POLL_BACKOFF = 1.5
MAX_POLL_DELAY_S = 0.2
# Runs in progress get this long to finish after a stop signal.
SHUTDOWN_TIMEOUT_S = 120.0


class FineScheduler(Scheduler):
    """Huey's scheduler with a tick below its one-second floor."""

    def __init__(self, huey, stop_flag, interval, periodic):
        super().__init__(huey, stop_flag, interval, periodic)
        self.interval = SCHEDULER_TICK_S


class NetstatsConsumer(Consumer):
    """Huey's consumer with the fine scheduler and a graceful stop on SIGTERM and SIGINT."""

    scheduler_class = FineScheduler

    def __init__(self, huey, workers: int):
        super().__init__(
            huey,
            workers=workers,
            periodic=False,
            initial_delay=INITIAL_POLL_DELAY_S,
            backoff=POLL_BACKOFF,
            max_delay=MAX_POLL_DELAY_S,
            worker_type="thread",
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        )
        # Huey validates its interval as whole seconds and builds the scheduler with it; the
        # fine scheduler ticks faster, and Huey's start-up line should say so.
        self.scheduler_interval = SCHEDULER_TICK_S
        # Huey's table of signal -> (restart, graceful); only SIGINT is graceful by default.
        self._signal_actions[signal.SIGTERM] = (False, True)
        self._signal_actions[signal.SIGINT] = (False, True)


class PlannerThread(threading.Thread):
    """Every ``PLAN_EVERY_S``: end orphaned and lost runs, plan ahead, enqueue what is new."""

    def __init__(self, app: Flask, stop: threading.Event, every: float = PLAN_EVERY_S):
        super().__init__(name="Planner", daemon=True)
        self.app, self.stop, self.every = app, stop, every

    def run(self) -> None:
        while not self.stop.is_set():
            self.tick()
            self.stop.wait(self.every)

    def tick(self) -> None:
        """One planner pass; a failure (database away) is logged and the next pass retries."""
        with self.app.app_context():
            try:
                abandon_orphans()
                with write_transaction():
                    skip_missed()
                    plan()
            except Exception:
                log.exception("planner pass failed; next pass in %.0f s", self.every)


def recover(app: Flask) -> None:
    """At start: end the runs a dead worker left running, re-enqueue every waiting run."""
    with app.app_context():
        abandoned = abandon_orphans()
        if abandoned:
            log.warning("marked %d orphaned run(s) abandoned: %s", len(abandoned), abandoned)
        # Their tasks may be lost (Redis flushed, a crash between commit and enqueue); a
        # duplicate task is harmless.
        enqueue_runs(pending_runs(), app)
        db.session.commit()


def run_worker(app: Flask, threads: int) -> None:
    """Run the consumer and the planner until a stop signal."""
    queue = get_queue(app)
    consumer = NetstatsConsumer(queue.huey, workers=threads)
    recover(app)
    log.info(
        "netstats worker: %d threads; idle poll at most %.2f s; planning %.0f s ahead every "
        "%.0f s; one line per finished run",
        threads,
        MAX_POLL_DELAY_S,
        HORIZON.total_seconds(),
        PLAN_EVERY_S,
    )
    planner = PlannerThread(app, consumer.stop_flag)
    planner.start()
    consumer.run()
    planner.join(timeout=PLAN_EVERY_S + 5)
